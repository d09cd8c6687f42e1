"""The meter data pack's billing points: usage and bill determinants (MD-11, MD-12, MD-14, MD-15), usage requests of a bill run
(MD-11), bill cycle requests and usage adjustments, and the billing events relayed between CCB and MDM (MD-13, MD-16, MD-20)."""
