"""Meme captions from a face's emotion, on device: a tiny GPT-2 (INT8, KV cache) on LiteRT.

``edgekit.captioning`` never imports TensorFlow. The model is trained by ``converters.caption``
on the project's own caption library (``edgekit/assets/captions/library.tsv``), which is also
the fallback when a generated caption fails the checks (too long, blocklisted, wrong language,
repeated).
"""
from ..task_options import CaptionerOptions
from .api import caption, caption_styles, default_captioner, restyle
from .captioner import Caption, Captioner
from .inputs import MAX_N
from .sampling import SamplingOptions
from .taxonomy import EMOTIONS, LANGS, SCENES, STYLES

__all__ = ["Caption", "Captioner", "CaptionerOptions", "SamplingOptions", "caption", "caption_styles", "restyle",
           "default_captioner", "EMOTIONS", "STYLES", "SCENES", "LANGS", "MAX_N"]
