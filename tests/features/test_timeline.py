"""Emotion timelines on a short synthetic video of real faces: series, summary, alerts, export, CLI."""
from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import FERPLUS
from edgekit.cli import main
from edgekit.errors import ConfigError, VideoReadError
from edgekit.pipeline import Pipeline
from edgekit.timeline import AlertRule, emotion_timeline, save_timeline
from edgekit.labels import EMOTIONS
from edgekit.timeline.rules import NEGATIVE, AlertMonitor
from edgekit.video import VideoReader

LABELS = EMOTIONS
FPS, SIZE = 10.0, 240
#: Frames of the clip: face A, no face (longer than the alert gap tolerance), face B.
A, GAP, B = range(0, 25), range(25, 35), range(35, 60)


def _second_face(astronaut: np.ndarray) -> np.ndarray:
    """A FER+ face (upscaled) when the data is there, else the astronaut mirrored."""
    if (FERPLUS / "FER2013Valid" / "label.csv").is_file():
        from converters.core.fercrops import ferplus_rows

        sad = EMOTIONS.index("sadness")
        path = next(path for path, votes in ferplus_rows(FERPLUS / "FER2013Valid") if votes[sad] >= 9)  # strong votes
        gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        big = cv2.copyMakeBorder(cv2.resize(gray, (160, 160), interpolation=cv2.INTER_CUBIC), 40, 40, 40, 40,
                                 cv2.BORDER_CONSTANT, value=90)
        return cv2.cvtColor(big, cv2.COLOR_GRAY2BGR)
    return np.ascontiguousarray(astronaut[:, ::-1])


@pytest.fixture(scope="module")
def clip(astronaut_path, tmp_path_factory) -> Path:
    """6 s at 10 fps (MJPEG .avi): the astronaut, 1 s without a face, then a second real face."""
    photo = cv2.imread(str(astronaut_path))
    face_a = cv2.resize(photo[0:300, 80:380], (SIZE, SIZE), interpolation=cv2.INTER_AREA)
    face_b = cv2.resize(_second_face(face_a), (SIZE, SIZE), interpolation=cv2.INTER_AREA)
    blank = np.full((SIZE, SIZE, 3), 90, np.uint8)
    path = tmp_path_factory.mktemp("timeline") / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (SIZE, SIZE))
    for i in range(60):
        writer.write(face_a if i in A else face_b if i in B else blank)
    writer.release()
    return path


@pytest.fixture(scope="module")
def pipe():
    with Pipeline(running_mode="video") as p:
        yield p


@pytest.fixture(scope="module")
def expected(clip):
    """Top-1 label of each segment, read from decoded frames by the same classifier in image mode
    (frames of a segment are identical, so video-mode smoothing keeps exactly these labels)."""
    frames = {f.index: f.image for f in VideoReader(clip) if f.index in (A[0], B[0])}
    with Pipeline() as still:
        return {name: still.process(frames[i]).faces[0].emotion.label for name, i in (("A", A[0]), ("B", B[0]))}


@pytest.fixture(scope="module")
def aggregate(clip, pipe, expected):
    return emotion_timeline(clip, pipeline=pipe, alerts=[f"{expected['A']}>2s", f"{expected['A']}>3s"])


@pytest.fixture(scope="module")
def per_track(clip, pipe, expected):
    return emotion_timeline(clip, pipeline=pipe, per_track=True, alerts=[f"{expected['A']}>2s"])


def test_series_cover_every_frame(aggregate):
    tl = aggregate
    assert tl.frames == 60 and tl.fps == pytest.approx(FPS) and tl.duration_ms == pytest.approx(6000)
    assert tl.timestamps_ms == pytest.approx(np.arange(60) * 100.0)
    assert list(tl.face_counts) == [1 if i in A or i in B else 0 for i in range(60)]
    assert np.isnan(tl.mean_probs[list(GAP)]).all()
    assert tl.mean_probs[list(A)].sum(axis=1) == pytest.approx(1.0, abs=0.02)
    assert tl.labels == LABELS and tl.tracks is None


def test_summary_shares_sum_to_one_and_match_the_segments(aggregate, expected):
    s = aggregate.summary
    assert s.observations == len(A) + len(B)
    assert sum(s.shares.values()) == pytest.approx(1.0)
    want = {label: 0.0 for label in LABELS}
    want[expected["A"]] += len(A) / 50
    want[expected["B"]] += len(B) / 50
    assert s.shares == pytest.approx(want)
    assert s.dominant == max(s.shares, key=s.shares.get)
    assert sum(s.mean_probs.values()) == pytest.approx(1.0, abs=0.02)


def test_alert_fires_on_the_sustained_segment_only(aggregate, expected):
    rule = f"{expected['A']}>2s"
    want = [(rule, 0.0, 2500.0)]  # segment A: 25 frames = 2.5 s > 2 s; the 1 s gap ends it
    if expected["B"] == expected["A"]:
        want.append((rule, 3500.0, 6000.0))
    got = [(e.rule, e.start_ms, e.end_ms) for e in aggregate.events]  # nothing lasts > 3 s
    assert [r for r, _, _ in got] == [r for r, _, _ in want]
    assert [t for _, s, e in got for t in (s, e)] == pytest.approx([t for _, s, e in want for t in (s, e)])
    assert all(e.track_id is None for e in aggregate.events)  # aggregate-only: no track ids


def test_per_track_series_only_when_asked(per_track, expected):
    tracks = per_track.tracks
    assert [len(t.frame_indices) for t in tracks] == [len(A), len(B)]
    assert tracks[0].track_id != tracks[1].track_id  # the gap ends the first track
    assert list(tracks[0].frame_indices) == list(A) and tracks[0].summary.dominant == expected["A"]
    assert per_track.events[0].track_id == tracks[0].track_id
    assert per_track.to_dict()["tracks"][1]["frames"] == len(B)


def test_save_writes_json_csv_and_plot(aggregate, per_track, tmp_path):
    written = save_timeline(aggregate, tmp_path / "agg")
    doc = json.loads(written["summary"].read_text())
    assert doc["frames"] == 60 and doc["per_track"] is False and "tracks" not in doc
    assert all("track_id" not in e for e in doc["events"])
    with written["series"].open() as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["frame", "time_s", "faces", *LABELS] and len(rows) == 61
    assert rows[31][2] == "0" and rows[31][3] == ""  # a frame without faces has empty probabilities
    assert written["plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "tracks" not in written

    written = save_timeline(per_track, tmp_path / "tracks", plot=False)
    with written["tracks"].open() as fh:
        rows = list(csv.reader(fh))
    assert rows[0][:4] == ["track_id", "frame", "time_s", "emotion"] and len(rows) == 1 + len(A) + len(B)
    assert "plot" not in written and not (tmp_path / "tracks" / "timeline.png").exists()


def test_plot_without_matplotlib_names_the_extra(aggregate, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # import fails as if not installed
    with pytest.raises(ConfigError, match=r"pip install edgekit\[plot\]"):
        save_timeline(aggregate, tmp_path)
    assert (tmp_path / "summary.json").is_file() and (tmp_path / "timeline.csv").is_file()  # data written first


@pytest.mark.parametrize("text, emotions, seconds, prob", [
    ("sadness>3s", ("sadness",), 3.0, None),
    (" Anger | fear > 1500ms ", ("anger", "fear"), 1.5, None),
    ("negative@0.6>0.5min", NEGATIVE, 30.0, 0.6),
    ("happiness>2", ("happiness",), 2.0, None),
])
def test_alert_rules_parse(text, emotions, seconds, prob):
    rule = AlertRule.parse(text, LABELS)
    assert rule.emotions == emotions and rule.min_duration_ms == pytest.approx(seconds * 1000) and rule.min_prob == prob


@pytest.mark.parametrize("text", ["sadness", "sadness>", "sadness>-3s", "sadness>0s", "joy>3s", "sadness@1.5>3s",
                                  "sadness>3h", "", "sadness<3s"])
def test_bad_alert_rules_raise_config_error(text):
    with pytest.raises(ConfigError) as info:
        AlertRule.parse(text, LABELS)
    assert repr(text) in str(info.value)


def test_monitor_on_constructed_probabilities():
    """10 fps: face 1 sad for 3.2 s (with a 0.3 s absence), face 2 sad for 2.9 s, then both happy."""
    sad = {label: 0.02 for label in LABELS} | {"sadness": 0.86}
    happy = {label: 0.02 for label in LABELS} | {"happiness": 0.86}
    monitor = AlertMonitor([AlertRule.parse("sadness>3s", LABELS), AlertRule.parse("negative@0.8>1s", LABELS)],
                           frame_ms=100.0)
    for i in range(40):
        t = i * 100.0
        if not 10 <= i < 13:  # face 1 missing for 3 frames: shorter than the gap tolerance
            monitor.observe(1, t, sad if i < 32 else happy)
        monitor.observe(2, t, sad if i < 29 else happy)
    events = [(e.rule, e.track_id, e.start_ms, e.end_ms) for e in monitor.finish()]
    assert events == [("negative@0.8>1s", 1, 0.0, 3200.0), ("negative@0.8>1s", 2, 0.0, 2900.0),
                      ("sadness>3s", 1, 0.0, 3200.0)]


def test_unreadable_videos_raise_video_read_error(tmp_path, pipe):
    garbage = tmp_path / "broken.mp4"
    garbage.write_bytes(b"not a video at all" * 100)
    for path in (garbage, tmp_path / "missing.mp4"):
        with pytest.raises(VideoReadError) as info:
            emotion_timeline(path, pipeline=pipe)
        assert str(path) in str(info.value)


def test_cli_timeline(clip, tmp_path, capsys, expected):
    out = tmp_path / "out"
    assert main(["timeline", str(clip), "-o", str(out), "--per-track", "--alert", f"{expected['A']}>2s",
                 "--no-progress"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["frames"] == 60 and printed["events"] >= 1
    assert {p.name for p in out.iterdir()} == {"summary.json", "timeline.csv", "tracks.csv", "timeline.png"}

    assert main(["timeline", str(clip), "-o", str(out), "--alert", "sadness>>3s"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--alert 'sadness>>3s'" in err[0]

    bad = tmp_path / "bad.avi"
    bad.write_text("nope")
    assert main(["timeline", str(bad), "-o", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(bad) in err[0]


# ------------------------------------------------------------------ action-unit series (#22 review)


def _frame(index: int, aus=None, faces: int = 1):
    from edgekit.results import EmotionResult, FaceResult, FrameResult

    probs = {label: 0.02 for label in LABELS} | {"neutral": 0.86}
    return FrameResult([FaceResult(None, EmotionResult.from_probs(LABELS, [probs[k] for k in LABELS]), track_id=1,
                                   aus=aus) for _ in range(faces)],
                       frame_index=index, timestamp_ms=100.0 * index)


def test_aus_csv_written_when_no_frame_has_readable_aus(tmp_path):
    """AUs asked for but never readable: aus.csv has its header and empty cells, the summary says so."""
    from edgekit.aus import AU_NAMES, ActionUnits
    from edgekit.timeline.series import TimelineBuilder

    builder = TimelineBuilder(LABELS, frame_ms=100.0, au_names=AU_NAMES)
    failed = ActionUnits(None, reason="the face mesh did not fit")
    for index, faces in ((7, 1), (8, 0), (12, 1)):  # frames 9-11 were never decoded
        builder.add(_frame(index, failed, faces))
    timeline = builder.finish()
    written = save_timeline(timeline, tmp_path, plot=False)
    rows = list(csv.reader((tmp_path / "aus.csv").open()))
    assert written["aus"] == tmp_path / "aus.csv" and rows[0] == ["frame", "time_s", *AU_NAMES]
    assert [r[0] for r in rows[1:]] == ["7", "8", "12"] and all(cell == "" for r in rows[1:] for cell in r[2:])
    block = json.loads((tmp_path / "summary.json").read_text())["action_units"]
    assert block["frames_with_aus"] == 0 and block["readable"] is False and "no frame" in block["note"]
    assert set(block["mean"].values()) == {None}
    assert [r[0] for r in csv.reader((tmp_path / "timeline.csv").open())][1:] == ["7", "8", "12"]
    pytest.importorskip("matplotlib")
    assert save_timeline(timeline, tmp_path / "plotted")["plot"].exists()  # an empty AU panel, no crash
    # without AUs asked for (and none seen) there is no AU series at all
    plain = TimelineBuilder(LABELS, frame_ms=100.0)
    plain.add(_frame(0))
    assert plain.finish().mean_aus is None


def test_aus_csv_frame_column_is_the_video_frame_index(tmp_path):
    from edgekit.aus import AU_NAMES, ActionUnits
    from edgekit.timeline.series import TimelineBuilder

    builder = TimelineBuilder(LABELS, frame_ms=100.0)
    read = ActionUnits({name: 0.5 for name in AU_NAMES})
    for index in (3, 4, 9):
        builder.add(_frame(index, read))
    save_timeline(builder.finish(), tmp_path, plot=False)
    rows = list(csv.reader((tmp_path / "aus.csv").open()))
    assert [r[0] for r in rows[1:]] == ["3", "4", "9"] and rows[3][1] == "0.900" and rows[3][2] == "0.5000"
    summary = json.loads((tmp_path / "summary.json").read_text())["action_units"]
    assert summary["readable"] is True and "note" not in summary and summary["frames_with_aus"] == 3


def test_cli_timeline_aus_on_a_video_without_faces(tmp_path, capsys):
    video = tmp_path / "blank.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (SIZE, SIZE))
    for _ in range(4):
        writer.write(np.full((SIZE, SIZE, 3), 90, np.uint8))
    writer.release()
    out = tmp_path / "tl"
    assert main(["timeline", str(video), "-o", str(out), "--aus", "--no-plot", "--no-progress"]) == 0
    rows = list(csv.reader((out / "aus.csv").open()))
    assert len(rows) == 5 and [r[0] for r in rows[1:]] == ["0", "1", "2", "3"]
    assert json.loads((out / "summary.json").read_text())["action_units"]["readable"] is False
