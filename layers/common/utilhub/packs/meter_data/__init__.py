"""CCB <-> MDM (seed 002): master data sync (MD-01..10, MD-18) and, in later issues, billing processes."""
