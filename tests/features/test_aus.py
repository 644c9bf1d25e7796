"""Action units from the face mesh (#22): geometry on synthetic displacements, pose invariance,
bad input, calibration, JSON, pipeline / CLI / timeline wiring."""
from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest

from edgekit.aus import (AU_DEFINITIONS, AU_NAMES, CHEEK, CHIN, CUES, FEATURE_NAMES, INNER_BROW, INNER_LOWER_LIP,
                         LIP_CORNER, LIP_PROFILE, LOW_CONFIDENCE, LOWER_LID, MAX_YAW_DEG, MIN_EYE_DISTANCE_PX,
                         NOSE_WING,
                         OUTER_BROW, UPPER_LID, ActionUnitReader, ActionUnits, StreamBaseline, action_units,
                         activations_from_raw, feature_matrix, measure, population_calibration)
from edgekit.errors import ConfigError, NoFaceError
from edgekit.transfer.geometry import load_neutral_mesh

#: Image scale of the synthetic faces: reference units -> pixels (outer eye corners ~100 px apart).
SCALE = 60.0
REQUIRED = ("AU1", "AU2", "AU4", "AU5", "AU6", "AU9", "AU12", "AU14", "AU15", "AU20", "AU25", "AU26", "AU43")


def neutral_face() -> np.ndarray:
    """The population neutral, as an image mesh: the reference mesh moved so each raw measure sits
    at the calibrated neutral median (the mean mesh and the median of its measures differ a little)."""
    ref = load_neutral_mesh().copy()
    matrix, cal = feature_matrix(), population_calibration()
    # least-norm correction of the non-rigid landmarks that puts every raw measure at BASE
    from edgekit.transfer.geometry import RIGID

    free = np.ones(ref.size, bool)
    for i in RIGID:
        free[i * 3:i * 3 + 3] = False
    target = cal.base - matrix @ ref.reshape(-1)
    delta = np.zeros(ref.size)
    delta[free] = np.linalg.lstsq(matrix[:, free], target, rcond=None)[0]
    return image_mesh(ref + delta.reshape(ref.shape))


def image_mesh(ref_frame: np.ndarray, rotation: np.ndarray = np.eye(3), scale: float = SCALE,
               shift=(320.0, 240.0, 0.0)) -> np.ndarray:
    """A mesh in the reference frame placed in an image (similarity: rotation, scale, shift)."""
    return scale * ref_frame @ np.asarray(rotation).T + np.asarray(shift)


def move(points: np.ndarray, groups, dx=0.0, dy=0.0, dz=0.0, mirror_x=True) -> np.ndarray:
    """``points`` with the landmarks of ``groups`` (right side, left side) moved by (dx, dy, dz)
    reference units (times SCALE); ``mirror_x``: the left side moves by -dx (outward = outward)."""
    out = points.copy()
    for side, group in enumerate(groups):
        sx = -1.0 if (side == 1 and mirror_x) else 1.0
        idx = sorted(set(group))
        out[idx] += SCALE * np.array([sx * dx, dy, dz])
    return out


def rotation(yaw=0.0, pitch=0.0, roll=0.0) -> np.ndarray:
    y, p, r = (math.radians(v) for v in (yaw, pitch, roll))
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    return rz @ rx @ ry


def others(aus: ActionUnits, *names: str) -> float:
    return max(v for k, v in aus.activations.items() if k not in names)


def test_at_least_the_issue_aus_with_definitions_and_calibration():
    assert set(REQUIRED) <= set(AU_NAMES) and len(AU_NAMES) >= 12
    for d in AU_DEFINITIONS:
        assert d.measure and d.facs and set(d.terms) == {"right", "left"}
    cal = population_calibration()
    assert cal.base.shape == (len(FEATURE_NAMES),) and cal.span.shape == cal.floor.shape == (len(AU_NAMES),)
    assert (cal.span > cal.floor).all() and (cal.floor >= 0).all()
    assert {"AU6", "AU9", "AU14"} <= set(LOW_CONFIDENCE)  # texture/depth AUs are flagged
    assert feature_matrix().shape == (len(FEATURE_NAMES), 468 * 3)


def test_population_neutral_reads_zero():
    aus = action_units(neutral_face(), presence=0.99)
    assert aus.ok and aus.reason is None and aus.flags == ()
    assert max(aus.activations.values()) == pytest.approx(0.0, abs=1e-6)
    assert aus.cues() == [] and aus.calibration == "population"


def test_lip_corners_up_raise_au12_and_little_else():
    neutral = neutral_face()
    span = dict(zip(AU_NAMES, population_calibration().span))["AU12"]
    smile = move(neutral, LIP_CORNER, dy=-span)  # straight up by one AU12 span
    aus = action_units(smile)
    assert aus.activations["AU12"] > 0.6
    assert others(aus, "AU12") < 0.1, aus.activations
    assert "lip corners pulled up" in aus.cues()
    # twice as far: more AU12, still nothing else much
    stronger = action_units(move(neutral, LIP_CORNER, dy=-2 * span))
    assert stronger.activations["AU12"] >= aus.activations["AU12"] and others(stronger, "AU12") < 0.1


def test_lip_corners_down_raise_au15_not_au12():
    neutral = neutral_face()
    spans = dict(zip(AU_NAMES, population_calibration().span))
    aus = action_units(move(neutral, LIP_CORNER, dy=spans["AU15"] * 1.5))
    assert aus.activations["AU15"] > 0.6 and aus.activations["AU12"] == 0.0


@pytest.mark.parametrize("name,groups,dx,dy,dz,expect_also", [
    ("AU1", (INNER_BROW[0], INNER_BROW[1]), 0.0, -1.0, 0.0, ()),
    ("AU2", (OUTER_BROW[0], OUTER_BROW[1]), 0.0, -1.0, 0.0, ()),
    ("AU4", (INNER_BROW[0], INNER_BROW[1]), 0.0, 1.0, 0.0, ()),
    ("AU5", (UPPER_LID[0], UPPER_LID[1]), 0.0, -1.0, 0.0, ()),
    ("AU43", (UPPER_LID[0], UPPER_LID[1]), 0.0, 1.0, 0.0, ()),
    ("AU7", (LOWER_LID[0], LOWER_LID[1]), 0.0, -1.0, 0.0, ("AU43",)),  # a raised lower lid also narrows the eye
    ("AU25", (INNER_LOWER_LIP[0] + (84, 17), INNER_LOWER_LIP[1] + (314, 17)), 0.0, 1.0, 0.0, ()),  # the lower lip drops
    ("AU26", (CHIN[0], CHIN[1]), 0.0, 1.0, 0.0, ()),
    ("AU14", (LIP_CORNER[0], LIP_CORNER[1]), 0.0, 0.0, 1.0, ()),
    ("AU20", (LIP_CORNER[0], LIP_CORNER[1]), -0.8, 0.6, 0.0, ("AU15",)),  # out and down: the corners also drop
    ("AU6", (CHEEK[0], CHEEK[1]), 0.0, -1.0, 0.0, ()),  # the cheek below the eye rises
    ("AU9", (NOSE_WING[0], NOSE_WING[1]), 0.0, -1.0, 0.0, ()),  # the nose wings rise
    ("AU10", ((0, 37, 39), (267, 269)), 0.0, -1.0, 0.0, ()),  # the upper lip rises (its centre, 0, moved once)
])
def test_each_movement_raises_its_au(name, groups, dx, dy, dz, expect_also):
    """A movement of 1.5 spans along an AU's own direction raises it clearly; the others stay low."""
    span = dict(zip(AU_NAMES, population_calibration().span))[name]
    aus = action_units(move(neutral_face(), groups, 1.5 * span * dx, 1.5 * span * dy, 1.5 * span * dz))
    assert aus.activations[name] > 0.6, aus.activations
    assert others(aus, name, *expect_also) < 0.25, aus.activations


def test_thinner_lip_red_raises_au23_and_nothing_else():
    """Lip tightener: the outer edges of both lips move towards the mouth line (the lip red thins)."""
    half = 1.5 * dict(zip(AU_NAMES, population_calibration().span))["AU23"] / 2
    upper_outer = tuple((p[0],) for p in LIP_PROFILE)
    lower_outer = tuple((p[3],) for p in LIP_PROFILE)
    aus = action_units(move(move(neutral_face(), upper_outer, dy=half), lower_outer, dy=-half))
    assert aus.activations["AU23"] > 0.6, aus.activations
    assert others(aus, "AU23") < 0.25, aus.activations


def test_one_sided_smile_gives_asymmetry_and_cue():
    neutral = neutral_face()
    span = dict(zip(AU_NAMES, population_calibration().span))["AU12"]
    left_only = move(neutral, ((), LIP_CORNER[1]), dy=-1.5 * span)
    aus = action_units(left_only)
    right, left = aus.sides["AU12"]
    assert left > 0.9 and right < 0.05
    assert aus.asymmetry["AU12"] > 0.8 and aus.activations["AU12"] == pytest.approx((left + right) / 2)
    assert aus.cues()[0] == "one-sided smile" and aus.cues("zh")[0] == "一边嘴角上扬"
    mirrored = action_units(move(neutral, (LIP_CORNER[0], ()), dy=-1.5 * span))
    assert mirrored.asymmetry["AU12"] < -0.8


@pytest.mark.parametrize("yaw,pitch,roll", [(0, 0, 30), (25, 0, 0), (-25, 10, -15), (10, -20, 5), (0, 0, 170)])
def test_pose_invariance(yaw, pitch, roll):
    """Rotating (and scaling, moving) the whole mesh in 3-D leaves every activation unchanged."""
    neutral = neutral_face()
    span = dict(zip(AU_NAMES, population_calibration().span))
    expressive = move(move(neutral, LIP_CORNER, dy=-0.7 * span["AU12"]), (INNER_BROW[0], INNER_BROW[1]),
                      dy=-0.8 * span["AU1"])
    ref_frame = (expressive - np.array([320.0, 240.0, 0.0])) / SCALE
    upright = action_units(expressive)
    turned = action_units(image_mesh(ref_frame, rotation(yaw, pitch, roll), scale=37.0, shift=(100, 500, 40)))
    if abs(yaw) > MAX_YAW_DEG or abs(pitch) > 30:
        pytest.fail("test poses must stay within range")
    assert turned.ok, turned.reason
    for name in AU_NAMES:
        assert turned.activations[name] == pytest.approx(upright.activations[name], abs=0.02), name
    if pitch == roll == 0:
        assert turned.pose.yaw == pytest.approx(yaw, abs=1.0)  # rotation(yaw) turns the head to its right


@pytest.mark.parametrize("angle", [15.0, -15.0])
def test_pose_sign_convention(angle):
    """The documented signs of ``pose_deg``: yaw > 0 the head turned to the subject's right (the
    nose towards the image left), pitch > 0 chin up (the nose rises in the image), roll > 0 the head
    tilted towards the subject's right shoulder (the subject's right eye lower in the image)."""
    ref_frame = (neutral_face() - np.array([320.0, 240.0, 0.0])) / SCALE
    front = image_mesh(ref_frame)
    nose, right_eye, left_eye = 1, 33, 263  # the subject's right eye is on the image left
    turned = image_mesh(ref_frame, rotation(yaw=angle))
    yaw = action_units(turned).pose.yaw
    assert yaw == pytest.approx(angle, abs=1.0)
    assert np.sign(turned[nose, 0] - front[nose, 0]) == -np.sign(yaw)  # nose to the image left when yaw > 0
    tilted = image_mesh(ref_frame, rotation(pitch=angle))
    pitch = action_units(tilted).pose.pitch
    assert abs(pitch) == pytest.approx(abs(angle), abs=1.0)
    assert np.sign(tilted[nose, 1] - front[nose, 1]) == -np.sign(pitch)  # y is down: chin up lifts the nose
    rolled = image_mesh(ref_frame, rotation(roll=angle))
    roll = action_units(rolled).pose.roll
    assert abs(roll) == pytest.approx(abs(angle), abs=1.0)
    assert np.sign(rolled[right_eye, 1] - rolled[left_eye, 1]) == np.sign(roll)  # right eye lower when roll > 0


def test_profile_and_bad_meshes_give_none_with_a_reason():
    ref_frame = (neutral_face() - np.array([320.0, 240.0, 0.0])) / SCALE
    profile = action_units(image_mesh(ref_frame, rotation(yaw=60)))
    assert profile.activations is None and "profile" in profile.flags and "yaw" in profile.reason
    assert profile.to_dict()["activations"] is None and profile.cues() == []
    turned = action_units(image_mesh(ref_frame, rotation(yaw=28)))
    assert turned.ok and "turned" in turned.flags
    rng = np.random.default_rng(0)
    garbage = action_units(rng.uniform(0, 400, (468, 3)))
    assert garbage.activations is None and "does not fit" in garbage.reason
    low = action_units(neutral_face(), presence=0.2)
    assert low.activations is None and "presence" in low.reason
    nan = neutral_face()
    nan[5, 0] = np.nan
    assert "non-finite" in action_units(nan).reason
    assert action_units(np.zeros((10, 3))).activations is None
    assert action_units(None).activations is None
    collapsed = action_units(np.full((468, 3), 7.0))
    assert collapsed.activations is None and collapsed.reason
    with pytest.raises(ValueError):
        measure(np.zeros((3, 3)))


def test_tiny_faces_are_flagged_below_the_documented_size():
    ref_frame = (neutral_face() - np.array([320.0, 240.0, 0.0])) / SCALE
    eye_units = np.linalg.norm(ref_frame[33, :2] - ref_frame[263, :2])
    small = action_units(image_mesh(ref_frame, scale=0.9 * MIN_EYE_DISTANCE_PX / eye_units))
    large = action_units(image_mesh(ref_frame, scale=1.1 * MIN_EYE_DISTANCE_PX / eye_units))
    assert small.ok and "small_face" in small.flags and small.eye_distance_px < MIN_EYE_DISTANCE_PX
    assert large.ok and "small_face" not in large.flags


def test_personal_neutral_baseline_removes_an_identity_offset():
    """Someone whose brows sit high at rest reads AU1/AU2 against the population, not against their own neutral."""
    neutral = neutral_face()
    high_brows = move(move(neutral, (INNER_BROW[0], INNER_BROW[1]), dy=-0.12), (OUTER_BROW[0], OUTER_BROW[1]), dy=-0.1)
    population = action_units(high_brows)
    assert population.activations["AU1"] > 0.3
    own = action_units(high_brows, baseline=population.raw)
    assert own.calibration == "neutral_photo" and max(own.activations.values()) == 0.0
    span = dict(zip(AU_NAMES, population_calibration().span))["AU12"]
    smiling = action_units(move(high_brows, LIP_CORNER, dy=-1.5 * span), baseline=population.raw)
    assert smiling.activations["AU12"] > 0.9 and smiling.activations["AU1"] == 0.0


def test_stream_baseline_is_a_running_median_per_track():
    stream = StreamBaseline(window=5, min_samples=3)
    assert stream.baseline("a") is None
    for value in (1.0, 3.0):
        stream.add("a", np.full(4, value))
    assert stream.baseline("a") is None  # fewer than min_samples
    stream.add("a", np.full(4, 10.0))
    assert stream.baseline("a") == pytest.approx(np.full(4, 3.0))
    for value in (20.0, 20.0, 20.0, 20.0):
        stream.add("a", np.full(4, value))  # the window keeps the last 5
    assert stream.baseline("a") == pytest.approx(np.full(4, 20.0)) and stream.samples("a") == 5
    stream.add("b", np.zeros(4))
    stream.forget(["b"])
    assert stream.samples("a") == 0 and stream.samples("b") == 1


@pytest.mark.parametrize("kwargs, message", [
    ({"window": 0}, "window=0: must be an integer >= 1. readings kept per track, e.g. window=900 (30 s at 30 fps)"),
    ({"window": 2.5}, "window=2.5: must be an integer >= 1."),
    ({"window": True}, "window=True: must be an integer >= 1."),
    ({"min_samples": 10, "window": 5}, "min_samples=10: must be an integer in [1, 5]. readings before a track's "
                                       "median is used, at most window=5"),
    ({"min_samples": 0}, "min_samples=0: must be an integer in [1, 900]."),
    ({"min_samples": "30"}, "min_samples='30': must be an integer in [1, 900]."),
])
def test_bad_stream_baseline_options_name_the_value_and_what_to_pass(kwargs, message):
    with pytest.raises(ConfigError) as err:
        StreamBaseline(**kwargs)
    assert str(err.value).startswith(message)


def test_activations_from_raw_clip_to_unit_range():
    cal = population_calibration()
    acts, sides = activations_from_raw(cal.base + 100.0)
    assert set(acts.values()) == {1.0}
    acts, _ = activations_from_raw(cal.base - 100.0)
    assert set(acts.values()) == {0.0}


def test_cues_table_names_known_aus():
    for needs, excludes, en, zh in CUES:
        assert set(needs) | set(excludes) <= set(AU_NAMES) and en and zh
    with pytest.raises(ConfigError):
        action_units(neutral_face()).cues("fr")


def test_json_schema():
    aus = action_units(move(neutral_face(), LIP_CORNER, dy=-0.3))
    data = json.loads(json.dumps(aus.to_dict()))
    assert set(data) == {"activations", "reason", "flags", "asymmetry", "pose_deg", "calibration", "eye_distance_px",
                         "low_confidence", "cues"}
    assert list(data["activations"]) == list(AU_NAMES)
    assert all(isinstance(v, float) and 0.0 <= v <= 1.0 for v in data["activations"].values())
    assert set(data["pose_deg"]) == {"yaw", "pitch", "roll"} and set(data["asymmetry"]) == {"AU12", "AU14"}
    assert data["low_confidence"] == list(LOW_CONFIDENCE) and isinstance(data["cues"], list)


# ------------------------------------------------------------------ wiring on a real photo


def test_pipeline_option_off_by_default_and_on_when_asked(astronaut):
    from edgekit.pipeline import Pipeline, PipelineOptions

    with Pipeline() as pipe:
        face = pipe.process(astronaut).faces[0]
        assert face.aus is None and "aus" not in face.to_dict()
    with Pipeline(action_units=True) as pipe:
        result = pipe.process(astronaut)
    aus = result.faces[0].aus
    assert aus.ok and aus.activations["AU12"] > 0.5  # the astronaut smiles broadly
    assert aus.activations["AU4"] < 0.2 and aus.activations["AU43"] < 0.2
    assert result.timings.aus_ms > 0
    line = json.loads(result.to_json())
    assert line["faces"][0]["aus"]["activations"]["AU12"] > 0.5
    for bad in ({"action_units": "yes"}, {"au_neutral": "x.jpg"}, {"action_units": True, "au_neutral": 3}):
        with pytest.raises(ConfigError):
            PipelineOptions(**bad)


def test_neutral_photo_baseline_in_the_pipeline(astronaut, tmp_path):
    from edgekit.pipeline import Pipeline

    path = tmp_path / "neutral.png"
    cv2.imwrite(str(path), astronaut)
    with Pipeline(action_units=True, au_neutral=str(path)) as pipe:
        aus = pipe.process(astronaut).faces[0].aus
    assert aus.calibration == "neutral_photo" and max(aus.activations.values()) == 0.0  # same photo: no movement
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((200, 200, 3), 128, np.uint8))
    with pytest.raises(NoFaceError, match="neutral photo"):
        Pipeline(action_units=True, au_neutral=str(blank))


def test_track_median_only_when_asked(astronaut):
    """The running median hurt on the validation video (reports/action_units section 4): off by default."""
    from edgekit.pipeline import Pipeline, PipelineOptions

    assert PipelineOptions().au_stream_neutral is False
    with Pipeline(running_mode="video", action_units=True, smoothing_ms=0) as pipe:
        assert pipe.au_reader.stream is None
        kinds = [pipe.process(astronaut, 40.0 * i).faces[0].aus.calibration for i in range(35)]
    assert set(kinds) == {"population"}
    with Pipeline(running_mode="video", action_units=True, au_stream_neutral=True, smoothing_ms=0) as pipe:
        kinds = [pipe.process(astronaut, 40.0 * i).faces[0].aus.calibration for i in range(35)]
    assert kinds[0] == "population" and kinds[-1] == "stream"
    assert kinds.index("stream") == 30  # StreamBaseline's default min_samples
    for bad in ({"au_stream_neutral": True}, {"action_units": True, "au_stream_neutral": "yes"}):
        with pytest.raises(ConfigError, match="au_stream_neutral"):
            PipelineOptions(**bad)


def test_enrolled_neutral_photo_wins_over_the_track_median(astronaut, tmp_path):
    path = tmp_path / "neutral.png"
    cv2.imwrite(str(path), astronaut)
    from edgekit.pipeline import Pipeline

    with Pipeline(running_mode="video", action_units=True, au_stream_neutral=True, au_neutral=str(path),
                  smoothing_ms=0) as pipe:
        kinds = [pipe.process(astronaut, 40.0 * i).faces[0].aus.calibration for i in range(35)]
    assert set(kinds) == {"neutral_photo"}
    # the reader itself: a stream next to a neutral photo is neither used nor fed
    stream = StreamBaseline(window=5, min_samples=2)
    with ActionUnitReader(neutral=astronaut, stream=stream) as reader:
        points = neutral_face()
        kinds = [reader.from_landmarks(points, 0.99, track=1).calibration for _ in range(4)]
    assert set(kinds) == {"neutral_photo"} and stream.samples(1) == 0


def test_cli_au_stream_neutral_flag_maps_onto_the_option():
    import argparse

    from edgekit.cli._common import add_au_options, pipeline_options
    from edgekit.pipeline import PipelineOptions

    parser = argparse.ArgumentParser()
    add_au_options(parser)
    assert pipeline_options(parser.parse_args(["--aus"])) == PipelineOptions(action_units=True)  # --aus: the old flag
    assert pipeline_options(parser.parse_args(["--action-units", "--au-stream-neutral"])) == PipelineOptions(
        action_units=True, au_stream_neutral=True)


def test_cli_analyze_and_timeline_aus(astronaut_path, tmp_path, capsys):
    from edgekit.cli import main

    out = tmp_path / "out.jsonl"
    assert main(["analyze", str(astronaut_path), "--aus", "--out", str(out)]) == 0
    face = json.loads(out.read_text().splitlines()[0])["faces"][0]
    assert face["aus"]["activations"]["AU12"] > 0.5 and face["aus"]["cues"]
    assert main(["analyze", str(astronaut_path), "--out", str(out)]) == 0
    assert "aus" not in json.loads(out.read_text().splitlines()[0])["faces"][0]
    capsys.readouterr()
    assert main(["analyze", str(astronaut_path), "--au-neutral", str(astronaut_path), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "au_neutral needs action_units" in err[0]

    image = cv2.imread(str(astronaut_path))
    video = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10, (image.shape[1], image.shape[0]))
    for _ in range(6):
        writer.write(image)
    writer.release()
    folder = tmp_path / "tl"
    assert main(["timeline", str(video), "-o", str(folder), "--aus", "--no-plot"]) == 0
    rows = (folder / "aus.csv").read_text().splitlines()
    assert rows[0].split(",")[2:] == list(AU_NAMES) and len(rows) == 7
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["action_units"]["frames_with_aus"] == 6 and summary["action_units"]["mean"]["AU12"] > 0.5
    plain = tmp_path / "tl2"
    assert main(["timeline", str(video), "-o", str(plain), "--no-plot"]) == 0
    assert not (plain / "aus.csv").exists() and "action_units" not in json.loads((plain / "summary.json").read_text())
