"""Where the eyes go in an identity crop: the face-recognition framing, wider than the emotion one.

The crop keeps forehead and chin (the standard 112x112 ArcFace template's eye positions,
38.29/112 and 73.53/112 across, 51.6/112 down), so the embedding sees the whole face. The
identity toolchain aligns its training faces with exactly this template and
:class:`edgekit.FaceAligner`, so training and run time share one code path.
"""
from __future__ import annotations

from ..alignment import AlignmentTemplate

IDENTITY_TEMPLATE = AlignmentTemplate(image_left_eye=(0.3419, 0.4609), image_right_eye=(0.6565, 0.4609))

__all__ = ["IDENTITY_TEMPLATE"]
