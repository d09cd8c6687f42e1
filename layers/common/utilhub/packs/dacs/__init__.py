"""DACS pack: CCB persons, service points and service agreements to DACS contacts, metered service
points and metered services as tab-delimited extract files (DA-01..04)."""
