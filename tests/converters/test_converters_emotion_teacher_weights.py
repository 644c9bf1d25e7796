"""The teacher's kept weights (issue #26): ``train`` keeps every fold's weights with a sha256
descriptor, ``label`` runs their ensemble over new face crops and refuses a changed file, and
``crops`` makes LFW photos into the runtime's aligned crops for it."""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from converters.emotion import data, synthetic
from converters.emotion.teacher import ensemble, pack
from converters.emotion.teacher.__main__ import main

NAMES = [f"fer{i:07d}.png" for i in range(24)]


def _faces(n: int, seed: int) -> data.FaceSet:
    rng = np.random.default_rng(seed)
    images = np.stack([synthetic.synthetic_face(i % 8, rng) for i in range(n)])
    votes = np.zeros((n, 10), np.float32)
    votes[np.arange(n), np.arange(n) % 8] = 10
    return data.FaceSet(images, votes, [f"fer{i:07d}.png" for i in range(n)], "synthetic")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One tiny `train` through the CLI (2 folds, 1 epoch, 24 faces, a 24 px network input, CPU)."""
    pytest.importorskip("torch", reason="PyTorch is not installed here: the teacher runs on a lent GPU machine")
    pytest.importorskip("torchvision", reason="the teacher's ResNet-18 comes from torchvision")
    pytest.importorskip("matplotlib", reason="the teacher's report plots its learning curves")
    root = tmp_path_factory.mktemp("teacher")
    faces = pack.pack({"train": _faces(24, 0), "val": _faces(8, 1)}, root / "faces.npz")
    assert main(["train", "--pack", str(faces), "--out", str(root / "out"), "--work", str(root / "work"),
                 "--device", "cpu", "--folds", "2", "--max-epochs", "1", "--batch-size", "8",
                 "--input-size", "24", "--source-commit", "abc123"]) == 0
    return root


def _label(run: Path, images: Path, out: str, *extra: str) -> int:
    return main(["label", "--weights", str(run / "work" / "folds"), "--images", str(images),
                 "--out", str(run / out), "--device", "cpu", *extra])


@pytest.mark.train
def test_train_keeps_every_fold_with_its_sha256(run):
    folds = run / "work" / "folds"
    descriptor = json.loads((folds / "teacher_weights.json").read_text())
    assert [f["file"] for f in descriptor["files"]] == ["fold_0.pt", "fold_1.pt"]
    for f in descriptor["files"]:
        blob = (folds / f["file"]).read_bytes()
        assert (len(blob), hashlib.sha256(blob).hexdigest()) == (f["bytes"], f["sha256"])
    assert descriptor["architecture"]["arguments"] == {"arch": "resnet18", "num_classes": 8}
    assert {k: descriptor["input"][k] for k in ("image_size", "input_size", "colour")} == {
        "image_size": 48, "input_size": 24, "colour": "gray"}
    assert descriptor["labels"] == list(data.EMOTIONS) and descriptor["source_commit"] == "abc123"
    assert descriptor["produced_by"].startswith("python -m converters.emotion.teacher train --pack ")
    # The report step copies the descriptor (byte for byte) and says where the weights are.
    out = run / "out"
    assert (out / "teacher_weights.json").read_bytes() == (folds / "teacher_weights.json").read_bytes()
    sha = hashlib.sha256((out / "teacher_weights.json").read_bytes()).hexdigest()
    assert json.loads((out / "report.json").read_text())["weights"]["descriptor_sha256"] == sha
    assert sha in (out / "report.md").read_text() and "not kept" not in (out / "report.md").read_text()


@pytest.mark.train
def test_label_is_the_mean_of_the_folds_as_they_scored_validation(run, capsys):
    import torch

    sets = pack.unpack(run / "faces.npz")
    np.savez(run / "val.npz", images=sets["val"]["images"], names=sets["val"]["names"])
    assert _label(run, run / "val.npz", "val_labels.npz") == 0
    assert "8 faces labelled by 2 folds" in capsys.readouterr().out
    folds = [np.load(run / "work" / "folds" / f"fold_{k}.npz") for k in range(2)]
    with np.load(run / "val_labels.npz") as z:
        np.testing.assert_allclose(z["probs"], np.mean([f["val_probs"] for f in folds], axis=0), atol=1e-5)
        assert z["names"].tolist() == sets["val"]["names"].tolist() and z["labels"].tolist() == list(data.EMOTIONS)
        assert str(z["descriptor_sha256"]) == ensemble.sha256(run / "work" / "folds" / "teacher_weights.json")
    # Every training face, as the out-of-fold labels have them; each fold reproduces its held-out rows.
    nets, descriptor, _ = ensemble.load(run / "work" / "folds")
    probs, per_fold = ensemble.label(nets, descriptor, sets["train"]["images"])
    with np.load(run / "out" / "teacher_labels.npz") as z:
        assert probs.shape == z["probs"].shape == (24, 8)
    for k, f in enumerate(folds):
        np.testing.assert_allclose(per_fold[k][f["held"]], f["held_probs"], atol=1e-5)
    assert len(nets) == 2 and isinstance(nets[0], torch.nn.Module)


@pytest.mark.train
def test_label_reads_a_folder_of_crops_and_checks_against_a_committed_descriptor(run):
    val = pack.unpack(run / "faces.npz")["val"]
    folder = run / "crops" / "person"
    folder.mkdir(parents=True)
    for name, face in zip(val["names"], val["images"]):
        cv2.imwrite(str(folder / name), cv2.resize(face, (96, 96), interpolation=cv2.INTER_CUBIC))
    assert _label(run, run / "crops", "folder_labels.npz",
                  "--descriptor", str(run / "out" / "teacher_weights.json")) == 0
    with np.load(run / "folder_labels.npz") as z:
        assert z["names"].tolist() == [f"person/{n}" for n in sorted(val["names"])]
        assert z["probs"].shape == (8, 8)
        np.testing.assert_allclose(z["probs"].sum(1), 1.0, atol=1e-5)


@pytest.mark.train
def test_a_changed_weight_file_is_refused(run, capsys):
    tampered = run / "tampered"
    shutil.copytree(run / "work" / "folds", tampered)
    blob = bytearray((tampered / "fold_1.pt").read_bytes())
    blob[-100] ^= 1
    (tampered / "fold_1.pt").write_bytes(bytes(blob))
    args = ["label", "--weights", str(tampered), "--images", str(run / "faces.npz"), "--out", str(run / "x.npz")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "fold_1.pt: sha256" in err and "differs from" in err and "retrain with `python -m" in err
    (tampered / "fold_1.pt").unlink()
    assert main(args) == 2
    assert "fold_1.pt: does not exist" in capsys.readouterr().err
    (tampered / "teacher_weights.json").unlink()
    assert main(args) == 2
    assert "teacher_weights.json: does not exist. the shipped teacher kept no weights" in capsys.readouterr().err
    assert not (run / "x.npz").exists()


def test_crops_aligns_the_largest_face_of_each_lfw_photo(tmp_path, astronaut, capsys):
    person = tmp_path / "lfw" / "images" / "Eileen_Collins"
    person.mkdir(parents=True)
    cv2.imwrite(str(person / "Eileen_Collins_0001.jpg"), astronaut)
    cv2.imwrite(str(person / "Eileen_Collins_0002.jpg"), np.full((250, 250, 3), 128, np.uint8))  # no face
    assert main(["crops", "--lfw", str(tmp_path / "lfw"), "--out", str(tmp_path / "crops.npz")]) == 0
    assert "a face in 1 of 2 photos" in capsys.readouterr().err
    images, names = ensemble.read_faces(tmp_path / "crops.npz")
    assert names == ["Eileen_Collins/Eileen_Collins_0001.jpg"]
    assert images.shape == (1, 48, 48) and images.dtype == np.uint8 and images.std() > 10
    assert main(["crops", "--lfw", str(tmp_path), "--out", str(tmp_path / "none.npz")]) == 2
    assert "holds no LFW photos" in capsys.readouterr().err
