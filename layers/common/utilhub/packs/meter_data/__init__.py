"""CCB <-> MDM: master data sync (MD-01..10, MD-18), billing processes (MD-11..17, MD-19..21)."""
