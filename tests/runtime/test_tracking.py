"""IoU tracking (stable ids, new faces, expiry, keypoint fallback) and timestamp-aware EMA smoothing."""
from __future__ import annotations

import math

import numpy as np
import pytest

from edgekit.errors import ConfigError
from edgekit.results import BoundingBox, Detection
from edgekit.tracking import IouTracker, ProbabilityEma


def face(x: float, y: float, size: float = 100.0) -> Detection:
    """A detection with a square box at (x, y) and keypoints placed inside it like a face's."""
    rel = [(0.3, 0.35), (0.7, 0.35), (0.5, 0.55), (0.5, 0.75), (0.05, 0.4), (0.95, 0.4)]
    kps = tuple((x + u * size, y + v * size) for u, v in rel)
    return Detection(BoundingBox(x, y, size, size), kps, 0.9)


def ids(tracker: IouTracker, dets, t_ms: float):
    return [t.track_id for t in tracker.update(dets, t_ms)]


def test_ids_stay_stable_while_two_faces_move():
    tr = IouTracker(iou_threshold=0.3, max_missed_frames=2)
    seen = [ids(tr, [face(10 + 6 * i, 20), face(400 - 5 * i, 60 + 2 * i)], i * 33.3) for i in range(30)]
    assert seen[0] == [1, 2]
    assert all(s == [1, 2] for s in seen)


def test_detection_order_does_not_matter():
    tr = IouTracker()
    a, b = face(0, 0), face(300, 0)
    assert ids(tr, [a, b], 0) == [1, 2]
    assert ids(tr, [face(304, 2), face(3, 1)], 33) == [2, 1]


def test_new_face_gets_a_new_id():
    tr = IouTracker()
    assert ids(tr, [face(0, 0)], 0) == [1]
    assert ids(tr, [face(4, 0), face(300, 300)], 33) == [1, 2]
    assert ids(tr, [face(8, 0), face(302, 300), face(600, 0)], 66) == [1, 2, 3]


def test_track_survives_short_gaps_and_expires_after_max_missed_frames():
    tr = IouTracker(max_missed_frames=3)
    assert ids(tr, [face(0, 0)], 0) == [1]
    for i in range(3):  # 3 missed frames: still alive
        assert ids(tr, [], 33 * (i + 1)) == []
    assert [t.track_id for t in tr.tracks] == [1]
    assert ids(tr, [face(2, 0)], 150) == [1]
    for i in range(4):  # 4 missed frames: expired
        ids(tr, [], 200 + 33 * i)
    assert tr.tracks == []
    assert ids(tr, [face(2, 0)], 400) == [2]  # ids are never reused


def test_keypoints_rescue_fast_motion_below_the_iou_threshold():
    jump = [face(0, 0), face(55, 0)]  # IoU of the boxes = 0.29, keypoints moved 0.55 box widths
    assert jump[0].box.iou(jump[1].box) < 0.3
    with_kp = IouTracker(iou_threshold=0.3, keypoint_gate=0.6)
    without = IouTracker(iou_threshold=0.3, keypoint_gate=0.0)
    assert [ids(with_kp, [d], i * 33) for i, d in enumerate(jump)] == [[1], [1]]
    assert [ids(without, [d], i * 33) for i, d in enumerate(jump)] == [[1], [2]]


def test_one_detection_cannot_continue_two_tracks():
    tr = IouTracker()
    ids(tr, [face(0, 0), face(40, 0)], 0)  # overlapping faces
    assert sorted(ids(tr, [face(20, 0)], 33)) in ([1], [2])
    assert len(tr.tracks) == 2  # the other one is counting misses


def test_ema_reduces_flicker_of_an_alternating_sequence():
    raw = [np.array([0.55, 0.45]) if i % 2 else np.array([0.45, 0.55]) for i in range(60)]
    ema = ProbabilityEma(time_constant_ms=300.0)
    smooth = [ema.update(p, i * 33.3) for i, p in enumerate(raw)]
    raw_flips = sum(np.argmax(a) != np.argmax(b) for a, b in zip(raw, raw[1:]))
    smooth_std = np.std([s[0] for s in smooth[10:]])
    assert raw_flips == 59
    assert smooth_std < 0.2 * np.std([r[0] for r in raw])
    # a sustained change still comes through within a few time constants
    for i in range(60, 100):
        out = ema.update([0.9, 0.1], i * 33.3)
    assert np.argmax(out) == 0 and out[0] > 0.85


def test_ema_weight_follows_elapsed_time_not_frame_count():
    tau = 200.0
    ema = ProbabilityEma(tau)
    assert ema.alpha(tau) == pytest.approx(1 - math.exp(-1))
    assert ema.alpha(0) == 0 and ema.alpha(10 * tau) > 0.99

    def after(fps: float, seconds: float) -> np.ndarray:
        e = ProbabilityEma(tau)
        e.update([1.0, 0.0], 0.0)
        n = int(round(fps * seconds))
        for i in range(1, n + 1):
            out = e.update([0.0, 1.0], i * 1000.0 / fps)
        return out

    # the same step input, sampled at 15 or 60 fps, is smoothed identically in time
    np.testing.assert_allclose(after(15, 0.4), after(60, 0.4), atol=1e-9)
    np.testing.assert_allclose(after(60, 0.4)[0], math.exp(-400 / tau), rtol=1e-6)


def test_ema_zero_time_constant_is_passthrough_and_bad_values_raise():
    ema = ProbabilityEma(0)
    ema.update([0.2, 0.8], 0)
    np.testing.assert_allclose(ema.update([0.7, 0.3], 1), [0.7, 0.3])
    with pytest.raises(ConfigError, match="time_constant_ms"):
        ProbabilityEma(-1)
    with pytest.raises(ConfigError, match="iou_threshold=0"):
        IouTracker(iou_threshold=0)
    with pytest.raises(ConfigError, match="max_missed_frames"):
        IouTracker(max_missed_frames=-1)
