"""The detector settings the committed action-unit and transfer reports were measured with."""
from __future__ import annotations

from typing import Dict

#: Keypoints as the whole-frame pass gives them. Since 2026-12-07 ``edgekit.PipelineOptions`` turns the
#: close-up pass and luma keypoints on for photos (image mode); the AU and transfer checks pass these
#: settings so that re-running them reproduces their committed reports.
UNREFINED: Dict[str, bool] = {"close_up": False, "luma_keypoints": False}
