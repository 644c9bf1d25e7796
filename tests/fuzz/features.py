"""Targets over the features of later issues (feedback store, memes, chat suggestions, timeline
alert rules, identity gallery, benchmark output parsers); each runs once its module exists."""
from __future__ import annotations

import functools
import importlib
import json
import math
import os
import warnings
from pathlib import Path
from typing import Any, Callable, Dict, Tuple

import numpy as np
from hypothesis import strategies as st

from . import seeds
from .checks import strict_json
from .harness import Call, attempt, calls, fresh_dir
from .runtime import stored_documents
from .values import any_text, junk_values, maybe

# ------------------------------------------------------------- features built by later issues


@functools.lru_cache(maxsize=None)
def _labels() -> Tuple[str, ...]:
    from edgekit.captioning import EMOTIONS

    return tuple(EMOTIONS)


def _feedback_events() -> st.SearchStrategy[Dict[str, Any]]:
    """Event objects as a feedback file may hold them: plausible, or with odd field values."""
    from edgekit.captioning import LANGS, SCENES, STYLES

    odd_number = st.one_of(st.floats(allow_nan=False), st.integers(-(10**30), 10**30),
                           st.sampled_from([1e308, -1e308, 0]))
    return st.fixed_dictionaries({
        "action": maybe(["like", "dislike", "used"], st.text(max_size=5)),
        "text": st.one_of(st.text(min_size=1, max_size=30), st.integers()),
        "style": st.one_of(st.none(), maybe(STYLES, st.text(max_size=5))),
        "scene": st.one_of(st.none(), maybe(SCENES, st.text(max_size=5))),
        "emotion": st.one_of(st.none(), maybe(_labels(), st.text(max_size=5))),
        "lang": maybe(LANGS, st.text(max_size=3)),
        "ts": st.one_of(st.floats(0, 2e9), odd_number, st.none()),
        "id": st.one_of(st.text(min_size=1, max_size=70), st.none()),
    })


def feedback_files() -> st.SearchStrategy[bytes]:
    events = st.lists(_feedback_events(), max_size=5)
    folded = st.one_of(st.none(), st.dictionaries(st.text(max_size=6),
                                                  st.one_of(st.floats(allow_nan=False), st.text(max_size=4)),
                                                  max_size=3))
    docs = st.builds(lambda ev, fo, kind, version: {"kind": kind, "version": version, "events": ev, "folded": fo},
                     events, folded,
                     maybe(["feedback"], st.text(max_size=6)), maybe([1], st.one_of(st.integers(-2, 3), st.floats())))
    return st.one_of(docs.map(lambda d: json.dumps(d).encode()), stored_documents())


def check_feedback_file(data: bytes, workdir: Path) -> None:
    """FeedbackStore over any file content: readable (a corrupt file is moved aside intact and
    what can be recovered is kept, with a warning) or a ConfigError leaving the file alone; the
    store then records, re-ranks and reloads."""
    from edgekit.personalize import FeedbackStore

    path = fresh_dir(workdir, "feedback") / "feedback.json"
    path.write_bytes(data)
    store = FeedbackStore(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        events = attempt(store.events)
        if events is None:
            assert path.read_bytes() == data, "a refused store file was changed"
            return
        for backup in store.backups():
            assert backup.read_bytes() == data
        event = attempt(store.like, "这波快乐直接拉满", must_succeed=True)
        attempt(store.rerank, ["这波快乐直接拉满", "no way"], must_succeed=True)
        attempt(store.summary, must_succeed=True)
        assert event.id in {e.id for e in FeedbackStore(path).events()}


def feedback_records() -> st.SearchStrategy[Call]:
    from edgekit.captioning import SCENES, STYLES

    valid = {"action": st.sampled_from(["like", "dislike", "used"]),
             "text": st.text(min_size=1, max_size=40).filter(str.isalnum),
             "style": st.one_of(st.none(), st.sampled_from(STYLES)),
             "scene": st.one_of(st.none(), st.sampled_from(SCENES)),
             "emotion": st.one_of(st.none(), st.sampled_from(_labels())), "lang": st.sampled_from([None, "zh", "en"]),
             "ts": st.one_of(st.none(), st.floats(0, 2e9))}
    junk = {"action": st.one_of(any_text(8), junk_values()), "text": st.one_of(any_text(80), junk_values()),
            "style": any_text(8), "scene": any_text(8), "emotion": any_text(8), "lang": any_text(4),
            "ts": st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([1e308, -1e308]),
                            junk_values())}
    return calls(valid, junk)


def check_feedback_record(call: Call, workdir: Path) -> None:
    """FeedbackStore.record: the event is on disk when it returns (a fresh store reads it back)
    and the preferences stay finite; bad arguments are typed errors."""
    from edgekit.personalize import FeedbackStore

    path = fresh_dir(workdir, "feedback") / "feedback.json"
    event = attempt(FeedbackStore(path).record, **call.kwargs, must_succeed=not call.broken)
    if event is not None:
        again = FeedbackStore(path)
        assert [e.id for e in again.events()] == [event.id]
        ranked = again.rerank([event.text, "something else entirely"])
        assert all(math.isfinite(r.score.total) for r in ranked), ranked


def memes() -> st.SearchStrategy[Call]:
    from edgekit.captioning import SCENES, STYLES
    from edgekit.meme import PLACEMENTS

    valid = {"text": st.one_of(st.none(), st.sampled_from(["Monday again", "when the code compiles", "OK"])),
             "style": st.one_of(st.none(), st.sampled_from(STYLES)),
             "scene": st.one_of(st.none(), st.sampled_from(SCENES)),
             "lang": st.just("en"), "face": st.sampled_from([None, 0]), "placement": st.sampled_from(PLACEMENTS),
             "seed": st.integers(0, 1000)}  # seeded: the same example always gets the same caption
    junk = {"text": st.one_of(any_text(60), junk_values()), "style": any_text(8), "scene": any_text(8),
            "lang": st.one_of(st.sampled_from(["fr", ""]), junk_values()),
            "face": st.one_of(st.integers(-3, 5), junk_values()),
            "placement": st.one_of(any_text(8), junk_values()), "seed": st.one_of(st.integers(-5, -1), junk_values())}
    return calls(valid, junk)


def check_meme(call: Call, workdir: Path) -> None:
    """make_meme on a face photo: a rendered image with the caption, or a typed error (valid calls
    may only fail with FontError: a generated caption with a glyph no installed font has)."""
    import edgekit
    from edgekit.errors import FontError

    photo = np.ascontiguousarray(seeds.face_rgb(192)[..., ::-1])
    meme = attempt(edgekit.make_meme, photo, **call.kwargs, must_succeed=not call.broken, allowed=(FontError,))
    if meme is not None:
        assert meme.image.size[0] > 0 and meme.image.size[1] > 0
        assert isinstance(meme.caption, str) and meme.caption.strip()
        meme.save(workdir / "meme.png")


def suggestions() -> st.SearchStrategy[Call]:
    from edgekit.captioning import SCENES

    chats = st.sampled_from(["明天考试，完全没复习", "we won the match!!", "周末去海边玩", "ugh, Monday again", "好"])
    valid = {"chat": chats, "n": st.integers(1, 3), "lang": st.sampled_from([None, "zh", "en"]),
             "scene": st.one_of(st.none(), st.sampled_from(SCENES)), "seed": st.one_of(st.none(), st.integers(0, 1000)),
             "personalize": st.just(False)}
    junk = {"chat": st.one_of(any_text(200), junk_values()),
            "n": st.one_of(st.integers(-2, 0), st.just(21), junk_values()),
            "lang": any_text(4), "scene": any_text(10), "seed": st.one_of(st.integers(-5, -1), junk_values())}
    return calls(valid, junk)


def check_suggestion(call: Call, workdir: Path) -> None:
    """suggest(chat, ...): n ranked captions with finite probabilities, or a typed error."""
    import edgekit

    result = attempt(edgekit.suggest, **call.kwargs, must_succeed=not call.broken)
    if result is not None:
        assert len(result.suggestions) == call.kwargs["n"]
        assert all(math.isfinite(v) for v in result.probs.values()) and abs(sum(result.probs.values()) - 1) < 1e-3
        strict_json(json.dumps(result.to_dict(), ensure_ascii=False))


def alert_rules() -> st.SearchStrategy[str]:
    names = st.sampled_from(list(_labels()) + ["negative", "NEGATIVE", "joy", ""])
    number = st.sampled_from(["3", "0", "-1", "0.5", "1e999", "nan", "inf", "1e-300", "99999999999999999999"])
    unit = st.sampled_from(["s", "ms", "min", "h", "", "x"])
    grammar = st.builds(lambda a, b, op, n, u, p: f"{a}{'|' + b if b else ''}{op}{n}{u}{p}", names,
                        st.one_of(st.none(), names),
                        st.sampled_from([">", ">=", " > ", "<", ""]), number, unit,
                        st.sampled_from(["", "@0.6", "@0", "@1.5", "@nan", "@-1"]))
    return st.one_of(grammar, any_text(30))


def check_alert_rule(text: str, workdir: Path) -> None:
    """AlertRule.parse: a rule with a finite positive duration and a threshold in (0, 1], or a
    ConfigError."""
    from edgekit.timeline import AlertRule

    rule = attempt(AlertRule.parse, text, _labels())
    if rule is not None:
        assert math.isfinite(rule.min_duration_ms) and rule.min_duration_ms > 0, rule
        assert rule.min_prob is None or 0 < rule.min_prob <= 1, rule
        assert rule.emotions and set(rule.emotions) <= set(_labels()), rule


def check_identity_gallery(data: bytes, workdir: Path) -> None:
    """Gallery over any file content: loaded, rebuilt (old file moved aside intact) or refused
    with a typed error; a loaded gallery answers queries with finite similarities."""
    from edgekit.identity.gallery import Gallery

    path = fresh_dir(workdir, "gallery") / "identity_gallery.json"
    path.write_bytes(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gallery = attempt(Gallery, "0" * 64, 4, path)
    if gallery is None:
        assert path.read_bytes() == data
        return
    if gallery.recovered_from is not None:
        assert gallery.recovered_from.read_bytes() == data
    name, similarity = gallery.best_match(np.array([1.0, 0.0, 0.0, 0.0]))
    assert (name is None and similarity == -1.0) or math.isfinite(similarity)
    gallery.list()


def gallery_files() -> st.SearchStrategy[bytes]:
    row = st.one_of(st.lists(st.floats(-1, 1), min_size=4, max_size=4),
                    st.lists(st.one_of(st.floats(-1, 1), st.floats(allow_nan=True, allow_infinity=True)), max_size=5))
    vectors = st.lists(row, max_size=3)
    people = st.dictionaries(st.one_of(st.text(max_size=8), st.just("")), vectors, max_size=3)
    docs = st.builds(lambda kind, version, sha, dim, ppl: {"kind": kind, "version": version, "model_sha256": sha,
                                                           "dim": dim,
                                                           "people": ppl},
                     maybe(["identity-gallery"], st.text(max_size=5)), maybe([1], st.integers(-1, 3)),
                     maybe(["0" * 64], st.text(max_size=8)), maybe([4], st.integers(-1, 10)), people)
    return st.one_of(docs.map(lambda d: json.dumps(d).encode()), stored_documents())


#: Import files that are not files: a FIFO (must not block) and a link to /dev/zero (must not be read).
SPECIAL_IMPORTS = ("<fifo>", "<link to /dev/zero>")


def _valid_gallery_exports() -> st.SearchStrategy[bytes]:
    """Exports of 4-value galleries that must import: names check_name accepts, unit embeddings."""
    from edgekit.errors import InputError
    from edgekit.identity.gallery import check_name

    def named(name: str) -> bool:
        try:
            return bool(check_name(name))
        except InputError:
            return False

    row = st.lists(st.floats(-1, 1), min_size=4, max_size=4).filter(lambda v: np.linalg.norm(v) > 0.1)
    unit = row.map(lambda v: (np.asarray(v) / np.linalg.norm(v)).tolist())
    people = st.dictionaries(st.text(min_size=1, max_size=12).filter(named), st.lists(unit, min_size=1, max_size=3),
                             max_size=3)
    return people.map(lambda ppl: json.dumps({"kind": "identity-gallery", "version": 1, "model_sha256": "0" * 64,
                                              "dim": 4, "people": ppl}).encode())


def _valid_feedback_exports() -> st.SearchStrategy[bytes]:
    from edgekit.captioning import LANGS, STYLES

    event = st.fixed_dictionaries({
        "action": st.sampled_from(["like", "dislike", "used"]),
        "text": st.text(min_size=1, max_size=30).filter(str.strip),
        "style": st.one_of(st.none(), st.sampled_from(STYLES)), "scene": st.none(), "emotion": st.none(),
        "lang": st.sampled_from(LANGS), "ts": st.floats(0, 2e9), "id": st.text(min_size=1, max_size=64)})
    return st.lists(event, max_size=5).map(lambda ev: json.dumps({"kind": "feedback", "version": 1, "events": ev,
                                                                   "folded": None}).encode())


def store_imports() -> st.SearchStrategy[Tuple[str, Any, bool]]:
    """``(store, file content or a SPECIAL_IMPORTS marker, must import)``."""
    special = st.sampled_from(SPECIAL_IMPORTS)
    return st.one_of(
        st.tuples(st.just("gallery"), _valid_gallery_exports(), st.just(True)),
        st.tuples(st.just("gallery"), st.one_of(gallery_files(), special), st.just(False)),
        st.tuples(st.just("feedback"), _valid_feedback_exports(), st.just(True)),
        st.tuples(st.just("feedback"), st.one_of(feedback_files(), special), st.just(False)),
    )


def _import_file(folder: Path, content: Any) -> Path:
    source = folder / "export.json"
    if content == SPECIAL_IMPORTS[0]:
        os.mkfifo(source)
    elif content == SPECIAL_IMPORTS[1]:
        source.symlink_to("/dev/zero")
    else:
        source.write_bytes(content)
    return source


def check_store_import(example: Tuple[str, Any, bool], workdir: Path) -> None:
    """``Gallery.import_`` / ``FeedbackStore.import_file`` of any file: imported (what was
    imported is on disk and reads back) or refused with a typed error leaving no store behind; a
    FIFO or a link to /dev/zero is refused (never blocks, never reads without end); the import file
    is never changed."""
    from edgekit.identity.gallery import Gallery
    from edgekit.personalize import FeedbackStore

    store, content, valid = example
    folder = fresh_dir(workdir, "store_import")
    source = _import_file(folder, content)
    target = folder / ("identity_gallery.json" if store == "gallery" else "feedback.json")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if store == "gallery":
            done = attempt(Gallery("0" * 64, 4, target).import_, source, must_succeed=valid)
            if done is not None:
                again = Gallery("0" * 64, 4, target)
                assert set(done) == {p.name for p in again.list()}
                assert all(math.isfinite(sim) for _, sim in again.ranked(np.array([1.0, 0.0, 0.0, 0.0])))
        else:
            done = attempt(FeedbackStore(target).import_file, source, must_succeed=valid)
            if done is not None:
                assert len(FeedbackStore(target).events()) == done
    if done is None:
        assert not target.exists(), "a refused import changed the store"
    if isinstance(content, bytes):
        assert source.read_bytes() == content, "the import file was changed"
    else:
        assert done is None, f"{content} was imported"


#: (fixture folder / file-name prefix, parser module, function) of the benchmark output parsers.
PARSERS = (("benchmark_model/", "benchmark_model", "parse"), ("adb/devices_", "adb", "parse_devices"),
           ("adb/error_", "adb", "parse_devices"), ("adb/getprop_", "adb", "parse_getprop"),
           ("adb/thermal_", "adb", "parse_thermal"), ("adb/cpufreq_", "adb", "parse_cpu_max_freqs"),
           ("jetson/tegrastats_", "tegrastats", "parse"), ("jetson/trtexec_", "trtexec", "parse"),
           ("jetson/nvpmodel_", "jetson", "parse_nvpmodel"), ("jetson/jetson_clocks_", "jetson", "parse_jetson_clocks"))
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bench"


@functools.lru_cache(maxsize=None)
def parser_samples() -> Tuple[Tuple[str, str, str], ...]:
    """(parser module, function, sample text) for every recorded tool output in tests/fixtures."""
    out = []
    for path in sorted(FIXTURES.rglob("*.txt")):
        rel = path.relative_to(FIXTURES).as_posix()
        for prefix, module, func in PARSERS:
            if rel.startswith(prefix):
                out.append((module, func, path.read_text(encoding="utf-8", errors="replace")))
    return tuple(out)


_LINE_JUNK = ("", "nan", "-1", "1e999", "inf", "x", "%", ":", "=", "\x00", "99999999999999999999", "①", "\r")


@st.composite
def tool_outputs(draw: Callable) -> Tuple[str, str, str]:
    """A recorded tool output, with lines dropped, repeated, cut or with numbers replaced."""
    import re

    module, func, text = draw(st.sampled_from(parser_samples()))
    lines = text.splitlines()
    for _ in range(draw(st.integers(0, 4))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["drop", "repeat", "cut", "numbers", "insert"]))
        if op == "drop":
            del lines[i]
        elif op == "repeat":
            lines.insert(i, lines[i])
        elif op == "cut":
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
        elif op == "numbers":
            lines[i] = re.sub(r"\d+(\.\d+)?", lambda m: draw(st.sampled_from(_LINE_JUNK)), lines[i])
        else:
            lines.insert(i, draw(any_text(40)))
    return module, func, "\n".join(lines)


def check_tool_output(example: Tuple[str, str, str], workdir: Path) -> None:
    """Benchmark output parsers: a parsed result or a ToolOutputError naming the line."""
    module, func, text = example
    parse = getattr(importlib.import_module(f"benchmarks.parsers.{module}"), func)
    attempt(parse, text)
