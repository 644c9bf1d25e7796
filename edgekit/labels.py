"""The 8 FER+ emotion labels in the order of the emotion models' outputs: one constant for the
runtime, the toolchain and the tests."""
from typing import Tuple

EMOTIONS: Tuple[str, ...] = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt")
