"""One package per integration pack. A pack never imports another pack."""
