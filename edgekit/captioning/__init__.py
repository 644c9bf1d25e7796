"""Meme captions from a face's emotion, on device.

By default (``source="library"``) a caption is an authored line of the project's caption library
(``edgekit/assets/captions/library.tsv``): blind reviewers rated those lines far above the caption
model (``reports/caption_review/FINDINGS.md``). ``source="model"`` generates captions with a tiny
GPT-2 (INT8, KV cache) on LiteRT, trained by ``converters.caption`` on that library, which is then
the fallback when a generated caption fails the checks (too long, blocklisted, wrong language,
repeated). ``edgekit.captioning`` never imports TensorFlow.
"""
from ..task_options import CaptionerOptions
from .api import caption, caption_styles, default_captioner, restyle
from .captioner import Caption, Captioner
from .inputs import MAX_N
from .sampling import SamplingOptions
from .taxonomy import EMOTIONS, LANGS, SCENES, STYLES

__all__ = ["Caption", "Captioner", "CaptionerOptions", "SamplingOptions", "caption", "caption_styles", "restyle",
           "default_captioner", "EMOTIONS", "STYLES", "SCENES", "LANGS", "MAX_N"]
