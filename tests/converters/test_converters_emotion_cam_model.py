"""The CAM companion export (#22): the feature map as a second output keeps the probabilities at
index 0, bit for bit the one-output model's, and edgekit's CamHead runs it on XNNPACK."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="the toolchain needs the [train] extra")
pytestmark = pytest.mark.slow  # two INT8 conversions: about a minute on the busy 2-CPU host

from converters.emotion import cam_model  # noqa: E402

keras, quantize = cam_model._keras(), cam_model._quantize()
build_model = cam_model._first("build_model", "converters.core.mobilenet", "converters.emotion.model")
mobilenet_v3_spec = cam_model._first("mobilenet_v3_spec", "converters.core.mobilenet", "converters.emotion.model")


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
    from edgekit.explain import CamHead
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
