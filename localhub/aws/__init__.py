"""The AWS services the hub uses, locally: moto's server with our changes, resources from the template, Step Functions, schedules, IAM checks, throttling."""
