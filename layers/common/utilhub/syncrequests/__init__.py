"""The sync request engine, shared by every flow that keeps a target in step with a source
(MD-01..10 and MD-18 to MDM, FW-06 to WAM/ODM, DA-02 to DACS).

Lifecycle (docs/sync-requests.md): ``PENDING`` -> ``DISCARDED`` (unchanged, or older than what
was sent) or ``SENT`` -> ``SYNCHRONIZED`` (positive acknowledgement) or ``ERROR`` (negative
acknowledgement, refusal, or no acknowledgement in time); ``ERROR`` -> ``PENDING`` on
resubmission. One request per entity and target in flight; later ones wait.
"""
