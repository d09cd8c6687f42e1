"""The ``utilhub`` command line: an operator's view of a hub through its operations API (docs/operations.md#cli)."""
