"""Platform services shared by every pack."""
