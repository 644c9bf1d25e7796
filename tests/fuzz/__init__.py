"""Fuzz targets over edgekit's public inputs (hypothesis), shared by the short seeded run in the
test suite (``tests/reliability/test_reliability_fuzz.py``) and the fixed-budget runner
(``python tests/fuzz/fuzz_inputs.py --minutes 5``)."""
