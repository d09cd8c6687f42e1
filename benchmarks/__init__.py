"""Benchmarks of the hub against its floors: CPU, import time, AWS calls, cost per message.

Run with ``make bench`` (``python -m benchmarks``; ``--quick`` for a short run). Every figure
is compared with a floor measured in the same run, so the ratios are what to read: the
machine may be shared and noisy, the ratios hold. See docs/performance.md.
"""
