"""Face-embedding network: the emotion toolchain's MobileNetV3 backbone with a MobileFaceNet head.

The backbone is :func:`converters.core.mobilenet.build_model` (gray conversion and scaling inside
the model, so the ``.tflite`` takes raw RGB 0..255) cut after its last 1x1 conv. The head keeps
the spatial layout the way MobileFaceNet does: a *global depthwise conv* (one kxk filter per
channel over the whole final feature map) instead of average pooling, then a linear embedding
with batch norm. The runtime L2-normalises the output.

Training wraps it with a CosFace margin head (:class:`CosFaceLogits`, Wang et al. 2018): logits
``s * (cos(theta_j) - m * [j == y])`` over L2-normalised embeddings and class weights.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Optional

from converters.core.mobilenet import build_model, custom_objects as backbone_objects, mobilenet_v3_spec
from converters.core.tfenv import keras, tf


@dataclass
class EmbedderSpec:
    """Shape of the embedding network."""

    input_size: int = 64
    alpha: float = 1.0
    activation: str = "relu"  # all-ReLU: one XNNPACK partition in INT8
    last_stride: int = 1  # stride of the last stage (1 keeps a 4x4 map at 64 px; MobileNetV3 uses 2)
    embedding_dim: int = 128
    dropout: float = 0.1
    depth: int = 0  # > 0: only the first blocks (tiny test models)

    def to_dict(self) -> dict:
        return asdict(self)


def build_embedder(spec: EmbedderSpec) -> keras.Model:
    """Functional Keras model: ``[B, S, S, 3]`` RGB 0..255 -> ``[B, embedding_dim]`` (output ``embedding``)."""
    net = mobilenet_v3_spec("small", spec.alpha, spec.input_size, num_classes=2, depth=spec.depth,
                            activation=spec.activation)
    strided = [i for i, b in enumerate(net.blocks) if b.stride == 2]
    if strided and spec.last_stride == 1 and len(strided) > 1:
        net.blocks[strided[-1]].stride = 1
    net.name = f"face_embedder_{spec.input_size}"
    backbone = build_model(net)
    features = backbone.get_layer(f"head_{net.act}").output
    size = int(features.shape[1])
    x = keras.layers.DepthwiseConv2D(size, padding="valid", use_bias=False, name="gdc_dw")(features)
    x = keras.layers.BatchNormalization(epsilon=1e-3, name="gdc_bn")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gdc_squeeze")(x)  # 1x1 map -> vector
    x = keras.layers.Dropout(spec.dropout, name="gdc_dropout")(x)
    x = keras.layers.Dense(spec.embedding_dim, use_bias=False, name="embedding_dense")(x)
    x = keras.layers.BatchNormalization(epsilon=1e-3, name="embedding")(x)
    return keras.Model(backbone.input, x, name=net.name)


@keras.utils.register_keras_serializable(package="edgekit")
class CosFaceLogits(keras.layers.Layer):
    """``s * (cos - m * onehot(label))`` between L2-normalised embeddings and class centres."""

    def __init__(self, num_classes: int, scale: float = 30.0, margin: float = 0.3, **kwargs) -> None:
        super().__init__(**kwargs)
        self.num_classes, self.scale, self.margin = int(num_classes), float(scale), float(margin)

    def build(self, input_shape):
        dim = int(input_shape[0][-1])
        self.centres = self.add_weight(name="centres", shape=(dim, self.num_classes),
                                       initializer=keras.initializers.GlorotUniform(), trainable=True)
        super().build(input_shape)

    def call(self, inputs):
        embedding, labels = inputs
        cos = tf.matmul(tf.math.l2_normalize(embedding, axis=1), tf.math.l2_normalize(self.centres, axis=0))
        onehot = tf.one_hot(tf.cast(tf.reshape(labels, [-1]), tf.int32), self.num_classes, dtype=cos.dtype)
        return self.scale * (cos - self.margin * onehot)

    def get_config(self) -> dict:
        return {**super().get_config(), "num_classes": self.num_classes, "scale": self.scale, "margin": self.margin}


def training_model(embedder: keras.Model, num_classes: int, scale: float, margin: float,
                   head: Optional[CosFaceLogits] = None, distill: bool = False, teacher_dim: Optional[int] = None,
                   relational: bool = False) -> keras.Model:
    """``[image, label] -> margin logits`` around ``embedder`` (``head`` reuses trained class centres).

    With ``distill`` the model has a second output, ``distill``: the L2-normalised embedding, which
    the training loss pulls towards the teacher's embedding of the same face. When the teacher's
    dimension (``teacher_dim``) differs from the embedding's, a learned linear projection (training
    only, never exported) maps the embedding to it first. With ``relational`` a third output,
    ``relational``, is the unprojected unit embedding whose in-batch similarities are matched to
    the teacher's (:func:`relational_distance`)."""
    image = keras.Input(embedder.input_shape[1:], name="image")
    label = keras.Input((), dtype=tf.int32, name="label")
    head = head or CosFaceLogits(num_classes, scale, margin, name="cosface")
    embedding = embedder(image)
    logits = head([embedding, label])
    if not distill and not relational:
        return keras.Model([image, label], logits, name="cosface_training")
    outputs = {"cosface": logits}
    dim = int(embedder.output_shape[-1])
    if distill:
        x = embedding
        if teacher_dim and int(teacher_dim) != dim:
            x = keras.layers.Lambda(lambda e: tf.math.l2_normalize(e, axis=1), name="distill_unit")(x)
            x = keras.layers.Dense(int(teacher_dim), use_bias=False, name="distill_projection")(x)
        outputs["distill"] = keras.layers.Lambda(lambda e: tf.math.l2_normalize(e, axis=1), name="distill")(x)
    if relational:
        outputs["relational"] = keras.layers.Lambda(lambda e: tf.math.l2_normalize(e, axis=1),
                                                    name="relational")(embedding)
    return keras.Model([image, label], outputs, name="cosface_distill_training")


def cosine_distance(target: tf.Tensor, unit: tf.Tensor) -> tf.Tensor:
    """``1 - cos`` between the teacher's embedding (normalised here) and the student's unit embedding.
    (On unit vectors the squared L2 distance is ``2 (1 - cos)``, so this is also the L2 term.)"""
    return 1.0 - tf.reduce_sum(tf.math.l2_normalize(target, axis=1) * unit, axis=1)


def relational_distance(target: tf.Tensor, unit: tf.Tensor) -> tf.Tensor:
    """Per face of the batch: mean squared difference between its cosine similarities to the other
    faces of the batch under the student and under the teacher (similarity-preserving
    distillation; works whatever the two dimensions are)."""
    t = tf.math.l2_normalize(tf.cast(target, unit.dtype), axis=1)
    return tf.reduce_mean(tf.square(tf.matmul(unit, unit, transpose_b=True) - tf.matmul(t, t, transpose_b=True)),
                          axis=1)


def custom_objects() -> dict:
    return {**backbone_objects(), "CosFaceLogits": CosFaceLogits}
