"""Benchmark harnesses for edgekit; results in ``benchmarks/results/`` (see docs/benchmarks.md).

- ``python -m benchmarks.host``: this machine (``make bench``);
- ``python -m benchmarks.adb``: Android devices over ADB with TFLite's ``benchmark_model``;
- ``python -m benchmarks.jetson``: NVIDIA Jetson boards (``jetson/run.sh``).

:mod:`benchmarks.report` defines the JSON schema every harness writes; :mod:`benchmarks.parsers`
reads the external tools' outputs.
"""
