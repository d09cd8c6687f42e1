"""Order to cash (seed 004): synchronize fulfillment order billing account (OC-01) and its result query (OC-02)."""
