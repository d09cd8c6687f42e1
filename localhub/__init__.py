"""The local runtime: the whole hub on one machine, derived from ``template.yaml``.

Not part of the Lambda layer; used by ``make run`` and by the integration and e2e tests.
"""
