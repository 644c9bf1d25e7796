"""On-device personalization: feedback store persistence, re-ranking, decay, export/reset, corrupt
and newer files, concurrent and killed writers (edgekit.personalize)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from edgekit.captioning import Caption
from edgekit.errors import ConfigError, InputError
from edgekit.personalize import FeedbackStore, FeedbackWarning
from edgekit.personalize.preferences import DEFAULT_HALF_LIFE_DAYS

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_800_000_000.0
DAY = 86400.0


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "data"
    monkeypatch.setenv("EDGEKIT_DATA_DIR", str(folder))
    return folder


def cap(text: str, style: str) -> Caption:
    return Caption(text, "sadness", style, "exam", "zh" if not text.isascii() else "en", "model")


CANDIDATES = [
    cap("考试周，心情碎了一地。", "plain"),
    cap("Oh great, exam week again. Love that for me.", "sarcastic"),
    cap("复习到凌晨，想找个角落躲起来！(｡•́︿•̀｡)", "anime"),
    cap("没关系，成绩出来那一刻，心里有点难过，抱你。", "wholesome"),
]


def order(store: FeedbackStore) -> list:
    return [r.caption.style for r in store.rerank(CANDIDATES, now=NOW)]


def test_default_store_lives_in_the_data_dir_and_is_created_on_first_record(data_dir):
    store = FeedbackStore()
    assert store.path == data_dir / "feedback.json"
    assert store.events() == [] and not data_dir.exists()  # reading creates nothing
    store.record("like", "好耶", style="slang")
    doc = json.loads(store.path.read_text(encoding="utf-8"))
    assert doc["kind"] == "feedback" and doc["version"] == 1 and doc["events"][0]["text"] == "好耶"
    assert oct(store.path.stat().st_mode & 0o777) == "0o600"


def test_rankings_shift_as_feedback_accumulates_and_survive_a_restart():
    store = FeedbackStore()
    assert order(store) == ["plain", "sarcastic", "anime", "wholesome"]  # no feedback: input order
    anime_scores = []
    for i, text in enumerate(["二次元冲鸭！(ﾉ>ω<)ﾉ", "今天也要元气满满哒～", "呜呜呜考完啦 (T_T)"]):
        store.record("like", text, style="anime", ts=NOW - i)
        anime_scores.append(store.preferences(NOW).style("anime"))
    assert anime_scores == sorted(anime_scores) and anime_scores[0] > 0  # each like adds weight
    assert order(store)[0] == "anime"  # liked style rises to the top

    store.record("dislike", "Oh great, exam week. Truly iconic.", style="poetic", ts=NOW)
    before = {r.caption.style: r.score for r in store.rerank(CANDIDATES, now=NOW)}
    assert before["sarcastic"].phrase < 0 and before["sarcastic"].style == 0  # shares "oh great", "exam week"
    assert order(store)[-1] == "sarcastic"  # disliked phrase falls to the bottom
    assert before["plain"].total == 0  # shares nothing with either

    restarted = FeedbackStore()  # a new process reading the same file
    assert order(restarted) == order(store)
    assert {r.caption.style: r.score for r in restarted.rerank(CANDIDATES, now=NOW)} == before


def test_exact_disliked_caption_ranks_below_unrated_ones():
    store = FeedbackStore()
    store.dislike(CANDIDATES[0].text, style="plain", ts=NOW)
    assert order(store)[-1] == "plain"
    store.like(CANDIDATES[0].text, style="plain", ts=NOW)
    store.like(CANDIDATES[0].text, style="plain", ts=NOW)
    assert order(store)[0] == "plain"  # opinions can change back


def test_feedback_decays_with_its_half_life():
    fresh, old = FeedbackStore(Path(os.environ["EDGEKIT_DATA_DIR"]) / "a.json"), FeedbackStore(
        Path(os.environ["EDGEKIT_DATA_DIR"]) / "b.json")
    fresh.like("好耶", style="slang", ts=NOW)
    old.like("好耶", style="slang", ts=NOW - DEFAULT_HALF_LIFE_DAYS * DAY)
    assert fresh.preferences(NOW).styles["slang"].liked == pytest.approx(1.0)
    assert old.preferences(NOW).styles["slang"].liked == pytest.approx(0.5)
    assert 0 < old.preferences(NOW).style("slang") < fresh.preferences(NOW).style("slang")


def test_folding_old_events_keeps_every_preference(data_dir):
    small = FeedbackStore(data_dir / "small.json", max_events=5)
    big = FeedbackStore(data_dir / "big.json", max_events=1000)
    texts = ["好耶", "Oh great, exam week.", "复习到凌晨", "cozy rainy day", "这波快乐直接拉满！", "not bad at all"]
    for i in range(12):
        for store in (small, big):
            store.record(("like", "dislike", "used")[i % 3], texts[i % len(texts)],
                         style=("anime", "plain", "slang", "poetic")[i % 4], ts=NOW - (12 - i) * DAY)
    assert len(small.events()) == 5 and small.summary()["folded_events"] == 7
    a, b = small.preferences(NOW), big.preferences(NOW)
    for cand in CANDIDATES + [cap(t, "anime") for t in texts]:
        assert a.score(cand.text, cand.style).total == pytest.approx(b.score(cand.text, cand.style).total, abs=1e-5)
    assert FeedbackStore(small.path).preferences(NOW).style("anime") == pytest.approx(b.style("anime"), abs=1e-5)


def test_export_reset_import(tmp_path):
    store = FeedbackStore()
    ids = {store.record(a, t, style="anime").id for a, t in [("like", "好耶"), ("used", "冲鸭"), ("dislike", "无聊")]}
    exported = tmp_path / "backup.json"
    assert store.export(exported) == 3
    done = store.reset()
    assert done.events == 3 and store.path in done.files and not store.path.exists()
    assert store.events() == [] and order(store) == ["plain", "sarcastic", "anime", "wholesome"]
    assert store.import_file(exported) == 3
    assert {e.id for e in FeedbackStore().events()} == ids
    assert store.import_file(exported) == 0  # idempotent
    with pytest.raises(InputError, match="not an edgekit feedback export"):
        (tmp_path / "x.json").write_text('{"kind": "gallery", "version": 1}')
        store.import_file(tmp_path / "x.json")
    with pytest.raises(InputError, match="no such file"):
        store.import_file(tmp_path / "missing.json")


def _write_three(store: FeedbackStore) -> list:
    return [store.record("like", t, style="anime", ts=NOW + i).id for i, t in enumerate(["一号", "二号", "三号"])]


@pytest.mark.parametrize("damage", ["truncate", "garbage", "bad_event"])
def test_corrupt_store_is_backed_up_rebuilt_and_reported(damage):
    store = FeedbackStore()
    ids = _write_three(store)
    raw = store.path.read_bytes()
    if damage == "truncate":  # torn in the third event: the first two are recovered
        damaged, expected = raw[: raw.index("三号".encode())], ids[:2]
    elif damage == "garbage":
        damaged, expected = b"\xff\xfe\x00 not json", []
    else:  # valid JSON, one event with an unknown action: the other two are kept
        doc = json.loads(raw)
        doc["events"][1]["action"] = "meh"
        damaged, expected = json.dumps(doc).encode(), [ids[0], ids[2]]
    store.path.write_bytes(damaged)
    fresh = FeedbackStore()
    with pytest.warns(FeedbackWarning, match="unreadable.*moved to .*corrupt-.*rebuilt"):
        events = fresh.events()
    assert [e.id for e in events] == expected
    backups = fresh.backups()
    assert len(backups) == 1 and backups[0].read_bytes() == damaged  # the damaged file is kept as it was
    assert json.loads(fresh.path.read_text(encoding="utf-8"))["kind"] == "feedback"  # rebuilt, valid
    fresh.record("like", "四号")
    assert len(FeedbackStore().events()) == len(expected) + 1  # no second warning, nothing lost
    assert fresh.summary()["backups"] == [str(backups[0])]


def test_newer_or_foreign_store_file_is_refused_and_left_alone(data_dir):
    data_dir.mkdir(parents=True)
    path = data_dir / "feedback.json"
    path.write_text(json.dumps({"kind": "feedback", "version": 99, "events": []}))
    store = FeedbackStore()
    with pytest.raises(ConfigError, match="newer edgekit"):
        store.events()
    with pytest.raises(ConfigError, match="newer edgekit"):
        store.record("like", "好耶")
    assert json.loads(path.read_text())["version"] == 99 and store.backups() == []


def test_bad_feedback_input_names_the_value():
    store = FeedbackStore()
    with pytest.raises(ConfigError, match="unknown feedback action"):
        store.record("love", "好耶")
    for blank in ("", "   ", "\u3000\n"):
        with pytest.raises(InputError, match="caption text is empty"):
            store.record("like", blank)
    with pytest.raises(ConfigError, match="unknown style"):
        store.record("like", "好耶", style="bogus")
    with pytest.raises(ConfigError, match="half_life_days"):
        FeedbackStore(half_life_days=0)
    event = store.record("LIKE", "  好耶\t冲  ", style="二次元", emotion="开心", scene="和朋友聚会")
    assert (event.action, event.text, event.style, event.emotion, event.scene, event.lang) == \
        ("like", "好耶 冲", "anime", "happiness", "party", "zh")
    assert store.events() == [event]


WRITER = """
import sys
from edgekit.personalize import FeedbackStore
store = FeedbackStore(sys.argv[1])
for i in range(int(sys.argv[2])):
    print(store.record("like", f"caption {sys.argv[3]} {i}", style="anime").id, flush=True)
"""


def _writer(path: Path, count: int, tag: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(count), tag], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_concurrent_writers_lose_no_event(data_dir):
    path = data_dir / "feedback.json"
    procs = [_writer(path, 25, tag) for tag in "ab"]
    acked = set()
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        acked |= set(out.split())
    assert len(acked) == 50 and {e.id for e in FeedbackStore(path).events()} == acked


def test_threads_sharing_or_not_sharing_a_store_object_lose_no_event(data_dir):
    import threading

    one, other = FeedbackStore(), FeedbackStore()

    def write(store: FeedbackStore, tag: str) -> None:
        for i in range(20):
            store.record("like", f"{tag} {i}")

    threads = [threading.Thread(target=write, args=a) for a in ((one, "a"), (one, "b"), (other, "c"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({e.text for e in FeedbackStore().events()}) == 60


def test_writer_killed_mid_stream_loses_no_acknowledged_event(data_dir):
    path = data_dir / "feedback.json"
    proc = _writer(path, 10**7, "k")
    acked = []
    deadline = time.monotonic() + 120
    while len(acked) < 40 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        acked.append(line.strip())
    proc.send_signal(signal.SIGKILL)
    rest, _ = proc.communicate(timeout=30)
    acked += rest.split()  # printed after record() returned, before the kill
    assert len(acked) >= 40
    store = FeedbackStore(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stored = {e.id for e in store.events()}
    assert set(acked) <= stored  # every acknowledged event is on disk
    assert not [w for w in caught if issubclass(w.category, FeedbackWarning)]  # the file is never torn
    store.record("used", "after the crash")
    assert not list(path.parent.glob(".feedback.json.*.tmp*"))  # a killed writer's temp file is cleaned up


@pytest.mark.parametrize("kwargs, message", [
    ({"half_life_days": 0}, "half_life_days=0: must be a finite number > 0. feedback weighs half after this many "
                            "days, e.g. half_life_days=30"),
    ({"half_life_days": float("nan")}, "half_life_days=nan: must be a finite number > 0"),
    ({"half_life_days": True}, "half_life_days=True: must be a finite number > 0"),
    ({"max_events": 0}, "max_events=0: must be an integer in [1, 20000]. e.g. max_events=2000; older events are "
                        "folded into tallies"),
    ({"max_events": 2000.0}, "max_events=2000.0: must be an integer in [1, 20000]"),
])
def test_bad_store_options_name_the_parameter_the_value_and_what_to_pass(kwargs, message):
    with pytest.raises(ConfigError) as err:
        FeedbackStore(**kwargs)
    assert str(err.value).startswith(message)
