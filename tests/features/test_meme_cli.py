"""Folder batches (manifest, one bad file does not stop the rest) and ``edgekit meme`` end to end."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from edgekit import load_image
from edgekit.assets import demo_photo
from edgekit.cli import main
from edgekit.errors import ConfigError, InputError
from edgekit.meme import make_memes


ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    """Two good photos (one nested), a truncated JPEG, a photo without a face, non-photo files."""
    root = tmp_path_factory.mktemp("memes") / "photos"
    (root / "sub").mkdir(parents=True)
    photo = load_image(demo_photo())
    cv2.imwrite(str(root / "a.png"), photo)
    cv2.imwrite(str(root / "sub" / "b.jpg"), photo[40:460, 60:500])
    jpeg = cv2.imencode(".jpg", photo)[1].tobytes()
    (root / "broken.jpg").write_bytes(jpeg[: len(jpeg) // 3])
    cv2.imwrite(str(root / "noface.png"), np.full((200, 300, 3), 120, np.uint8))
    (root / "notes.txt").write_text("not a photo")
    cv2.imwrite(str(root / ".hidden.png"), photo)
    return root


def read_manifest(path: Path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_batch_records_failures_and_keeps_going(photos, tmp_path):
    seen = []
    result = make_memes(photos, tmp_path / "out", seed=1, lang="en", progress=False, on_item=seen.append)
    assert [item.source.name for item in seen] == ["a.png", "broken.jpg", "noface.png", "b.jpg"]
    assert [p.relative_to(tmp_path / "out").as_posix() for p in result.outputs] == ["a.png", "sub/b.jpg"]
    assert Image.open(tmp_path / "out" / "sub" / "b.jpg").format == "JPEG"
    rows = read_manifest(result.manifest)
    assert [(r["source"], r["ok"]) for r in rows] == [("a.png", True), ("broken.jpg", False), ("noface.png", False),
                                                      ("sub/b.jpg", True)]
    broken, noface = rows[1], rows[2]
    assert broken["error_type"] == "ImageReadError" and "truncated" in broken["error"]
    assert noface["error_type"] == "NoFaceError" and "--text" in noface["error"]
    assert rows[0]["caption"] and rows[0]["emotion"] and rows[0]["output"] == "a.png"
    assert len(result.failed) == 2


def test_batch_with_text_styles_and_animation(photos, tmp_path):
    with_text = make_memes(photos, tmp_path / "text", text="same caption", progress=False)
    assert len(with_text.outputs) == 3 and [i.source.name for i in with_text.failed] == ["broken.jpg"]
    one = tmp_path / "one"
    one.mkdir()
    (one / "a.png").write_bytes((photos / "a.png").read_bytes())
    styled = make_memes(one, tmp_path / "styled", styles=2, seed=1, lang="en", animated="gif", progress=False)
    rows = read_manifest(styled.manifest)
    assert [r["output"] for r in rows] == [f"a_{i + 1}_{r['style']}.gif" for i, r in enumerate(rows)]
    assert len(rows) == 2 and rows[0]["style"] != rows[1]["style"] and rows[0]["frames"] > 2


def test_batch_bad_folders(photos, tmp_path):
    with pytest.raises(InputError, match="not a folder"):
        make_memes(photos / "a.png", tmp_path / "o")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no photos"):
        make_memes(tmp_path / "empty", tmp_path / "o")
    with pytest.raises(ConfigError, match="input folder"):
        make_memes(photos, photos)


def edgekit_cli(*args, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    return subprocess.run([sys.executable, "-m", "edgekit", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_cli_end_to_end_on_the_demo_photo(tmp_path):
    proc = edgekit_cli("meme", "--seed", "1", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout.startswith("wrote astronaut_meme.png")
    assert Image.open(tmp_path / "astronaut_meme.png").size == (512, 512)


def run_cli(capsys, *args):
    code = main(["meme", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, [line for line in err.splitlines() if line.startswith("edgekit: error:")]


def test_cli_outputs_styles_gif_and_json(photos, tmp_path, capsys):
    code, out, errors = run_cli(capsys, photos / "a.png", "-o", tmp_path / "m.gif", "--text", "zoom ٩(◕‿◕)۶")
    assert code == 0 and not errors and Image.open(tmp_path / "m.gif").is_animated
    code, out, _ = run_cli(capsys, photos / "a.png", "-o", tmp_path / "s" / "m.png", "--styles", "2", "--json",
                           "--lang", "en", "--seed", "2")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(rows) == 2 and all(Path(r["output"]).is_file() for r in rows)
    assert {Path(r["output"]).name for r in rows} == {f"m_{i + 1}_{r['style']}.png" for i, r in enumerate(rows)}
    code, out, _ = run_cli(capsys, photos / "a.png", "-o", tmp_path / "w.webp", "--webp", "--text", "webp")
    assert code == 0 and Image.open(tmp_path / "w.webp").is_animated


def test_cli_folder_reports_each_bad_file_once(photos, tmp_path, capsys):
    code, out, errors = run_cli(capsys, photos, "-o", tmp_path / "memes", "--seed", "1", "--lang", "en",
                                "--no-progress")
    assert code == 1 and len(errors) == 2
    assert any("broken.jpg" in e for e in errors) and any("noface.png" in e and "--text" in e for e in errors)
    assert "wrote 2 meme(s)" in out and (tmp_path / "memes" / "manifest.jsonl").is_file()


@pytest.mark.parametrize("args, code, message", [
    (["{noface}"], 1, "no face found"),
    (["{a}", "--face", "3"], 1, "no face 3"),
    (["{a}", "-o", "{tmp}/x.txt"], 2, "does not match the output type"),
    (["{a}", "-o", "{tmp}/x.png", "--gif"], 2, "does not match the output type"),
    (["{a}", "--style", "baroque", "-o", "{tmp}/x.png"], 2, "unknown style"),
    (["{a}", "--text", "", "-o", "{tmp}/x.png"], 1, "caption is empty"),
    (["{a}", "--text", "x", "--font", "{tmp}/none.ttf", "-o", "{tmp}/x.png"], 1, "no such font file"),
    (["{a}", "--text", "abc \u0378", "-o", "{tmp}/x.png"], 1, "U+0378"),
    (["{missing}"], 1, "no such file"),
    (["{a}", "--styles", "2", "--text", "x"], 2, "--styles"),
])
def test_cli_bad_input_prints_one_error_line(photos, tmp_path, capsys, args, code, message):
    paths = {"a": photos / "a.png", "noface": photos / "noface.png", "missing": photos / "missing.jpg", "tmp": tmp_path}
    got, _, errors = run_cli(capsys, *[a.format(**paths) for a in args])
    assert got == code and len(errors) == 1 and message in errors[0], errors


def test_demo_makes_a_meme_and_falls_back_to_english_without_a_cjk_font(tmp_path, capsys, monkeypatch):
    import edgekit.meme.maker as maker
    from edgekit.errors import FontError

    real = maker.chain_for

    def no_cjk(text, lang, font=None):
        if lang == "zh":
            raise FontError("no installed font has glyphs for '开'", repr(text), "apt install fonts-noto-cjk")
        return real(text, lang, font)

    monkeypatch.setattr(maker, "chain_for", no_cjk)
    assert main(["demo", "--out-dir", str(tmp_path), "--seed", "1"]) == 0
    out, err = capsys.readouterr()
    assert "making an English meme instead" in err and "fonts-noto-cjk" in err
    assert f"wrote {tmp_path / 'astronaut_meme.png'}" in out.splitlines()[-3]
    assert Image.open(tmp_path / "astronaut_meme.png").size == (512, 512)
