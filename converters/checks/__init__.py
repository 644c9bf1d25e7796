"""Checks of the runtime against references and the data, each one command that writes a report:
``python -m converters.checks.<name>``.

- ``validate_detector``: BlazeFace through LiteRT vs ``mediapipe.solutions`` (``reports/detection/``).
- ``calibrate_alignment``: where BlazeFace puts the eyes in FER+ crops -> the aligner's template
  (``reports/alignment/``).
- ``check_facemesh``: the 468-landmark mesh vs ``mediapipe.solutions`` (``reports/facemesh/``).
- ``build_neutral_mesh``: the neutral reference mesh of expression transfer (``edgekit/assets/``,
  ``reports/transfer/neutral_mesh.json``).
- ``evaluate_transfer``: does the shipped classifier read the transferred expressions
  (``reports/transfer/``).

They use :mod:`converters.core` and ``edgekit``; none needs TensorFlow.
"""
