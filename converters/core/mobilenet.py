"""MobileNetV3 (Small / Large) builder with explicit per-layer widths and in-model preprocessing.

The model takes ``[B, S, S, 3]`` RGB 0..255 and converts to gray scaled to [-1, 1] with a fixed
1x1 convolution (``rgb_to_gray``), so FER+ gray crops (replicated to RGB) and colour photos get
the same preprocessing, and the exported ``.tflite`` takes raw pixels. Every width is a field of
:class:`NetSpec`, so thinner variants can be built directly; structured pruning
(:mod:`converters.core.pruning`) works on any Keras functional graph and does not need it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import List, Optional

from converters.core.tfenv import keras, tf

#: ITU-R BT.601 luma weights (what cv2.COLOR_RGB2GRAY uses).
GRAY_WEIGHTS = (0.299, 0.587, 0.114)


@keras.utils.register_keras_serializable(package="edgekit")
class HardSigmoid(keras.layers.Layer):
    """relu6(x + 3) / 6 (TFLite lowers it to its hard-swish/logistic-free int8 kernels)."""

    def call(self, x):
        return tf.nn.relu6(x + 3.0) * (1.0 / 6.0)


@keras.utils.register_keras_serializable(package="edgekit")
class HardSwish(keras.layers.Layer):
    """x * relu6(x + 3) / 6; TFLite converts this pattern to its HARD_SWISH op."""

    def call(self, x):
        return x * tf.nn.relu6(x + 3.0) * (1.0 / 6.0)


@dataclass
class BlockSpec:
    """One inverted-residual block: expand 1x1 -> depthwise kxk -> [squeeze-excite] -> project 1x1."""

    kernel: int
    expand: int  # expanded channels; equal to the input width and no expand conv when ratio is 1
    out: int
    se: int  # squeeze channels, 0 = no squeeze-excite
    act: str  # "relu" or "hswish"
    stride: int


@dataclass
class NetSpec:
    """Complete widths of a MobileNetV3 variant."""

    input_size: int = 64
    stem: int = 16
    blocks: List[BlockSpec] = field(default_factory=list)
    head: int = 576  # last 1x1 conv
    hidden: int = 1024  # dense layer before the classifier
    num_classes: int = 8
    dropout: float = 0.2
    name: str = "mobilenet_v3"
    act: str = "hswish"  # activation of the stem, head and hidden layer ("relu" for the all-ReLU variant)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "NetSpec":
        data = dict(data)
        data["blocks"] = [BlockSpec(**b) for b in data.get("blocks", [])]
        return cls(**data)


def _div8(value: float, divisor: int = 8) -> int:
    new = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * value else new


# (kernel, expansion channels, out channels, se, activation, stride) at width 1.0.
_SMALL = [(3, 16, 16, True, "relu", 2), (3, 72, 24, False, "relu", 2), (3, 88, 24, False, "relu", 1),
          (5, 96, 40, True, "hswish", 2), (5, 240, 40, True, "hswish", 1), (5, 240, 40, True, "hswish", 1),
          (5, 120, 48, True, "hswish", 1), (5, 144, 48, True, "hswish", 1), (5, 288, 96, True, "hswish", 2),
          (5, 576, 96, True, "hswish", 1), (5, 576, 96, True, "hswish", 1)]
_LARGE = [(3, 16, 16, False, "relu", 1), (3, 64, 24, False, "relu", 2), (3, 72, 24, False, "relu", 1),
          (5, 72, 40, True, "relu", 2), (5, 120, 40, True, "relu", 1), (5, 120, 40, True, "relu", 1),
          (3, 240, 80, False, "hswish", 2), (3, 200, 80, False, "hswish", 1), (3, 184, 80, False, "hswish", 1),
          (3, 184, 80, False, "hswish", 1), (3, 480, 112, True, "hswish", 1), (3, 672, 112, True, "hswish", 1),
          (5, 672, 160, True, "hswish", 2), (5, 960, 160, True, "hswish", 1), (5, 960, 160, True, "hswish", 1)]


def mobilenet_v3_spec(variant: str = "small", alpha: float = 1.0, input_size: int = 64, num_classes: int = 8,
                      dropout: float = 0.2, depth: int = 0, activation: str = "hswish") -> NetSpec:
    """Widths of MobileNetV3-Small/Large (Howard et al. 2019) at width multiplier ``alpha``;
    ``depth`` > 0 keeps only the first ``depth`` blocks (tiny test models).

    ``activation="relu"`` replaces every hard-swish by ReLU (squeeze-excite keeps its hard-sigmoid
    gate): TFLite's int8 HARD_SWISH is not taken by XNNPACK, so the all-ReLU network runs as one
    delegated partition and is markedly faster in INT8.
    """
    if activation not in ("hswish", "relu"):
        raise ValueError(f"unknown activation {activation!r}; use 'hswish' or 'relu'")
    table = {"small": (_SMALL, 576, 1024), "large": (_LARGE, 960, 1280)}
    if variant not in table:
        raise ValueError(f"unknown MobileNetV3 variant {variant!r}; use 'small' or 'large'")
    rows, head, hidden = table[variant]
    rows = rows[:depth] if depth > 0 else rows
    stem = _div8(16 * alpha)
    blocks, width = [], stem
    for k, exp, out, se, act, stride in rows:
        # The first block of both variants has expansion ratio 1: its expansion width is its input width.
        e = width if exp == 16 else _div8(exp * alpha)
        blocks.append(BlockSpec(k, e, _div8(out * alpha), _div8(e * 0.25) if se else 0,
                                activation if act == "hswish" else act, stride))
        width = blocks[-1].out
    return NetSpec(input_size, stem, blocks, _div8(head * alpha), hidden if alpha <= 1.0 else _div8(hidden * alpha),
                   num_classes, dropout,
                   f"mobilenet_v3_{variant}_{alpha:g}" + ("_relu" if activation == "relu" else ""),
                   activation)


def _act(x, kind: str, name: str):
    if kind == "relu":
        return keras.layers.ReLU(name=name)(x)
    if kind == "hswish":
        return HardSwish(name=name)(x)
    raise ValueError(f"unknown activation {kind!r}")


def _conv_bn(x, filters: int, kernel: int, stride: int, act: Optional[str], name: str, depthwise: bool = False):
    if depthwise:
        x = keras.layers.DepthwiseConv2D(kernel, stride, padding="same", use_bias=False, name=f"{name}_dw")(x)
    else:
        x = keras.layers.Conv2D(filters, kernel, stride, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = keras.layers.BatchNormalization(epsilon=1e-3, momentum=0.99, name=f"{name}_bn")(x)
    return _act(x, act, f"{name}_{act}") if act else x


def gray_layer(name: str = "rgb_to_gray") -> keras.layers.Conv2D:
    """Frozen 1x1 conv: RGB 0..255 -> luma scaled to [-1, 1] (foldable into int8 input quantization)."""
    weights = [[[[w / 127.5] for w in GRAY_WEIGHTS]]]
    return keras.layers.Conv2D(1, 1, use_bias=True, trainable=False, name=name,
                               kernel_initializer=keras.initializers.Constant(weights),
                               bias_initializer=keras.initializers.Constant(-1.0))


def build_model(spec: NetSpec) -> keras.Model:
    """Functional Keras MobileNetV3 with the widths in ``spec`` (softmax output named ``probs``)."""
    inp = keras.Input((spec.input_size, spec.input_size, 3), name="image")
    x = gray_layer()(inp)
    x = _conv_bn(x, spec.stem, 3, 2, spec.act, "stem")
    width = spec.stem
    for i, b in enumerate(spec.blocks):
        name = f"b{i}"
        shortcut = x
        if b.expand != width:
            x = _conv_bn(x, b.expand, 1, 1, b.act, f"{name}_expand")
        x = _conv_bn(x, b.expand, b.kernel, b.stride, b.act, f"{name}_dw", depthwise=True)
        if b.se:
            s = keras.layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_se_pool")(x)
            s = keras.layers.Conv2D(b.se, 1, name=f"{name}_se_reduce")(s)
            s = keras.layers.ReLU(name=f"{name}_se_relu")(s)
            s = keras.layers.Conv2D(b.expand, 1, name=f"{name}_se_expand")(s)
            s = HardSigmoid(name=f"{name}_se_gate")(s)
            x = keras.layers.Multiply(name=f"{name}_se_mul")([x, s])
        x = _conv_bn(x, b.out, 1, 1, None, f"{name}_project")
        if b.stride == 1 and b.out == width:
            x = keras.layers.Add(name=f"{name}_add")([shortcut, x])
        width = b.out
    x = _conv_bn(x, spec.head, 1, 1, spec.act, "head")
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.Dense(spec.hidden, name="hidden")(x)
    x = _act(x, spec.act, f"hidden_{spec.act}")
    x = keras.layers.Dropout(spec.dropout, name="dropout")(x)
    x = keras.layers.Dense(spec.num_classes, name="logits")(x)
    out = keras.layers.Softmax(name="probs")(x)
    return keras.Model(inp, out, name=spec.name)


def custom_objects() -> dict:
    return {"HardSigmoid": HardSigmoid, "HardSwish": HardSwish}
