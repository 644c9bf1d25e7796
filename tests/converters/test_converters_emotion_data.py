"""Emotion toolchain data loading: three layouts, label protocols, bad input, config errors."""
from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="the toolchain needs the [train] extra")

from converters.emotion import data, synthetic  # noqa: E402
from converters.emotion.config import TrainConfig  # noqa: E402
from edgekit.errors import ConfigError, InputError  # noqa: E402


def test_majority_protocol_drops_unknown_nf_and_ties():
    votes = np.array([
        [6, 2, 0, 0, 0, 0, 0, 0, 2, 0],  # neutral
        [0, 0, 0, 0, 0, 0, 0, 0, 7, 3],  # unknown wins -> dropped
        [4, 4, 0, 0, 0, 0, 0, 0, 2, 0],  # tie -> dropped
        [0, 0, 0, 0, 0, 0, 0, 3, 3, 4],  # NF wins -> dropped
        [0, 0, 0, 0, 0, 0, 0, 5, 5, 0],  # contempt tied with unknown counts as contempt
    ], np.float32)
    assert data.majority_labels(votes).tolist() == [0, -1, -1, -1, 7]


def test_ferplus_layout(tmp_path):
    root = synthetic.write_ferplus(tmp_path / "ferplus", per_class=2)
    train, val = data.load_splits(root, progress=False)
    assert len(train) == len(val) == 16
    assert train.images.shape == (16, 48, 48) and train.images.dtype == np.uint8
    soft = train.soft_targets()
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, rtol=1e-6)
    assert train.class_counts().tolist() == [2] * 8


def test_fer2013_csv_layout_maps_codes_to_ferplus_order(tmp_path):
    path = synthetic.write_fer2013_csv(tmp_path / "fer2013.csv", per_class=2)
    train, val = data.load_splits(path)
    assert len(train) == len(val) == 14  # 7 FER2013 classes
    assert train.majority().max() < 7  # contempt does not exist in fer2013
    assert sorted(set(train.majority().tolist())) == list(range(7))


def test_class_folder_layout_with_aliases_and_split(tmp_path):
    names = ["neutral", "happy", "surprised", "sad", "angry", "disgusted", "fearful", "contempt"]
    root = synthetic.write_class_folders(tmp_path / "folders", per_class=5, names=names)
    train, val = data.load_splits(root, val_fraction=0.2, seed=1, progress=False)
    assert len(train) + len(val) == 40 and len(val) == 8
    assert sorted(set(val.majority().tolist())) == list(range(8))


def test_missing_and_wrong_layout_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        data.load_splits(tmp_path / "nope")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InputError, match="not a .csv"):
        data.load_splits(tmp_path / "notes.txt")
    (tmp_path / "tree" / "grumpy").mkdir(parents=True)
    with pytest.raises(InputError, match="unknown class folder"):
        data.load_splits(tmp_path / "tree")


def test_empty_class_folder_is_an_error(tmp_path):
    root = synthetic.write_class_folders(tmp_path / "folders", per_class=2, names=["neutral", "happiness"])
    (root / "fear").mkdir()
    with pytest.raises(InputError, match="no images") as err:
        data.load_class_folders(root, progress=False)
    assert "fear" in str(err.value)


def test_label_rows_must_match_images(tmp_path):
    root = synthetic.write_ferplus(tmp_path / "ferplus", per_class=2)
    (root / "FER2013Train" / "fer0000003.png").unlink()
    with pytest.raises(InputError, match="fer0000003.png"):
        data.load_splits(root, progress=False)


def test_bad_label_csv_columns(tmp_path):
    root = synthetic.write_ferplus(tmp_path / "ferplus", per_class=1)
    (root / "FER2013Valid" / "label.csv").write_text("fer0000008.png,1,2,3\n")
    with pytest.raises(InputError, match="12"):
        data.load_splits(root, progress=False)


def test_corrupt_images_skipped_with_count_or_rejected(tmp_path, caplog):
    root = synthetic.write_ferplus(tmp_path / "ferplus", per_class=4)  # 32 images per split
    (root / "FER2013Train" / "fer0000005.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    old = data.MAX_CORRUPT_FRACTION
    try:
        data.MAX_CORRUPT_FRACTION = 0.05
        train = data.load_ferplus_split(root / "FER2013Train", progress=False)
        assert len(train) == 31 and train.skipped == ["fer0000005.png"]
        assert "skipped 1 unreadable" in caplog.text and "fer0000005.png" in caplog.text
        for i in range(6, 10):
            (root / "FER2013Train" / f"fer{i:07d}.png").write_bytes(b"")
        with pytest.raises(InputError, match="5 of 32 images could not be decoded"):
            data.load_ferplus_split(root / "FER2013Train", progress=False)
    finally:
        data.MAX_CORRUPT_FRACTION = old


def test_config_typos_and_bad_values(tmp_path):
    with pytest.raises(ConfigError, match="did you mean 'epochs'"):
        TrainConfig.from_dict({"epoch": 3})
    with pytest.raises(ConfigError, match="augment"):
        TrainConfig.from_dict({"augment": {"rotation": 5}})
    with pytest.raises(ConfigError, match="label_mode"):
        TrainConfig(label_mode="hard")
    with pytest.raises(ConfigError, match="distill_weight"):
        TrainConfig(distill_weight=1.5)
    path = tmp_path / "cfg.json"
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        TrainConfig.load(path)


@pytest.mark.parametrize("raw, message", [
    ({"prune_fractoin": 0.3}, "p.json: unknown key 'prune_fractoin'. did you mean 'prune_fraction'?"),
    ({"train": {"epoch": 3}}, "p.json [train]: unknown key 'epoch'. did you mean 'epochs'?"),
    ({"train": {"augment": {"rotaton": 5}}}, "p.json [train] [augment]: unknown key 'rotaton'. did you mean "),
    ({"train": [1]}, "p.json [train]: must be an object of TrainConfig fields, got list"),
])
def test_pipeline_config_from_dict_refuses_unknown_keys_at_every_level(raw, message):
    from converters.emotion.config import PipelineConfig

    with pytest.raises(ConfigError) as err:
        PipelineConfig.from_dict(raw, "p.json")
    assert str(err.value).startswith(message)


def test_pipeline_config_from_dict_reads_the_json_shape():
    from converters.emotion.config import PipelineConfig

    raw = {"train": {"activation": "relu", "augment": {"erase_area": [0.02, 0.2]}}, "prune_divisor": 8, "ship": False}
    cfg = PipelineConfig.from_dict(raw)
    assert cfg.train.activation == "relu" and cfg.train.augment.erase_area == (0.02, 0.2)
    assert cfg.prune_divisor == 8 and cfg.ship is False and cfg.qat_epochs == PipelineConfig.qat_epochs
    assert raw["train"]["augment"]["erase_area"] == [0.02, 0.2]  # the caller's dict is left as it was
    assert PipelineConfig.from_dict(cfg.to_dict()) == cfg  # to_dict round-trips
    assert PipelineConfig.from_dict({}) == PipelineConfig()


def test_emotion_all_command_builds_its_config_with_from_dict(tmp_path, monkeypatch, capsys):
    """``python -m converters.emotion all``: the JSON through PipelineConfig.from_dict, flags on top."""
    from converters.emotion import __main__ as cli
    from converters.emotion import pipeline

    seen = []
    monkeypatch.setattr(pipeline, "run_all", seen.append)
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"train": {"activation": "relu", "budget_minutes": 5}, "qat_epochs": 2}))
    assert cli.main(["all", "--config", str(path), "--data", "fer", "--train-minutes", "9", "--no-ship"]) == 0
    cfg = seen[0]
    assert (cfg.train.data, cfg.train.activation, cfg.train.budget_minutes) == ("fer", "relu", 9.0)
    assert cfg.qat_epochs == 2 and cfg.ship is False
    path.write_text(json.dumps({"train": {"data": "fer"}, "qat_epoch": 2}))
    assert cli.main(["all", "--config", str(path)]) == 2
    assert f"error: {path}: unknown key 'qat_epoch'. did you mean 'qat_epochs'?" in capsys.readouterr().err
    assert len(seen) == 1
    cfg = TrainConfig(data="x", epochs=2)
    cfg.save(path)
    assert TrainConfig.load(path) == cfg
    assert json.loads(path.read_text())["augment"]["flip"] is True


def test_class_weights_upweight_rare_classes():
    w = data.class_weights([1000, 100, 10])
    assert w[0] < w[1] < w[2]
    np.testing.assert_allclose((w * [1000, 100, 10]).sum() / 1110, 1.0, rtol=1e-5)


@pytest.mark.parametrize("name", ["input64.json", "input96.json", "input128.json"])
def test_committed_pipeline_configs_load_and_name_existing_teacher_labels(name):
    from pathlib import Path

    from converters.core.config import read_json
    from converters.emotion.config import PipelineConfig

    root = Path(__file__).resolve().parents[2]
    path = root / "converters" / "emotion" / "configs" / name
    cfg = PipelineConfig.from_dict(read_json(path, ""), str(path))
    assert cfg.prune_fraction == 0.3
    if cfg.teacher_labels:
        assert (root / cfg.teacher_labels).is_file()


def test_committed_pipeline_configs_ship_each_registry_name_once():
    """Re-running any committed config must not overwrite another config's shipped model."""
    from pathlib import Path

    from converters.core.config import read_json
    from converters.emotion.config import PipelineConfig

    from edgekit.registry import load_manifest

    folder = Path(__file__).resolve().parents[2] / "converters" / "emotion" / "configs"
    shipped = {}
    for path in sorted(folder.glob("*.json")):
        raw = read_json(path, "")
        if raw.get("ship", PipelineConfig.ship):
            name = raw.get("ship_name", PipelineConfig.ship_name)
            assert name not in shipped, f"{path.name} and {shipped[name]} both ship {name!r}"
            shipped[name] = path.name
            entry = load_manifest()["models"][name]
            assert entry["file"] == raw.get("ship_file", PipelineConfig.ship_file)
            assert entry["report"] == f"{raw.get('report_dir', PipelineConfig.report_dir)}/README.md"
    assert set(shipped) == {"emotion", "emotion-fast"}
