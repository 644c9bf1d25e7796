"""``edgekit enroll / identify / gallery / analyze --identify`` on the tiny identity model: output,
exit codes and one-line errors for every bad input."""
from __future__ import annotations

import json

import cv2
import pytest

from edgekit.cli import main
from identity_support import install_tiny_identity_model, no_face_photo, two_face_photo


@pytest.fixture
def env(tmp_path, monkeypatch):
    return install_tiny_identity_model(tmp_path / "models", monkeypatch)


@pytest.fixture
def photos(tmp_path, astronaut_path):
    two = tmp_path / "two_faces.png"
    none = tmp_path / "no_face.png"
    cv2.imwrite(str(two), two_face_photo(astronaut_path))
    cv2.imwrite(str(none), no_face_photo())
    return {"one": str(astronaut_path), "two": str(two), "none": str(none)}


def _errors(text: str):
    return [line for line in text.splitlines() if line.startswith("edgekit: error:")]


def test_enroll_identify_list_remove(env, photos, capsys):
    assert main(["enroll", "Astronaut", photos["one"]]) == 0
    assert "enrolled Astronaut: 1 photo(s) added, 1 in the gallery" in capsys.readouterr().out
    assert main(["identify", photos["one"]]) == 0
    assert "face 0" in (out := capsys.readouterr().out) and "Astronaut (similarity 1.000)" in out
    assert main(["identify", "--json", photos["one"]]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["faces"][0]["identity"]["name"] == "Astronaut"
    assert main(["gallery", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["people"] == [{"name": "Astronaut", "samples": 1}]
    assert main(["gallery", "remove", "Astronaut"]) == 0
    assert main(["gallery", "list"]) == 0
    assert "nobody is enrolled" in capsys.readouterr().out


def test_enroll_without_a_face_fails_with_one_line(env, photos, capsys):
    assert main(["enroll", "Ann", photos["none"]]) == 1
    err = capsys.readouterr().err
    assert any(photos["none"] in line and "no face found" in line for line in _errors(err))
    assert "'Ann' was not enrolled" in err


def test_enroll_with_several_faces_uses_the_largest(env, photos, capsys):
    assert main(["enroll", "Ann", photos["two"]]) == 0
    assert "2 faces; using face 0 (the largest" in capsys.readouterr().out
    assert main(["enroll", "Ann", photos["two"], "--face", "1"]) == 0
    assert main(["enroll", "Ann", photos["two"], "--face", "5"]) == 1
    assert "no face 5: 2 face(s) found" in capsys.readouterr().err


def test_bad_photo_does_not_stop_the_others(env, photos, capsys):
    assert main(["enroll", "Ann", photos["none"], photos["one"], "missing.jpg"]) == 1
    captured = capsys.readouterr()
    assert len(_errors(captured.err)) == 2
    assert "1 photo(s) added" in captured.out
    assert main(["identify", photos["none"], photos["one"]]) == 0  # a photo without faces is an answer, not an error
    captured = capsys.readouterr()
    assert f"{photos['none']}: no face found" in captured.out and "Ann" in captured.out and not _errors(captured.err)
    assert main(["identify", "missing.jpg", photos["one"]]) == 1
    captured = capsys.readouterr()
    assert len(_errors(captured.err)) == 1 and "Ann" in captured.out


def test_remove_unknown_name(env, photos, capsys):
    main(["enroll", "Ann", photos["one"]])
    assert main(["gallery", "remove", "Bob"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no person named 'Bob'" in err[0] and "enrolled: Ann" in err[0]


def test_export_import_and_foreign_model_gallery(env, photos, tmp_path, capsys, monkeypatch):
    main(["enroll", "Ann", photos["one"]])
    out = tmp_path / "export.json"
    assert main(["gallery", "export", str(out)]) == 0
    other = tmp_path / "other.json"
    assert main(["gallery", "import", str(out), "--gallery", str(other)]) == 0
    assert "imported 1 people: Ann" in capsys.readouterr().out
    install_tiny_identity_model(env.model.parent, monkeypatch, seed=2)  # another model version
    assert main(["gallery", "list"]) == 2  # a configuration problem: exit 2, one line
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "re-enroll" in err[0]


def test_corrupt_gallery_is_reported(env, photos, capsys):
    env.data_dir.mkdir(parents=True, exist_ok=True)
    env.gallery.write_text("{{{")
    assert main(["gallery", "list"]) == 0
    err = capsys.readouterr().err
    assert "gallery was unreadable; moved it to" in err and ".corrupt-" in err
    assert list(env.data_dir.glob("identity_gallery.json.corrupt-*"))


def test_analyze_identify(env, photos, capsys, tiny_emotion_model):
    main(["enroll", "Astronaut", photos["one"]])
    capsys.readouterr()
    emotion = ["--model", str(tiny_emotion_model)]
    assert main(["analyze", photos["one"], "--identify", *emotion]) == 0
    face = json.loads(capsys.readouterr().out.splitlines()[0])["faces"][0]
    assert face["identity"]["name"] == "Astronaut"
    assert main(["analyze", photos["one"], *emotion]) == 0
    assert "identity" not in json.loads(capsys.readouterr().out.splitlines()[0])["faces"][0]
