"""Simulators of the applications the hub connects, on one base (:mod:`localhub.simulators.base`)."""
