"""Squeeze-excite gates that are constant on the data are folded exactly, and the folded INT8
graph is accepted by XNNPACK where the original is refused."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="the toolchain needs the [train] extra")

from converters.core import quantize  # noqa: E402
from converters.emotion import dead_gates  # noqa: E402
from converters.core.augment import make_dataset  # noqa: E402
from converters.emotion.evaluate import TFLiteRunner, predict_keras  # noqa: E402
from converters.core.mobilenet import build_model, custom_objects, mobilenet_v3_spec  # noqa: E402
from converters.core.tfenv import keras  # noqa: E402


@pytest.fixture(scope="module")
def model_with_dead_gate():
    keras.utils.set_random_seed(0)  # fixed initial weights: the test does not depend on the draw
    model = build_model(mobilenet_v3_spec("small", alpha=0.5, input_size=32, depth=5, activation="relu"))
    reduce = model.get_layer("b3_se_reduce")
    kernel, bias = reduce.get_weights()
    # Large weights (untrained activations are tiny) and a bias that keeps the pre-activation < 0.
    reduce.set_weights([kernel * 1000.0, np.full_like(bias, -1000.0)])
    return model


@pytest.fixture(scope="module")
def faces():
    return np.random.default_rng(0).integers(0, 256, (48, 32, 32)).astype(np.uint8)


def test_only_the_dead_gate_is_found(model_with_dead_gate, faces):
    dead = dead_gates.find_dead_gates(model_with_dead_gate, faces, 32)
    assert [d.block for d in dead] == ["b3"]
    assert dead[0].faces == len(faces) and dead[0].max_preactivation < 0
    assert {"b0", "b4"} <= set(dead_gates._blocks_with_gate(model_with_dead_gate))  # live gates were probed too


def test_folding_is_exact_and_removes_the_block(model_with_dead_gate, faces):
    dead = dead_gates.find_dead_gates(model_with_dead_gate, faces, 32)
    folded = dead_gates.fold_dead_gates(model_with_dead_gate, dead, custom_objects())
    names = {layer.name for layer in folded.layers}
    assert not any(n.startswith("b3_se_") for n in names) and "b4_se_mul" in names
    assert len(folded.layers) == len(model_with_dead_gate.layers) - len(dead_gates.SE_PARTS)
    np.testing.assert_allclose(predict_keras(folded, faces, 32), predict_keras(model_with_dead_gate, faces, 32),
                               atol=1e-5)
    # The gate was not 1: folding really scaled the projection conv.
    before = model_with_dead_gate.get_layer("b3_project_conv").get_weights()[0]
    assert not np.allclose(folded.get_layer("b3_project_conv").get_weights()[0], before)


@pytest.mark.slow
def test_folded_int8_graph_runs_in_xnnpack(model_with_dead_gate, faces):
    rep = quantize.representative_dataset(faces, 32, count=48)
    whole = TFLiteRunner(quantize.to_tflite(model_with_dead_gate, rep, int8=True))
    assert not whole.xnnpack
    assert [v["output"].split("/")[-2] for v in whole.xnnpack_requant_violations()] == ["b3_se_relu"]
    dead = dead_gates.find_dead_gates(model_with_dead_gate, faces, 32)
    folded = TFLiteRunner(quantize.to_tflite(dead_gates.fold_dead_gates(model_with_dead_gate, dead, custom_objects()),
                                             rep, int8=True))
    assert folded.xnnpack and folded.delegate_partitions() == 1


def test_rarely_firing_gate_is_folded_only_within_the_tolerance(faces):
    """One face (in 48) fires the gate: strict mode keeps it, a 5% tolerance folds it and says so."""
    keras.utils.set_random_seed(1)
    model = build_model(mobilenet_v3_spec("small", alpha=0.5, input_size=32, depth=5, activation="relu"))
    probe = keras.Model(model.input, model.get_layer("b3_se_reduce").output)
    ds = make_dataset(faces, np.zeros((len(faces), 1), np.float32), None, 32, 64, training=False)
    pre = np.concatenate([probe(x, training=False).numpy() for x, _, _ in ds]).reshape(len(faces), -1)
    reduce = model.get_layer("b3_se_reduce")
    kernel, bias = reduce.get_weights()
    # Shift every channel so that exactly one face has a positive pre-activation.
    second = np.sort(pre.max(axis=1))[-2]
    reduce.set_weights([kernel, bias - second - 1e-9])
    assert [d.block for d in dead_gates.find_dead_gates(model, faces, 32)] == []
    tolerant = dead_gates.find_dead_gates(model, faces, 32, max_firing_fraction=0.05)
    assert [(d.block, d.fired_on) for d in tolerant] == [("b3", 1)] and tolerant[0].max_preactivation > 0


def test_nothing_dead_returns_the_model_itself(faces):
    model = build_model(mobilenet_v3_spec("small", alpha=0.5, input_size=32, depth=2, activation="relu"))
    assert dead_gates.fold_dead_gates(model, [], custom_objects()) is model
