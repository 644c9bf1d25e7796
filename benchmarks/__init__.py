"""Benchmark harnesses for edgekit (``python -m benchmarks.host``); results in ``benchmarks/results/``.

:mod:`benchmarks.report` defines the JSON schema every harness writes.
"""
