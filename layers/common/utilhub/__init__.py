"""utilhub: the library behind every integration point of the hub.

Layout:
- ``platform``: what every pack stands on (settings, AWS clients, observability,
  problem details, hardened XML, HTTP API plumbing, idempotency, cross-references,
  connectors).
- ``syncrequests``: the sync request engine (intake, monitor, delivery, acknowledgement).
- ``packs``: one package per integration pack (canonical models, codecs, mappings, flows).
- ``schemas``: the XSDs of the applications' XML messages.

Nothing here needs AWS to import; AWS resources are injected or created lazily.
"""
