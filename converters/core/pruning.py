"""Structured channel pruning for Keras functional CNNs: channels are removed, not zeroed.

tensorflow-model-optimization's pruning zeroes single weights, which leaves a dense model as
large and as slow as before. Here whole channels go: the model graph is traced into *channel
groups* (channels that must be removed together because an ``Add`` or a squeeze-excite
``Multiply`` ties them, or because depthwise convs / batch norms / activations pass them
through), each prunable group is ranked (BN scale ``|gamma|/sqrt(var+eps)``, or the filter L2
norm of producers without a BN), the weakest fraction is dropped, and a physically thinner
model is rebuilt from the modified config with the surviving weights copied in.

Works on any functional model built from Conv2D / DepthwiseConv2D / Dense / BatchNormalization
/ element-wise layers (MobileNetV2/V3, ResNets); layers it does not understand (Concatenate,
Reshape, Lambda, nested models...) are barriers: channels touching them are never pruned.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Set

import numpy as np

from converters.core.tfenv import keras

#: Layers that keep channel ``c`` in channel ``c`` and have no per-channel weights.
_ELEMENTWISE = (
    keras.layers.ReLU, keras.layers.Activation, keras.layers.Dropout, keras.layers.GlobalAveragePooling2D,
    keras.layers.GlobalMaxPooling2D, keras.layers.AveragePooling2D, keras.layers.MaxPooling2D,
    keras.layers.ZeroPadding2D, keras.layers.LeakyReLU, keras.layers.PReLU,
)
_MERGE = (keras.layers.Add, keras.layers.Multiply, keras.layers.Subtract, keras.layers.Maximum,
          keras.layers.Minimum, keras.layers.Average)


@dataclass
class ChannelGroup:
    """Channels that are kept or removed together."""

    size: int
    producers: List[str] = field(default_factory=list)  # Conv2D/Dense whose output channels these are
    passthrough: List[str] = field(default_factory=list)  # DepthwiseConv2D / BatchNormalization on them
    consumers: List[str] = field(default_factory=list)  # Conv2D/Dense reading them on their input axis
    prunable: bool = True
    keep: Optional[np.ndarray] = None  # sorted surviving channel indices (None = all)

    @property
    def kept(self) -> int:
        return self.size if self.keep is None else int(self.keep.size)


class _UnionFind:
    def __init__(self) -> None:
        self.parent: List[int] = []

    def new(self) -> int:
        self.parent.append(len(self.parent))
        return len(self.parent) - 1

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> int:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra
        return ra


def _inbound(layer) -> List[keras.layers.Layer]:
    if len(layer._inbound_nodes) > 1:
        raise ValueError(f"layer {layer.name!r} is called more than once; shared layers are not supported by pruning")
    if not layer._inbound_nodes:
        return []
    inbound = layer._inbound_nodes[0].inbound_layers
    return list(inbound) if isinstance(inbound, (list, tuple)) else [inbound]


def _is_custom_elementwise(layer) -> bool:
    """Weightless layers whose output has the input's shape (e.g. HardSwish) pass channels through."""
    if layer.weights or isinstance(layer, keras.Model):
        return False
    try:
        return tuple(layer.input_shape) == tuple(layer.output_shape)
    except (AttributeError, RuntimeError):
        return False


@dataclass
class PruningPlan:
    """Channel groups of a model and which channels survive."""

    groups: List[ChannelGroup]
    output_group: Dict[str, int]  # layer name -> group index of its output
    input_group: Dict[str, int]  # layer name -> group index of its (first) input

    def prunable_channels(self) -> int:
        return sum(g.size for g in self.groups if g.prunable)

    def removed_channels(self) -> int:
        return sum(g.size - g.kept for g in self.groups if g.prunable)

    def removed_fraction(self) -> float:
        total = self.prunable_channels()
        return self.removed_channels() / total if total else 0.0

    def summary(self) -> dict:
        return {
            "prunable_groups": sum(g.prunable for g in self.groups),
            "prunable_channels": self.prunable_channels(),
            "removed_channels": self.removed_channels(),
            "removed_fraction": round(self.removed_fraction(), 4),
            "groups": [{"producers": g.producers, "size": g.size, "kept": g.kept, "prunable": g.prunable}
                       for g in self.groups if g.producers],
        }


def analyze(model: keras.Model, protect: Iterable[str] = ()) -> PruningPlan:
    """Trace ``model`` into channel groups (nothing removed yet).

    Groups feeding a model output, produced by a non-trainable or ``protect``-ed layer, or touching
    a layer the tracer does not understand are marked not prunable.
    """
    protect = set(protect)
    uf = _UnionFind()
    sizes: Dict[int, int] = {}
    out_node: Dict[str, int] = {}
    in_node: Dict[str, int] = {}
    role: Dict[str, str] = {}
    frozen: Set[int] = set()

    def new_node(size: int) -> int:
        node = uf.new()
        sizes[node] = size
        return node

    for layer in model.layers:
        inbound = _inbound(layer)
        ins = [out_node[l.name] for l in inbound]
        if ins:
            in_node[layer.name] = ins[0]
        channels = layer.output_shape[-1] if not isinstance(layer.output_shape, list) else None
        if isinstance(layer, keras.layers.InputLayer):
            out_node[layer.name] = new_node(channels)
            frozen.add(out_node[layer.name])
        elif isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)) and not isinstance(
                layer, keras.layers.DepthwiseConv2D) and getattr(layer, "groups", 1) == 1 and len(ins) == 1:
            role[layer.name] = "consumer_producer"
            out_node[layer.name] = new_node(channels)
            if not layer.trainable or layer.name in protect:
                frozen.add(out_node[layer.name])
        elif (isinstance(layer, keras.layers.DepthwiseConv2D) and layer.depth_multiplier == 1) or isinstance(
                layer, keras.layers.BatchNormalization):
            role[layer.name] = "passthrough"
            out_node[layer.name] = ins[0]
        elif isinstance(layer, _ELEMENTWISE) or (len(ins) == 1 and _is_custom_elementwise(layer)):
            out_node[layer.name] = ins[0]
        elif isinstance(layer, _MERGE):
            root = ins[0]
            for other in ins[1:]:
                root = uf.union(root, other)
            out_node[layer.name] = root
        else:  # barrier: Concatenate, Reshape, Flatten, Lambda, nested models, ...
            frozen.update(ins)
            out_node[layer.name] = new_node(channels if isinstance(channels, int) else 0)
            frozen.add(out_node[layer.name])
    for tensor in model.outputs:
        frozen.add(out_node[tensor._keras_history.layer.name])
    # Materialise groups.
    roots: Dict[int, int] = {}
    groups: List[ChannelGroup] = []

    def group_of(node: int) -> int:
        root = uf.find(node)
        if root not in roots:
            roots[root] = len(groups)
            groups.append(ChannelGroup(size=sizes[root]))
        return roots[root]

    output_group = {name: group_of(node) for name, node in out_node.items()}
    input_group = {name: group_of(node) for name, node in in_node.items()}
    for node in frozen:
        groups[group_of(node)].prunable = False
    for layer in model.layers:
        r = role.get(layer.name)
        if r == "consumer_producer":
            groups[input_group[layer.name]].consumers.append(layer.name)
            groups[output_group[layer.name]].producers.append(layer.name)
        elif r == "passthrough":
            groups[input_group[layer.name]].passthrough.append(layer.name)
    for g in groups:
        if not g.producers:
            g.prunable = False
    return PruningPlan(groups, output_group, input_group)


def channel_importance(model: keras.Model, plan: PruningPlan, group: ChannelGroup) -> np.ndarray:
    """Mean of per-layer scores, each normalised by its mean: BN scale for BN layers, filter L2
    norm for producers that no BN follows."""
    scores: List[np.ndarray] = []
    bn_inputs = set()
    for name in group.passthrough:
        layer = model.get_layer(name)
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma = layer.gamma.numpy() if layer.scale else np.ones(group.size)
            scores.append(np.abs(gamma) / np.sqrt(layer.moving_variance.numpy() + layer.epsilon))
            bn_inputs.update(l.name for l in _inbound(layer))
    for name in group.producers:
        if name in bn_inputs:
            continue
        kernel = model.get_layer(name).kernel.numpy()
        scores.append(np.sqrt((kernel.reshape(-1, kernel.shape[-1]) ** 2).sum(axis=0)))
    if not scores:
        return np.ones(group.size)
    return np.mean([s / (s.mean() + 1e-12) for s in scores], axis=0)


def plan_pruning(model: keras.Model, fraction: float = 0.3, divisor: int = 4, min_channels: int = 8,
                 protect: Iterable[str] = ()) -> PruningPlan:
    """Choose the channels to keep: the ``fraction`` least important of every prunable group,
    keeping a multiple of ``divisor`` and at least ``min_channels`` per group."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"pruning fraction must be in [0, 1), got {fraction}")
    plan = analyze(model, protect)
    for group in plan.groups:
        if not group.prunable or group.size <= min_channels:
            group.prunable = group.prunable and group.size > min_channels
            continue
        keep = int(round(group.size * (1.0 - fraction) / divisor)) * divisor
        keep = int(min(group.size, max(min_channels, keep)))
        score = channel_importance(model, plan, group)
        group.keep = np.sort(np.argsort(-score, kind="stable")[:keep])
    return plan


def _config_width_key(layer) -> str:
    return "units" if isinstance(layer, keras.layers.Dense) else "filters"


def _slice_weights(layer, plan: PruningPlan) -> List[np.ndarray]:
    weights = layer.get_weights()
    out_g = plan.groups[plan.output_group[layer.name]]
    in_g = plan.groups[plan.input_group[layer.name]] if layer.name in plan.input_group else None
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        keep = in_g.keep
        if keep is None:
            return weights
        return [weights[0][:, :, keep, :]] + [w[keep] for w in weights[1:]]
    if isinstance(layer, keras.layers.BatchNormalization):
        return weights if in_g.keep is None else [w[in_g.keep] for w in weights]
    if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
        kernel = weights[0]
        if in_g is not None and in_g.keep is not None:
            kernel = np.take(kernel, in_g.keep, axis=-2)
        if out_g.keep is not None:
            kernel = np.take(kernel, out_g.keep, axis=-1)
            return [kernel] + [w[out_g.keep] for w in weights[1:]]
        return [kernel] + weights[1:]
    return weights


def apply_pruning(model: keras.Model, plan: PruningPlan, custom_objects: Optional[dict] = None) -> keras.Model:
    """Rebuild a physically thinner copy of ``model`` holding the surviving weights."""
    config = model.get_config()
    for entry in config["layers"]:
        name = entry["config"]["name"]
        if name in plan.output_group:
            layer = model.get_layer(name)
            group = plan.groups[plan.output_group[name]]
            if name in group.producers and group.keep is not None:
                entry["config"][_config_width_key(layer)] = group.kept
    thin = model.__class__.from_config(config, custom_objects=custom_objects)
    for layer in model.layers:
        if layer.weights:
            thin.get_layer(layer.name).set_weights(_slice_weights(layer, plan))
    return thin


def zero_pruned_inputs(model: keras.Model, plan: PruningPlan, custom_objects: Optional[dict] = None) -> keras.Model:
    """Copy of ``model`` (same widths) in which every consumer ignores the channels the plan
    removes: mathematically the function :func:`apply_pruning` builds."""
    clone = model.__class__.from_config(model.get_config(), custom_objects=custom_objects)
    clone.set_weights(model.get_weights())
    for group in plan.groups:
        if group.keep is None:
            continue
        drop = np.setdiff1d(np.arange(group.size), group.keep)
        for name in group.consumers:
            layer = clone.get_layer(name)
            weights = layer.get_weights()
            kernel = weights[0].copy()
            index = [slice(None)] * kernel.ndim
            index[-2] = drop
            kernel[tuple(index)] = 0.0
            layer.set_weights([kernel] + weights[1:])
    return clone


def count_params(model: keras.Model) -> int:
    return int(sum(np.prod(w.shape) for w in model.weights))


def count_macs(model: keras.Model) -> int:
    """Multiply-accumulates of one inference (convolutions and dense layers)."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            _, h, w, c = layer.output_shape
            kh, kw = layer.kernel_size
            total += h * w * kh * kw * c * layer.depth_multiplier
        elif isinstance(layer, keras.layers.Conv2D):
            _, h, w, c = layer.output_shape
            kh, kw = layer.kernel_size
            cin = layer.input_shape[-1]
            total += h * w * kh * kw * cin * c // getattr(layer, "groups", 1)
        elif isinstance(layer, keras.layers.Dense):
            total += int(np.prod(layer.input_shape[1:])) * layer.units
    return int(total)


def prune(model: keras.Model, fraction: float = 0.3, divisor: int = 4, min_channels: int = 8,
          protect: Sequence[str] = (), custom_objects: Optional[dict] = None) -> tuple:
    """Plan and apply structured pruning; returns (thin model, plan)."""
    plan = plan_pruning(model, fraction, divisor, min_channels, protect)
    return apply_pruning(model, plan, custom_objects), plan
