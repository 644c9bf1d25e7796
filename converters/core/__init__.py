"""The toolchain's shared core: what every model's pipeline (emotion, identity, caption) uses.

Standard library only at import time (like :mod:`converters.core.paths` and
:mod:`converters.core.provenance`, which the benchmarks import too); the modules that need
TensorFlow import it through :mod:`converters.core.tfenv`. The core imports ``edgekit`` but none
of the pipelines (``tests/runtime/test_architecture.py``).
"""
