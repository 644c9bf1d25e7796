"""Where the caption toolchain reads and writes (under the repository root, `converters.core.paths.ROOT`)."""

from converters.core.paths import ROOT
from edgekit.captioning.library import BLOCKLIST_PATH, LIBRARY_PATH

WORK = ROOT / "build" / "caption"
MODELS = ROOT / "edgekit" / "models"
TOKENIZER = MODELS / "caption_tokenizer.json"
SHIPPED_MODEL = MODELS / "caption_gpt2_int8.tflite"
REPORT_DIR = ROOT / "reports" / "caption"
FLOAT_CKPT = WORK / "float"
PRUNED_CKPT = WORK / "pruned"
CORPUS = ROOT / "converters" / "caption" / "corpus"

__all__ = ["ROOT", "WORK", "MODELS", "TOKENIZER", "SHIPPED_MODEL", "REPORT_DIR", "FLOAT_CKPT", "PRUNED_CKPT", "CORPUS",
           "LIBRARY_PATH", "BLOCKLIST_PATH"]
