"""The CAM companion export (#22): the feature map as a second output keeps the probabilities at
index 0, bit for bit the one-output model's, and edgekit's CamHead runs it on XNNPACK."""
from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="the toolchain needs the [train] extra")
pytestmark = pytest.mark.slow  # two INT8 conversions: about a minute on the busy 2-CPU host

from converters.core import quantize  # noqa: E402
from converters.core.mobilenet import build_model, mobilenet_v3_spec  # noqa: E402
from converters.core.tfenv import keras  # noqa: E402
from converters.emotion import cam_model  # noqa: E402


@pytest.fixture(scope="module")
def converted():
    keras.utils.set_random_seed(0)
    model = build_model(mobilenet_v3_spec("small", alpha=0.5, input_size=64, depth=5, activation="relu"))
    faces = np.random.default_rng(0).integers(0, 256, (32, 48, 48)).astype(np.uint8)
    rep = quantize.representative_dataset(faces, 64, count=32)
    single = quantize.to_tflite(model, rep, int8=True)
    cam = quantize.to_tflite(cam_model.with_feature_output(model), rep, int8=True)
    return single, cam, model, rep


def test_probabilities_stay_at_index_0_and_equal_the_one_output_model(converted):
    single, cam = converted[:2]
    info = cam_model.describe(cam)
    shapes = [o["shape"] for o in info["outputs"]]
    # probabilities first; the map and the hidden layer after its ReLU in the converter's order (found by shape)
    assert shapes[0] == [1, 8] and sorted(len(s) for s in shapes) == [2, 2, 4]
    assert info["xnnpack"] and info["xnnpack_partitions"] == 1
    assert cam_model.describe(single)["outputs"][0]["quantization"] == info["outputs"][0]["quantization"]
    pixels = np.random.default_rng(1).integers(0, 256, (12, 64, 64, 3)).astype(np.uint8)
    labels = np.arange(12) % 8
    result = cam_model.compare(single, cam, pixels, labels)
    assert result["identical_outputs"] and result["max_abs_logit_diff"] == 0.0 and result["top1_agreement"] == 1.0
    assert result["feature_map_shape"] == next(s for s in shapes if len(s) == 4)


def test_camhead_reads_the_companion_on_xnnpack(converted):
    from edgekit.explaining import CamHead
    from edgekit.registry import ModelFile

    single, cam = converted[:2]
    one = ModelFile(path=cam_model.Path("tiny.tflite"), content=single, sha256="")
    fast, slow = CamHead(one, feature_model=cam), CamHead(one)
    assert fast.xnnpack and fast.probs_exact and not slow.xnnpack
    crop = np.random.default_rng(2).integers(0, 256, (64, 64, 3)).astype(np.uint8)
    run = fast.run(crop)
    for k in range(8):
        a, rest_a = fast.cells(run, k)
        assert a.shape == tuple(fast._map_out.shape[1:3])
        assert a.mean() + rest_a == pytest.approx(fast.logits()[k], abs=0.05)  # the hidden layer's INT8 rounding
    two_outputs = quantize.to_tflite(cam_model.with_feature_output(converted[2], hidden=False), converted[3])
    assert not CamHead(one, feature_model=two_outputs)._hidden_out and CamHead(one, feature_model=cam)._hidden_out


def _ship_setup(tmp_path):
    """A temp edgekit/models/ with model ``tiny`` (made-up bytes), a converted companion in a run
    folder and the report cam_model.json would hold for it."""
    from edgekit import registry

    models = tmp_path / "models"
    models.mkdir()
    (models / "tiny.tflite").write_bytes(b"one-output model")
    registry.register_model("tiny", models / "tiny.tflite", manifest_path=models / "manifest.json", input=None,
                            produced_by="python -m converters.emotion all")
    out = tmp_path / "run_cam"
    out.mkdir()
    (out / "pruned_int8_ptq_cam.tflite").write_bytes(b"two-output model")
    report = {
        "command": "python -m converters.emotion.cam_model --run runs/r --out runs/r_cam --shipped tiny.tflite",
        "reproduces_shipped": {"shipped_sha256": registry.sha256_file(models / "tiny.tflite")},
        "cam_model": {"sha256": registry.sha256_file(out / "pruned_int8_ptq_cam.tflite"),
                      "outputs": [{"index": 0, "shape": [1, 8]}, {"index": 1, "shape": [1, 720]},
                                  {"index": 2, "shape": [1, 4, 4, 400]}]},
        "fer2013valid": {"faces": 3417, "max_abs_prob_diff": 0.0, "identical_outputs": True},
    }
    (out / "cam_model.json").write_text(json.dumps(report))
    return models, out, report


def test_ship_copies_the_companion_and_registers_it_with_its_command(tmp_path):
    """--ship (here from an earlier run's JSON: no conversion) installs the file under its ship name
    and records the ``cam`` sub-entry through the registry helper; produced_by is the conversion
    command with --ship."""
    from edgekit import registry

    models, out, report = _ship_setup(tmp_path)
    dest = models / "tiny_cam_int8.tflite"
    assert cam_model.main(["--from-json", str(out / "cam_model.json"), "--out", str(out), "--shipped",
                           str(models / "tiny.tflite"), "--ship", "--ship-as", str(dest), "--model-name", "tiny"]) == 0
    assert dest.read_bytes() == b"two-output model"
    entry = registry.load_manifest(models / "manifest.json")["models"]["tiny"]
    assert entry["cam"]["produced_by"] == report["command"] + " --ship"
    assert entry["cam"]["file"] == dest.name and entry["cam"]["model_sha256"] == entry["sha256"]
    assert entry["cam"]["description"].startswith("the same INT8 model with its last feature map and its hidden layer")
    assert "probabilities [1, 8] at index 0, hidden [1, 720], feature map [1, 4, 4, 400]" in entry["cam"]["description"]
    assert registry.load_companion("tiny", "cam", models / "manifest.json")[1] == b"two-output model"
    assert cam_model.ship_command(report["command"] + " --ship") == report["command"] + " --ship"
    assert cam_model.ship_command("x --ship-as a.tflite") == "x --ship-as a.tflite --ship"


def test_ship_refuses_a_companion_of_another_model(tmp_path):
    models, out, report = _ship_setup(tmp_path)
    cam_file, dest = out / "pruned_int8_ptq_cam.tflite", models / "tiny_cam_int8.tflite"
    (tmp_path / "other.tflite").write_bytes(b"another model")
    with pytest.raises(ValueError, match="not the registered 'tiny' model"):
        cam_model.ship(report, cam_file, tmp_path / "other.tflite", dest, "tiny")
    bad = {**report, "fer2013valid": {**report["fer2013valid"], "identical_outputs": False}}
    with pytest.raises(ValueError, match="probabilities differ"):
        cam_model.ship(bad, cam_file, models / "tiny.tflite", dest, "tiny")
    cam_file.write_bytes(b"changed since the report")
    with pytest.raises(ValueError, match="not the companion the report describes"):
        cam_model.ship(report, cam_file, models / "tiny.tflite", dest, "tiny")
    assert not dest.exists() and "cam" not in json.loads((models / "manifest.json").read_text())["models"]["tiny"]
