"""Fold squeeze-excite gates that are constant on real faces into the next convolution.

A squeeze-excite block (``bN_se_pool -> _se_reduce -> _se_relu -> _se_expand -> _se_gate ->
_se_mul``, as :func:`converters.core.mobilenet.build_model` names them) whose ReLU never fires
computes the constant gate ``hard_sigmoid(se_expand.bias)``. Multiplying by a per-channel constant
before the 1x1 projection conv is the same as scaling that conv's input channels, so the block
can be removed exactly. It also has to be: full-integer conversion gives the always-zero ReLU
output the converter's minimal range, its requantization scale exceeds XNNPACK's limit (256) and
XNNPACK then refuses the whole INT8 graph (3-4x slower on LiteRT's built-in kernels).

Deadness is measured, not assumed: by default a block is folded only when every channel's
pre-activation stayed below zero on all the given real faces, and folding is then exact on them.
``max_firing_fraction`` > 0 also folds gates that fire on that small a share of the faces (an
approximation on exactly those faces); how many fired and the largest value seen are reported.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Dict, List, Optional

import numpy as np

from converters.core.tfenv import keras

SE_PARTS = ("se_pool", "se_reduce", "se_relu", "se_expand", "se_gate", "se_mul")


@dataclass
class DeadGate:
    """One squeeze-excite block whose ReLU (almost) never fired on the probed faces."""

    block: str
    faces: int
    max_preactivation: float  # largest se_reduce output seen
    fired_on: int = 0  # faces on which any channel's pre-activation was > 0

    def to_dict(self) -> dict:
        return asdict(self)


def _blocks_with_gate(model: keras.Model) -> List[str]:
    names = {layer.name for layer in model.layers}
    return sorted({n[: -len("_se_mul")] for n in names if n.endswith("_se_mul")
                   and all(f"{n[: -len('_se_mul')]}_{part}" in names for part in SE_PARTS)})


def find_dead_gates(model: keras.Model, images: np.ndarray, input_size: int, max_firing_fraction: float = 0.0,
                    batch_size: int = 256) -> List[DeadGate]:
    """Squeeze-excite blocks whose ReLU fires on at most ``max_firing_fraction`` of ``images``
    (``[N, h, w]`` gray uint8 faces; 0 = never)."""
    from converters.core.augment import make_dataset

    blocks = _blocks_with_gate(model)
    if not blocks or len(images) == 0:
        return []
    probe = keras.Model(model.input, [model.get_layer(f"{b}_se_reduce").output for b in blocks])
    peak, fired = np.full(len(blocks), -np.inf), np.zeros(len(blocks), np.int64)
    ds = make_dataset(images, np.zeros((len(images), 1), np.float32), None, input_size, batch_size, training=False)
    for x, _, _ in ds:
        outs = probe(x, training=False)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        per_face = np.stack([np.reshape(o, (len(o), -1)).max(axis=1) for o in outs], axis=1)  # [batch, blocks]
        peak = np.maximum(peak, per_face.max(axis=0))
        fired += (per_face > 0.0).sum(axis=0)
    limit = max_firing_fraction * len(images)
    return [DeadGate(b, len(images), float(p), int(f)) for b, p, f in zip(blocks, peak, fired) if f <= limit]


def _replace_refs(node, old: str, new: list):
    """Point every inbound reference to layer ``old`` at ``new`` (a ``[name, node, tensor, kw]`` ref)."""
    if isinstance(node, list):
        if len(node) >= 3 and node[0] == old and isinstance(node[1], int):
            return list(new)
        return [_replace_refs(n, old, new) for n in node]
    return node


def fold_dead_gates(model: keras.Model, dead: List[DeadGate], custom_objects: Optional[dict] = None) -> keras.Model:
    """Copy of ``model`` without the ``dead`` squeeze-excite blocks; their constant gates scale
    the input channels of the convolution that consumed the gated tensor."""
    if not dead:
        return model
    config = model.get_config()
    by_name = {entry["config"]["name"]: entry for entry in config["layers"]}
    gates: Dict[str, np.ndarray] = {}
    for gate in dead:
        b = gate.block
        gated_ref = by_name[f"{b}_se_mul"]["inbound_nodes"][0][0]  # [x, gate]: x is what the gate scales
        bias = model.get_layer(f"{b}_se_expand").get_weights()[1]
        for entry in config["layers"]:
            if not entry["config"]["name"].startswith(f"{b}_se_"):
                rewired = _replace_refs(entry["inbound_nodes"], f"{b}_se_mul", gated_ref)
                if rewired != entry["inbound_nodes"]:  # this layer consumed the gated tensor
                    gates[entry["config"]["name"]] = np.clip(bias + 3.0, 0.0, 6.0) / 6.0
                    entry["inbound_nodes"] = rewired
        config["layers"] = [e for e in config["layers"] if e["config"]["name"] not in {f"{b}_{p}" for p in SE_PARTS}]
    for name in gates:
        layer = model.get_layer(name)
        if not isinstance(layer, keras.layers.Conv2D) or layer.kernel_size != (1, 1):
            raise ValueError(f"cannot fold a squeeze-excite gate into {name!r}: expected a 1x1 Conv2D consumer")
    folded = model.__class__.from_config(config, custom_objects=custom_objects)
    for layer in folded.layers:
        weights = model.get_layer(layer.name).get_weights()
        if layer.name in gates:
            weights = [weights[0] * gates[layer.name][None, None, :, None]] + weights[1:]
        layer.set_weights(weights)
    return folded

