"""Field work pack: CCB <-> MWM <-> WAM/ODM field activities (FW-01 ... FW-11)."""
