"""Order to cash (Oracle's Communications Order to Cash Integration Pack): synchronize fulfillment order billing
account (OC-01) and its result query (OC-02)."""
