"""Structured channel pruning: the right fraction goes, and the thin model computes the same
function as the original with those channels zeroed."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="the toolchain needs the [train] extra")

from converters.core import pruning  # noqa: E402
from converters.core.mobilenet import build_model, custom_objects, mobilenet_v3_spec  # noqa: E402
from converters.core.tfenv import keras  # noqa: E402


def _randomize_bn(model, seed=0):
    """Trained-looking BN statistics so that ranking and removal are not trivial."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            g, b, m, v = layer.get_weights()
            layer.set_weights([rng.uniform(0.2, 1.5, g.shape), rng.normal(0, 0.2, b.shape),
                               rng.normal(0, 0.2, m.shape), rng.uniform(0.5, 1.5, v.shape)])
    return model


@pytest.fixture(scope="module")
def model():
    spec = mobilenet_v3_spec("small", alpha=0.5, input_size=48, depth=6)
    return _randomize_bn(build_model(spec))


def test_removes_intended_fraction_and_shrinks(model):
    thin, plan = pruning.prune(model, 0.3, divisor=4, custom_objects=custom_objects())
    assert 0.25 <= plan.removed_fraction() <= 0.35
    assert pruning.count_params(thin) < 0.85 * pruning.count_params(model)
    assert pruning.count_macs(thin) < 0.85 * pruning.count_macs(model)
    for g in plan.groups:
        if g.keep is not None:
            assert g.kept % 4 == 0 and g.kept >= 8
    # Protected tensors keep their width: the gray input conv and the 8-way classifier.
    assert thin.get_layer("rgb_to_gray").filters == 1
    assert thin.output_shape == (None, 8)


def test_residual_and_squeeze_excite_channels_are_tied(model):
    plan = pruning.analyze(model)
    # Blocks 4 and 5 add onto block 3's output: one group with three producers.
    residual = plan.groups[plan.output_group["b5_add"]]
    assert {"b3_project_conv", "b4_project_conv", "b5_project_conv"} <= set(residual.producers)
    # The squeeze-excite gate multiplies the expanded channels: same group as the expand conv.
    assert plan.output_group["b4_se_expand"] == plan.output_group["b4_expand_conv"]


def test_thin_model_matches_zeroed_original(model):
    plan = pruning.plan_pruning(model, 0.3)
    thin = pruning.apply_pruning(model, plan, custom_objects())
    zeroed = pruning.zero_pruned_inputs(model, plan, custom_objects())
    x = np.random.default_rng(1).uniform(0, 255, (4, 48, 48, 3)).astype(np.float32)
    np.testing.assert_allclose(thin(x).numpy(), zeroed(x).numpy(), atol=1e-5)
    # And pruning did change the function (the test would be vacuous otherwise).
    assert np.abs(thin(x).numpy() - model(x).numpy()).max() > 1e-4


def test_low_importance_channels_go_first(model):
    plan = pruning.plan_pruning(model, 0.3)
    group = plan.groups[plan.output_group["b1_expand_conv"]]
    score = pruning.channel_importance(model, plan, group)
    dropped = np.setdiff1d(np.arange(group.size), group.keep)
    assert score[dropped].max() <= score[group.keep].min()


def test_unknown_layers_are_barriers():
    inp = keras.Input((8, 8, 3))
    a = keras.layers.Conv2D(16, 3, name="a")(inp)
    b = keras.layers.Conv2D(16, 3, name="b")(inp)
    c = keras.layers.Concatenate(name="cat")([a, b])
    d = keras.layers.Conv2D(16, 1, name="d")(c)
    out = keras.layers.Dense(4, name="out")(keras.layers.GlobalAveragePooling2D()(d))
    m = keras.Model(inp, out)
    plan = pruning.plan_pruning(m, 0.5)
    assert plan.groups[plan.output_group["a"]].keep is None
    assert plan.groups[plan.output_group["b"]].keep is None
    assert plan.groups[plan.output_group["d"]].keep is not None  # d -> pool -> dense is prunable
    thin = pruning.apply_pruning(m, plan)
    assert thin.get_layer("d").filters == 8


def test_invalid_fraction(model):
    with pytest.raises(ValueError, match="fraction"):
        pruning.plan_pruning(model, 1.2)


def test_all_relu_variant_has_no_hard_swish_and_prunes_exactly():
    from converters.core.mobilenet import HardSwish

    relu = _randomize_bn(build_model(mobilenet_v3_spec("small", alpha=0.5, input_size=48, depth=6, activation="relu")),
                         3)
    assert not any(isinstance(layer, HardSwish) for layer in relu.layers)
    assert any(isinstance(layer, keras.layers.ReLU) and layer.name.startswith("stem") for layer in relu.layers)
    plan = pruning.plan_pruning(relu, 0.3)
    thin = pruning.apply_pruning(relu, plan, custom_objects())
    zeroed = pruning.zero_pruned_inputs(relu, plan, custom_objects())
    x = np.random.default_rng(2).uniform(0, 255, (2, 48, 48, 3)).astype(np.float32)
    np.testing.assert_allclose(thin(x).numpy(), zeroed(x).numpy(), atol=1e-5)
    with pytest.raises(ValueError, match="activation"):
        mobilenet_v3_spec(activation="gelu")


@pytest.mark.parametrize("divisor", [8, 16])
def test_divisor_keeps_simd_friendly_widths_at_about_30_percent(divisor):
    """Widths stay multiples of 8 or 16 channels (XNNPACK's kernels work in 8/16-channel tiles, so
    e.g. 12 of 16 channels cost as much as 16); the removed fraction stays near 30%."""
    full = _randomize_bn(build_model(mobilenet_v3_spec("small", input_size=64, activation="relu")), 4)
    plan = pruning.plan_pruning(full, 0.3, divisor=divisor)
    assert 0.28 <= plan.removed_fraction() <= 0.33
    pruned = [g for g in plan.groups if g.keep is not None]
    assert pruned and all(g.kept % divisor == 0 for g in pruned)
    assert any(g.kept < g.size for g in pruned)
