"""The offline teacher: packing faces for the GPU machine, its labels in the TensorFlow targets,
the shipped teacher labels' checksum, and (where PyTorch is installed) the K-fold trainer."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from converters.emotion import data, synthetic
from converters.emotion.teacher import labels, pack
from converters.emotion.teacher.train_torch import fold_of
from edgekit.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
TEACHER_REPORT = ROOT / "reports" / "emotion_teacher"


def _faces(n: int, seed: int = 0) -> data.FaceSet:
    rng = np.random.default_rng(seed)
    images = np.stack([synthetic.synthetic_face(i % 8, rng) for i in range(n)])
    votes = np.zeros((n, 10), np.float32)
    votes[np.arange(n), np.arange(n) % 8] = 10
    return data.FaceSet(images, votes, [f"fer{i:07d}.png" for i in range(n)], "synthetic")


def _write_labels(path: Path, names, probs) -> Path:
    np.savez_compressed(path, names=np.array(names), probs=np.asarray(probs, np.float32))
    return path


def test_pack_round_trip_is_lossless(tmp_path):
    sets = {"train": _faces(12), "val": _faces(5, seed=1)}
    path = pack.pack(sets, tmp_path / "faces.npz")
    back = pack.unpack(path)
    for split, faces in sets.items():
        np.testing.assert_array_equal(back[split]["images"], faces.images)
        np.testing.assert_array_equal(back[split]["votes"], faces.votes)
        assert back[split]["names"].tolist() == faces.names
    # Smaller than the raw pixels it holds (the point of WebP: FER+ must fit in one device call).
    assert path.stat().st_size < sum(f.images.nbytes + f.votes.nbytes for f in sets.values()) * 1.5


def test_pack_command_reads_a_ferplus_tree(tmp_path, capsys):
    from converters.emotion.teacher.__main__ import main

    root = synthetic.write_ferplus(tmp_path / "ferplus", per_class=2)
    assert main(["pack", "--data", str(root), "--out", str(tmp_path / "p.npz")]) == 0
    assert "16 training and 16 validation faces" in capsys.readouterr().out
    assert pack.unpack(tmp_path / "p.npz")["train"]["images"].shape == (16, 48, 48)


def test_folds_are_seeded_balanced_and_cover_every_row():
    f = fold_of(103, 5, seed=3)
    assert sorted(np.bincount(f).tolist()) == [20, 20, 21, 21, 21]
    np.testing.assert_array_equal(f, fold_of(103, 5, seed=3))
    assert not np.array_equal(f, fold_of(103, 5, seed=4))


def test_teacher_probabilities_follow_the_requested_names(tmp_path):
    probs = np.eye(8, dtype=np.float32)[[3, 1, 7]]
    path = _write_labels(tmp_path / "t.npz", ["a.png", "b.png", "c.png"], probs)
    got = labels.teacher_probabilities(path, ["c.png", "a.png"])
    np.testing.assert_array_equal(got, probs[[2, 0]])
    mixed = labels.mix_targets(np.full((2, 8), 1 / 8, np.float32), got, 0.25)
    np.testing.assert_allclose(mixed, 0.25 * got + 0.75 / 8)


def test_teacher_labels_from_another_data_set_are_refused(tmp_path):
    path = _write_labels(tmp_path / "t.npz", ["a.png"], np.eye(8)[[0]])
    with pytest.raises(InputError, match=r"no teacher probabilities for 2 of 3 .*first: b.png, c.png"):
        labels.teacher_probabilities(path, ["a.png", "b.png", "c.png"])
    with pytest.raises(InputError, match="does not exist"):
        labels.teacher_probabilities(tmp_path / "missing.npz", ["a.png"])
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError, match=r"bad.npz.*not a teacher_labels.npz"):
        labels.teacher_probabilities(tmp_path / "bad.npz", ["a.png"])


def test_prepare_data_mixes_teacher_labels_and_keeps_human_class_weights(tmp_path):
    pytest.importorskip("tensorflow", reason="the toolchain needs the [train] extra")
    from converters.emotion.config import TrainConfig
    from converters.emotion.train import prepare_data

    train, val = _faces(16), _faces(8, seed=1)
    teacher = np.full((16, 8), 1 / 8, np.float32)
    path = _write_labels(tmp_path / "t.npz", train.names[::-1], teacher)  # order differs from the data set
    plain = prepare_data(TrainConfig(), train, val)
    mixed = prepare_data(TrainConfig(teacher_labels=str(path), teacher_weight=0.5), train, val)
    np.testing.assert_allclose(mixed.train_targets, 0.5 * plain.train_targets + 0.5 / 8, atol=1e-6)
    np.testing.assert_array_equal(mixed.train_weights, plain.train_weights)


def test_committed_teacher_labels_match_their_report():
    report = json.loads((TEACHER_REPORT / "report.json").read_text())
    blob = (TEACHER_REPORT / "teacher_labels.npz").read_bytes()
    assert hashlib.sha256(blob).hexdigest() == report["labels_sha256"]
    with np.load(TEACHER_REPORT / "teacher_labels.npz") as z:
        assert z["probs"].shape == (report["train_faces"], len(data.EMOTIONS))
        np.testing.assert_allclose(z["probs"].sum(axis=1), 1.0, atol=1e-3)


def test_emotion_report_names_the_teacher_and_links_its_report():
    pytest.importorskip("tensorflow", reason="the toolchain needs the [train] extra")
    from converters.emotion.report import teacher_summary
    from converters.emotion.report_markdown import _teacher_lines

    report = json.loads((TEACHER_REPORT / "report.json").read_text())
    t = teacher_summary("reports/emotion_teacher/teacher_labels.npz", 0.5)
    assert t["sha256"] == report["labels_sha256"] and t["val_accuracy"] == report["val_majority_accuracy_ensemble"]
    (line,) = _teacher_lines(t, Path("reports/emotion"))
    assert "[its report](../emotion_teacher/report.md)" in line
    assert "0.5 x a teacher's out-of-fold probabilities" in line


def test_committed_teacher_labels_cover_the_ferplus_training_faces(ferplus_dir):
    rows = (ferplus_dir / "FER2013Train" / "label.csv").read_text().splitlines()
    names = [r.split(",")[0] for r in rows if r.strip()]
    probs = labels.teacher_probabilities(TEACHER_REPORT / "teacher_labels.npz", names)
    assert probs.shape == (len(names), len(data.EMOTIONS))


@pytest.mark.train
def test_kfold_teacher_trains_and_scores_every_training_face(tmp_path):
    pytest.importorskip("torch", reason="PyTorch is not installed here: the teacher runs on a lent GPU machine "
                                        "(reports/emotion_teacher/report.md holds its real run)")
    pytest.importorskip("torchvision", reason="the teacher's ResNet-18 comes from torchvision")
    pytest.importorskip("matplotlib", reason="the teacher's report plots its learning curves")
    from converters.emotion.teacher import report
    from converters.emotion.teacher.train_torch import TeacherConfig, merge, train_fold

    path = pack.pack({"train": _faces(24), "val": _faces(8, seed=1)}, tmp_path / "faces.npz")
    cfg = TeacherConfig(folds=2, budget_minutes=1.0, max_epochs=1, batch_size=8)
    for k in range(cfg.folds):
        train_fold(path, k, cfg, tmp_path / "folds", device="cpu")
    result = merge(path, cfg, tmp_path / "folds", tmp_path / "teacher_labels.npz")
    result.update(produced_by="pytest", source_commit="")
    report.write(result, tmp_path)
    with np.load(tmp_path / "teacher_labels.npz") as z:
        assert z["probs"].shape == (24, 8) and z["names"].tolist() == [f"fer{i:07d}.png" for i in range(24)]
    assert {"report.json", "report.md", "curves.png"} <= {p.name for p in tmp_path.iterdir()}
    assert 0.0 <= result["val_majority_accuracy_ensemble"] <= 1.0


def test_probe_refuses_a_variant_with_an_unknown_field(tmp_path, capsys):
    from converters.emotion.teacher.__main__ import main

    bad = tmp_path / "probe_bad.json"
    bad.write_text(json.dumps({"a": {"arch": "mobilenet_v3_small", "input_sise": 96}}))
    args = ["probe", "--pack", str(tmp_path / "p.npz"), "--out", str(tmp_path), "--variants", str(bad)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "probe_bad.json" in err and "input_sise" in err and "input_size" in err
    assert main(args[:-1] + [str(tmp_path / "missing.json")]) == 2
    assert "missing.json: does not exist" in capsys.readouterr().err
