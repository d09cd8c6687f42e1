"""Customer pack: Siebel Energy -> CCB customer create/synchronize (CU-01) and update (CU-02)."""
