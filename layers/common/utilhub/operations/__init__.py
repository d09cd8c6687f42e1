"""The operator's surface of the hub: what failed, and running it again."""
