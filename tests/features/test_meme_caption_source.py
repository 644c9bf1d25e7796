"""Issue #25: every meme entry point takes ``caption_source`` ("library", the captioning default, or
"model"), passes it to the captioner, checks it before any detection, ignores it with ``text``
and records who wrote the caption (``Meme.caption_source``, the JSON's ``caption_source``)."""
from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import List

import cv2
import numpy as np
import pytest

import edgekit
import edgekit.captioning as captioning
from edgekit.assets import demo_photo
from edgekit.batch import BatchWorker, run_local
from edgekit.captioning import Caption
from edgekit.cli import main
from edgekit.errors import ConfigError
from edgekit.meme import maker, make_gif, make_meme, make_memes, meme_styles
from edgekit.task_options import CaptionerOptions
from edgekit.video import VideoWriter

BAD = "caption_source='gpt': must be one of library, model"
#: The module (``edgekit.meme.animate`` is also the name of its function).
animate_module = importlib.import_module("edgekit.meme.animate")


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return edgekit.load_image(demo_photo())


@pytest.fixture(scope="module")
def folder(tmp_path_factory, photo) -> Path:
    root = tmp_path_factory.mktemp("source") / "photos"
    root.mkdir()
    cv2.imwrite(str(root / "a.png"), photo)
    return root


@pytest.fixture
def asked(monkeypatch) -> List[str]:
    """The source of every caption request; each answer is a caption "written" by that source."""
    sources: List[str] = []

    def fake(emotion, style=None, scene=None, lang="zh", n=1, seed=None, source=CaptionerOptions.source):
        sources.append(source)
        return [Caption(f"said by {source}", "happiness", style or "plain", scene, lang, source) for _ in range(n)]

    def fake_styles(emotion, scene=None, lang="zh", styles=None, seed=None, source=CaptionerOptions.source):
        sources.append(source)
        return [Caption(f"said by {source} {s}", "happiness", s, scene, lang, source) for s in styles]

    monkeypatch.setattr(captioning, "caption", fake)
    monkeypatch.setattr(captioning, "caption_styles", fake_styles)
    return sources


@pytest.fixture
def no_detection(monkeypatch):
    """Detection (photos and clips) fails the test if it runs."""
    def detect(*args, **kwargs):
        raise AssertionError("detection ran before the options were checked")

    monkeypatch.setattr(maker, "detect_faces", detect)
    monkeypatch.setattr(animate_module, "_read_clip", detect)


# ------------------------------------------------------------------ Python API
def test_the_default_is_the_captioning_default(photo, asked):
    meme = make_meme(photo, seed=1, lang="en")
    assert asked == [CaptionerOptions.source] == ["library"]
    assert meme.caption_source == "library" and meme.to_dict()["caption_source"] == "library"


def test_the_model_source_reaches_the_captioner_from_every_entry_point(photo, asked, tmp_path):
    meme = make_meme(photo, seed=1, lang="en", caption_source="model")
    assert asked == ["model"] and meme.caption == "said by model" and meme.caption_source == "model"
    assert meme.to_dict()["caption_source"] == "model" and meme.to_dict()["caption_fallback_reason"] is None
    asked.clear()
    memes = meme_styles(photo, 2, seed=1, lang="en", caption_source="model")
    assert asked == ["model"] and [m.caption_source for m in memes] == ["model", "model"]
    asked.clear()
    gif = make_gif(photo, seed=1, lang="en", caption_source="model")
    assert asked == ["model"] and gif.caption_source == "model" and gif.to_dict()["caption_source"] == "model"


def test_a_clip_gif_records_its_caption_source(photo, asked, tmp_path):
    path = tmp_path / "clip.avi"
    with VideoWriter(path, 10.0, (400, 300)) as writer:
        for i in range(6):
            writer.write(np.ascontiguousarray(photo[30:330, 10 + 4 * i:410 + 4 * i]))
    gif = make_gif(path, seed=1, lang="en", caption_source="model")
    assert asked == ["model"] and gif.caption_info.source == "model"
    assert gif.to_dict()["caption_source"] == "model" and gif.caption == "said by model"
    own = make_gif(path, text="mine", caption_source="model")
    assert asked == ["model"] and own.caption_source == "user" and own.to_dict()["caption_source"] == "user"


def test_text_ignores_the_source(photo, asked):
    meme = make_meme(photo, text="mine", caption_source="model")
    assert asked == [] and meme.caption == "mine" and meme.caption_info is None
    assert meme.caption_source == "user" and meme.to_dict()["caption_source"] == "user"


@pytest.mark.parametrize("make", [
    lambda p, f: make_meme(p, caption_source="gpt"),
    lambda p, f: make_meme(p, text="mine", caption_source="gpt"),  # ignored with text, still checked
    lambda p, f: meme_styles(p, 2, caption_source="gpt"),
    lambda p, f: make_gif(p, caption_source="gpt"),
    lambda p, f: make_gif(f / "clip.mp4", caption_source="gpt"),
    lambda p, f: make_memes(f, f.parent / "out", caption_source="gpt"),
    lambda p, f: BatchWorker("meme", caption_source="gpt"),
])
def test_a_bad_source_is_refused_before_detection(photo, folder, no_detection, make):
    with pytest.raises(ConfigError) as err:
        make(photo, folder)
    assert str(err.value).startswith(BAD) and "use library" in str(err.value)
    assert not (folder.parent / "out").exists()


def test_the_real_caption_model_captions_a_meme(photo):
    """No fake: the bundled caption model (or its library fallback, with the reason)."""
    meme = make_meme(photo, seed=1, lang="en", caption_source="model")
    info = meme.caption_info
    assert (info.source, info.fallback_reason is None) in (("model", True), ("library", False))
    assert meme.to_dict()["caption_source"] == info.source == meme.caption_source


# ------------------------------------------------------------------ batches
def test_a_batch_records_the_source(folder, asked, tmp_path):
    result = make_memes(folder, tmp_path / "out", seed=1, lang="en", progress=False, caption_source="model")
    records = [json.loads(line) for line in result.manifest.read_text(encoding="utf-8").splitlines()]
    assert asked == ["model"] and [(r["ok"], r["caption_source"]) for r in records] == [(True, "model")]
    assert result.items[0].records[0]["caption"] == "said by model"


def test_a_batch_worker_passes_the_source(folder, asked, tmp_path):
    assert "caption_source" not in BatchWorker("meme", seed=1).config  # default: stored configs unchanged
    worker = BatchWorker("meme", seed=1, lang="en", caption_source="model")
    assert worker.config["caption_source"] == "model"
    run = run_local(worker, folder, tmp_path / "out")
    assert [r["caption_source"] for recs in run.records for r in recs] == ["model"]
    assert set(asked) == {"model"}  # the warm-up meme too: the model is loaded before the first item


# ------------------------------------------------------------------ CLI
def run_cli(capsys, *args):
    code = main(["meme", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_flag(folder, asked, tmp_path, capsys):
    code, out, err = run_cli(capsys, folder / "a.png", "-o", tmp_path / "m.png", "--json", "--caption-source", "model")
    assert code == 0, err
    assert asked == ["model"] and json.loads(out)["caption_source"] == "model"
    code, out, err = run_cli(capsys, folder / "a.png", "-o", tmp_path / "d.png", "--json")
    assert code == 0 and asked == ["model", "library"] and json.loads(out)["caption_source"] == "library"
    code, out, err = run_cli(capsys, folder / "a.png", "-o", tmp_path / "t.png", "--json", "--text", "mine",
                             "--caption-source", "model")
    assert code == 0 and len(asked) == 2 and json.loads(out)["caption_source"] == "user"
    code, out, err = run_cli(capsys, folder, "-o", tmp_path / "batch", "--json", "--styles", "2", "--seed", "1",
                             "--caption-source", "model", "--no-progress")
    assert code == 0, err
    assert [json.loads(line)["caption_source"] for line in out.splitlines() if line.startswith("{")] == ["model"] * 2


@pytest.mark.parametrize("where", ["a.png", "."])
def test_cli_bad_source_exits_2_before_detection(folder, no_detection, tmp_path, capsys, where):
    code, out, err = run_cli(capsys, folder / where, "-o", f"{tmp_path}/x/", "--caption-source", "gpt")
    assert code == 2 and BAD in err and not (tmp_path / "x").exists()


def test_cli_help_comes_from_the_captioner_options(capsys):
    with pytest.raises(SystemExit):
        main(["meme", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    declared = CaptionerOptions.__dataclass_fields__["source"].metadata["help"]
    assert f"--caption-source SOURCE {declared} (default: {CaptionerOptions.source})" in text
