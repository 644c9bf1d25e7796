"""edgekit: on-device facial emotion analysis (MediaPipe BlazeFace + an INT8 emotion classifier
on LiteRT), without TensorFlow at run time.

>>> import edgekit
>>> faces = edgekit.analyze("photo.jpg")            # list[FaceResult], [] when no face
>>> faces[0].emotion.label, faces[0].box

Importing edgekit has no side effects and is cheap: the public names below are imported on
first use (PEP 562), so ``edgekit --version`` or ``import edgekit.errors`` do not load numpy,
OpenCV or LiteRT. Nothing here ever imports TensorFlow or MediaPipe.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Dict, List

from ._version import __version__
from .errors import (
    ConfigError,
    EdgekitError,
    FontError,
    ImageReadError,
    InputError,
    ModelError,
    ModelIntegrityError,
    NoFaceError,
    VideoReadError,
)

#: Public name -> submodule defining it, imported on first attribute access.
_LAZY: Dict[str, str] = {
    "analyze": "pipeline",
    "Pipeline": "pipeline",
    "PipelineOptions": "task_options",
    "FaceDetector": "detection",
    "FaceDetectorOptions": "task_options",
    "FaceAligner": "alignment",
    "EmotionClassifier": "emotion",
    "load_image": "imageio",
    "BoundingBox": "results",
    "Detection": "results",
    "EmotionResult": "results",
    "FaceResult": "results",
    "FrameResult": "results",
    "StageTimings": "results",
    "Captioner": "captioning",
    "Caption": "captioning",
    "caption": "captioning",
    "caption_styles": "captioning",
    "restyle": "captioning",
    "FaceMesh": "facemesh",
    "FaceLandmarks": "facemesh",
    "ExpressionTransfer": "transfer",
    "TransferResult": "transfer",
    "transfer_expression": "transfer",
    "exaggerate_expression": "transfer",
    "emotion_timeline": "timeline",
    "save_timeline": "timeline",
    "Timeline": "timeline",
    "AlertRule": "timeline",
    "make_meme": "meme",
    "meme_styles": "meme",
    "make_gif": "meme",
    "make_memes": "meme",
    "render_caption": "meme",
    "Meme": "meme",
    "AnimatedMeme": "meme",
    "suggest": "suggestions",
    "SuggestResult": "suggestions",
    "FeedbackStore": "personalize",
    "FaceIdentifier": "identity",
    "IdentityResult": "results",
    "explain": "explaining",
    "Explainer": "explaining",
    "ActionUnits": "aus",
    "ActionUnitReader": "aus",
    # the options of each task (light: importing them loads no numpy, OpenCV or LiteRT)
    "EmotionClassifierOptions": "task_options",
    "FaceIdentifierOptions": "task_options",
    "FaceMeshOptions": "task_options",
    "CaptionerOptions": "task_options",
    "ExplainerOptions": "task_options",
    "ActionUnitReaderOptions": "task_options",
}

__all__ = [
    "__version__",
    *_LAZY,
    "EdgekitError",
    "InputError",
    "ImageReadError",
    "VideoReadError",
    "ConfigError",
    "ModelError",
    "ModelIntegrityError",
    "NoFaceError",
    "FontError",
]

if TYPE_CHECKING:  # static tools see the real names (re-exports: F401 does not apply)
    from .alignment import FaceAligner  # noqa: F401
    from .facemesh import FaceLandmarks, FaceMesh  # noqa: F401
    from .timeline import AlertRule, Timeline, emotion_timeline, save_timeline  # noqa: F401
    from .transfer import ExpressionTransfer, TransferResult, exaggerate_expression, transfer_expression  # noqa: F401
    from .captioning import Caption, Captioner, caption, caption_styles, restyle  # noqa: F401
    from .meme import AnimatedMeme, Meme, make_gif, make_meme, make_memes, meme_styles, render_caption  # noqa: F401
    from .personalize import FeedbackStore  # noqa: F401
    from .suggestions import SuggestResult, suggest  # noqa: F401
    from .detection import FaceDetector  # noqa: F401
    from .emotion import EmotionClassifier  # noqa: F401
    from .imageio import load_image  # noqa: F401
    from .pipeline import Pipeline, analyze  # noqa: F401
    from .task_options import ActionUnitReaderOptions, CaptionerOptions, EmotionClassifierOptions  # noqa: F401
    from .task_options import ExplainerOptions  # noqa: F401
    from .task_options import FaceDetectorOptions, FaceIdentifierOptions, FaceMeshOptions, PipelineOptions  # noqa: F401
    from .results import BoundingBox, Detection, EmotionResult, FaceResult, FrameResult, StageTimings  # noqa: F401
    from .identity import FaceIdentifier  # noqa: F401
    from .results import IdentityResult  # noqa: F401
    from .explaining import Explainer, explain  # noqa: F401
    from .aus import ActionUnitReader, ActionUnits  # noqa: F401


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'edgekit' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(_LAZY))
