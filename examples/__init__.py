"""Examples of the hub in use, driven over HTTP as an integration team would: `make demo` runs :mod:`examples.demo`."""
