"""Lambda locally: the runtime that runs a handler as Lambda would, execution environments as processes, and the event sources (SQS pollers, schedules)."""
