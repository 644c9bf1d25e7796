"""What every TensorFlow toolchain report records about the machine and the toolchain it ran on."""
from __future__ import annotations

import datetime as dt
import os
import platform
from importlib.metadata import version

import numpy as np

from converters.core.paths import ROOT
from converters.core.provenance import cpu_model, git_sha


def host_info() -> dict:
    """Date, git SHA, platform, CPU and the versions of TensorFlow, tfmot, mediapipe, LiteRT, numpy, OpenCV."""
    import cv2
    import mediapipe  # noqa: F401  (version only; the toolchain may import it)
    import tensorflow_model_optimization as tfmot

    from converters.core.tfenv import tf

    return {
        "date_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "git_sha": git_sha(ROOT), "platform": platform.platform(), "cpu": cpu_model(), "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None, "python": platform.python_version(),
        "versions": {"tensorflow": tf.__version__, "tf_keras": version("tf-keras"), "tfmot": tfmot.__version__,
                     "mediapipe": version("mediapipe"), "ai_edge_litert": version("ai-edge-litert"),
                     "numpy": np.__version__, "opencv": cv2.__version__},
    }
