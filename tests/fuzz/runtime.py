"""Targets over the runtime's arguments: caption / restyle requests, pipeline options, video
timestamps and stored documents."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, List, Optional

import cv2
import numpy as np
from hypothesis import strategies as st

from . import seeds
from .checks import check_caption, check_frame, shared_video_pipeline
from .harness import Call, attempt, calls, fresh_dir
from .values import any_text, junk_values, maybe

# ------------------------------------------------------------------------------ caption targets


def _junk_emotions() -> st.SearchStrategy[Any]:
    from edgekit.captioning import EMOTIONS

    keys = st.one_of(st.sampled_from(EMOTIONS), any_text(8), st.integers(), st.none())
    numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 10**400), st.booleans(),
                        any_text(3))
    return st.one_of(st.sampled_from(["HAPPY", " sad ", "开心", "angry", ""]),
                     st.dictionaries(keys, numbers, max_size=9), any_text(), junk_values())


def caption_requests() -> st.SearchStrategy[Call]:
    from edgekit.captioning import EMOTIONS, SCENES, STYLES

    probs = st.lists(st.floats(0.001, 1.0), min_size=len(EMOTIONS), max_size=len(EMOTIONS)).map(
        lambda xs: {label: x / sum(xs) for label, x in zip(EMOTIONS, xs)})
    valid = {"emotion": st.one_of(st.sampled_from(EMOTIONS), probs),
             "style": st.one_of(st.none(), st.sampled_from(STYLES)),
             "scene": st.one_of(st.none(), st.sampled_from(SCENES)), "lang": st.sampled_from(["zh", "en"]),
             "n": st.integers(1, 3), "seed": st.one_of(st.none(), st.integers(0, 2**70))}
    junk = {"emotion": _junk_emotions(), "style": any_text(), "scene": any_text(),
            "lang": st.one_of(st.just("fr"), junk_values()),
            "n": st.one_of(st.integers(-1, 0), st.sampled_from([21, 2.0, True, "2", None])),
            "seed": st.one_of(st.integers(-5, -1), st.floats(allow_nan=True), any_text(4), st.booleans())}
    return calls(valid, junk)


def check_caption_request(call: Call, workdir: Path) -> None:
    """edgekit.caption(...): n valid captions, or a typed error; valid requests succeed."""
    import edgekit

    captions = attempt(edgekit.caption, **call.kwargs, must_succeed=not call.broken)
    if captions is not None:
        assert len(captions) == call.kwargs["n"]
        for c in captions:
            check_caption(c)


def restyle_requests() -> st.SearchStrategy[Call]:
    from edgekit.captioning import STYLES

    examples = st.sampled_from(["这波快乐直接拉满！", "Monday again...", "¯\\_(ツ)_/¯", "a", "好"])
    valid = {"text": st.one_of(examples, st.text(min_size=1, max_size=60).filter(str.isalnum)),
             "style": st.one_of(st.none(), st.sampled_from(STYLES)), "lang": st.sampled_from([None, "zh", "en"])}
    junk = {"text": st.one_of(any_text(80), junk_values()), "style": any_text(8),
            "lang": st.one_of(any_text(4), junk_values())}
    return calls(valid, junk)


def check_restyle_request(call: Call, workdir: Path) -> None:
    """edgekit.restyle(...): one caption (or one per style); ``plain`` is the sentence itself
    (kaomoji and decorations dropped), every other style differs from it."""
    import edgekit
    from edgekit.captioning import STYLES
    from edgekit.captioning.inputs import check_text
    from edgekit.captioning.voices import plain

    text, style = call.kwargs["text"], call.kwargs["style"]
    captions = attempt(edgekit.restyle, **call.kwargs, must_succeed=not call.broken)
    if captions is not None:
        assert len(captions) == (1 if style is not None else len(STYLES))
        source = check_text(text)
        for c in captions:
            check_caption(c)
            assert (c.text == plain(source)) if c.style == "plain" else (c.text != source), (c.style, c.text)


# --------------------------------------------------------------------------- pipeline targets


def pipeline_options() -> st.SearchStrategy[Call]:
    valid = {"running_mode": st.sampled_from(["image", "video"]),
             "detector": st.sampled_from(["short_range", "full_range"]),
             "min_confidence": st.floats(0.3, 1.0), "max_faces": st.one_of(st.none(), st.integers(1, 4)),
             "num_threads": st.integers(1, 2), "emotion_model": st.sampled_from(["emotion", None]),
             "smoothing_ms": st.floats(0, 1000), "tracker_iou": st.floats(0.01, 1.0),
             "max_missed_frames": st.integers(0, 8),
             "result_callback": st.none()}
    junk = {name: junk_values() for name in valid}
    junk.update(running_mode=st.one_of(st.just("live_stream"), junk_values()),
                emotion_model=st.one_of(st.sampled_from(["caption", "nope", "/nonexistent.tflite", "."]),
                                        junk_values()),
                result_callback=st.one_of(st.just(lambda *args: None), junk_values()))
    return calls(valid, junk)


def check_pipeline_options(call: Call, workdir: Path) -> None:
    """Pipeline(**options): a working pipeline or a typed (ConfigError/ModelError) refusal; in
    image mode analyze(image, **options) agrees."""
    import edgekit

    frame = np.ascontiguousarray(seeds.face_rgb()[..., ::-1])
    pipe = attempt(edgekit.Pipeline, **call.kwargs, must_succeed=not call.broken)
    if call.kwargs.get("running_mode") == "image":
        faces = attempt(edgekit.analyze, frame, **call.kwargs)
        assert (faces is None) == (pipe is None), "analyze() and Pipeline() disagree on the same options"
    if pipe is None:
        return
    with pipe:
        if pipe.options.running_mode == "live_stream":
            pipe.process_async(frame, 0.0)
        else:
            check_frame(pipe.process(frame), frame.shape)


def timestamps() -> st.SearchStrategy[List[Any]]:
    stamp = st.one_of(st.none(), st.floats(-1e3, 1e6), st.floats(allow_nan=True, allow_infinity=True),
                      st.integers(-5, 10**6),
                      st.sampled_from(["12", "x", b"1", [1]]))
    return st.lists(stamp, min_size=1, max_size=6)


def _as_float(value: Any) -> Optional[float]:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def check_timestamps(stamps: List[Any], workdir: Path) -> None:
    """Video mode: a timestamp is accepted iff it is None or a finite number above the last one."""
    pipe = shared_video_pipeline()
    pipe.reset()
    frame = np.ascontiguousarray(cv2.resize(seeds.face_rgb()[..., ::-1], (48, 48)))
    last: Optional[float] = None
    for ts in stamps:
        value = _as_float(ts)
        ok = ts is None or (value is not None and math.isfinite(value) and (last is None or value > last))
        result = attempt(pipe.process, frame, ts, must_succeed=ok)
        assert ok == (result is not None), f"timestamp {ts!r} after {last!r} accepted: {result is not None}"
        if result is not None:
            last = result.timestamp_ms


# ------------------------------------------------------------------------------ stored data


def _json_documents() -> st.SearchStrategy[bytes]:
    leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8))
    tree = st.recursive(leaves,
                        lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                        max_leaves=8)
    header = st.fixed_dictionaries({},
                                   optional={"kind": maybe(["fuzz", "other"], leaves),
                                             "version": maybe([1, 2, 3], leaves)})
    docs = st.builds(lambda head, body: {**body, **head} if isinstance(body, dict) else head, header, tree)
    return docs.map(lambda doc: json.dumps(doc).encode())


def stored_documents() -> st.SearchStrategy[bytes]:
    deep = st.sampled_from([b"[" * 100_000, b'{"a":' * 50_000, b"\xef\xbb\xbf{}", b"\xff\xfe{\x00}\x00", b""])
    return st.one_of(st.binary(max_size=256), _json_documents(), deep)


def check_stored_document(data: bytes, workdir: Path) -> None:
    """userdata.load_document on arbitrary bytes: a document of the right kind/version, or the
    file moved aside intact (reported), or a ConfigError leaving the file as it was."""
    from edgekit.userdata import load_document

    folder = fresh_dir(workdir, "documents")
    path = folder / "doc.json"
    path.write_bytes(data)
    loaded = attempt(load_document, path, "fuzz", 2)
    if loaded is None:
        assert path.read_bytes() == data, "a refused file was changed"
    elif loaded.document is not None:
        version = loaded.document["version"]
        assert loaded.document["kind"] == "fuzz" and type(version) is int and version <= 2
        assert loaded.backup is None and path.read_bytes() == data
    else:
        assert loaded.backup is not None and loaded.backup.read_bytes() == data and not path.exists()
