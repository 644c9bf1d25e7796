"""tf.data input pipeline with face augmentation, deterministic for a given seed.

Augmentation runs on whole batches with stateless random ops keyed on (seed, batch index), so
the same seed gives the same batches whatever the parallelism. Images leave the pipeline as
``[B, S, S, 3]`` float32 RGB 0..255 (gray replicated), exactly what the exported model takes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, asdict
from typing import Optional, Tuple

import numpy as np

from converters.core.tfenv import tf


@dataclass(frozen=True)
class AugmentConfig:
    """Face augmentation strengths (0 disables an op)."""

    flip: bool = True
    rotation_deg: float = 12.0
    shift: float = 0.08  # fraction of the side
    scale: float = 0.12  # zoom in/out by up to this fraction
    brightness: float = 0.15  # fraction of 255
    contrast: float = 0.3  # factor in [1 - c, 1 + c]
    erase_prob: float = 0.3
    erase_area: Tuple[float, float] = (0.02, 0.12)
    mixup_alpha: float = 0.0  # > 0 mixes pairs of images and targets (Beta(alpha, alpha))
    # The real-photo path: small faces (a down-and-up resize), soft focus, exposure curves.
    lowres_prob: float = 0.0  # share of images shrunk to a random side in [lowres_min, 1] x theirs and enlarged back
    lowres_min: float = 0.5
    blur_prob: float = 0.0  # share of images given a Gaussian blur of sigma in (0, blur_sigma] pixels
    blur_sigma: float = 1.2
    gamma: float = 0.0  # > 0: per-image gamma curve with exponent in [1 / (1 + g), 1 + g]

    def to_dict(self) -> dict:
        return asdict(self)


def _uniform(seed, shape, low, high):
    return tf.random.stateless_uniform(shape, seed=seed, minval=low, maxval=high)


def augment_batch(images: tf.Tensor, seed: tf.Tensor, cfg: AugmentConfig) -> tf.Tensor:
    """Augment ``[B, H, W, 1]`` float32 0..255 images with per-image random parameters."""
    seeds = tf.random.experimental.stateless_split(seed, 8)
    batch = tf.shape(images)[0]
    h = tf.cast(tf.shape(images)[1], tf.float32)
    w = tf.cast(tf.shape(images)[2], tf.float32)
    if cfg.flip:
        flip = _uniform(seeds[0], [batch], 0.0, 1.0) < 0.5
        images = tf.where(flip[:, None, None, None], tf.reverse(images, axis=[2]), images)
    # Affine: output pixel p maps to input A (p - c - t) + c with A = R(theta) / s.
    theta = _uniform(seeds[1], [batch], -1.0, 1.0) * (cfg.rotation_deg * math.pi / 180.0)
    scale = 1.0 + _uniform(seeds[2], [batch], -cfg.scale, cfg.scale)
    shift = _uniform(seeds[3], [batch, 2], -cfg.shift, cfg.shift) * tf.stack([w, h])
    cx, cy = (w - 1.0) / 2.0, (h - 1.0) / 2.0
    cos, sin = tf.cos(theta) / scale, tf.sin(theta) / scale
    tx, ty = cx + shift[:, 0], cy + shift[:, 1]
    zeros = tf.zeros_like(cos)
    transforms = tf.stack([cos, sin, cx - cos * tx - sin * ty, -sin, cos, cy + sin * tx - cos * ty, zeros, zeros],
                          axis=1)
    images = tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=tf.shape(images)[1:3], fill_value=0.0,
        interpolation="BILINEAR", fill_mode="REFLECT")
    # Brightness / contrast around each image's mean.
    mean = tf.reduce_mean(images, axis=[1, 2, 3], keepdims=True)
    contrast = 1.0 + _uniform(seeds[4], [batch, 1, 1, 1], -cfg.contrast, cfg.contrast)
    bright = _uniform(seeds[5], [batch, 1, 1, 1], -cfg.brightness, cfg.brightness) * 255.0
    images = (images - mean) * contrast + mean + bright
    images = tf.clip_by_value(images, 0.0, 255.0)
    images = _photo_path(images, seeds[7], cfg)
    if cfg.erase_prob > 0:
        images = _random_erase(images, seeds[6], cfg)
    return tf.clip_by_value(images, 0.0, 255.0)


def _photo_path(images: tf.Tensor, seed: tf.Tensor, cfg: AugmentConfig) -> tf.Tensor:
    """Low resolution, blur and gamma, each on a random share of the batch (one size and one
    blur strength per batch, so the ops stay batched; gamma per image)."""
    if cfg.lowres_prob <= 0 and cfg.blur_prob <= 0 and cfg.gamma <= 0:
        return images
    s = tf.random.experimental.stateless_split(seed, 6)
    batch = tf.shape(images)[0]
    side = tf.shape(images)[1:3]
    if cfg.lowres_prob > 0:
        f = _uniform(s[0], [], cfg.lowres_min, 1.0)
        small = tf.maximum(tf.cast(tf.round(tf.cast(side, tf.float32) * f), tf.int32), 4)
        low = tf.image.resize(tf.image.resize(images, small, method="area"), side, method="bilinear")
        pick = _uniform(s[1], [batch], 0.0, 1.0) < cfg.lowres_prob
        images = tf.where(pick[:, None, None, None], low, images)
    if cfg.blur_prob > 0:
        sigma = _uniform(s[2], [], 0.3, cfg.blur_sigma)
        radius = int(math.ceil(3 * cfg.blur_sigma))
        x = tf.range(-radius, radius + 1, dtype=tf.float32)
        k = tf.exp(-0.5 * (x / sigma) ** 2)
        k = k / tf.reduce_sum(k)
        pad = tf.pad(images, [[0, 0], [radius, radius], [radius, radius], [0, 0]], mode="REFLECT")
        blurred = tf.nn.conv2d(pad, tf.reshape(k, [-1, 1, 1, 1]), 1, "VALID")
        blurred = tf.nn.conv2d(blurred, tf.reshape(k, [1, -1, 1, 1]), 1, "VALID")
        pick = _uniform(s[3], [batch], 0.0, 1.0) < cfg.blur_prob
        images = tf.where(pick[:, None, None, None], blurred, images)
    if cfg.gamma > 0:
        g = tf.exp(_uniform(s[4], [batch, 1, 1, 1], -1.0, 1.0) * math.log(1.0 + cfg.gamma))
        images = 255.0 * tf.pow(images / 255.0, g)
    return images


def _random_erase(images: tf.Tensor, seed: tf.Tensor, cfg: AugmentConfig) -> tf.Tensor:
    """Fill one random rectangle per image (with probability erase_prob) with a random gray level."""
    s = tf.random.experimental.stateless_split(seed, 6)
    batch = tf.shape(images)[0]
    h = tf.cast(tf.shape(images)[1], tf.float32)
    w = tf.cast(tf.shape(images)[2], tf.float32)
    area = _uniform(s[0], [batch], cfg.erase_area[0], cfg.erase_area[1]) * h * w
    aspect = tf.exp(_uniform(s[1], [batch], math.log(0.5), math.log(2.0)))
    eh = tf.minimum(tf.sqrt(area * aspect), h)
    ew = tf.minimum(tf.sqrt(area / aspect), w)
    y0 = _uniform(s[2], [batch], 0.0, 1.0) * (h - eh)
    x0 = _uniform(s[3], [batch], 0.0, 1.0) * (w - ew)
    ys = tf.range(h)[None, :, None]
    xs = tf.range(w)[None, None, :]
    inside = ((ys >= y0[:, None, None]) & (ys < (y0 + eh)[:, None, None])
              & (xs >= x0[:, None, None]) & (xs < (x0 + ew)[:, None, None]))
    apply = _uniform(s[4], [batch], 0.0, 1.0) < cfg.erase_prob
    mask = inside & apply[:, None, None]
    fill = _uniform(s[5], [batch, 1, 1, 1], 0.0, 255.0)
    return tf.where(mask[..., None], fill, images)


def _mixup(images: tf.Tensor, targets: tf.Tensor, weights: tf.Tensor, seed: tf.Tensor, alpha: float):
    s = tf.random.experimental.stateless_split(seed, 3)
    batch = tf.shape(images)[0]
    g1 = tf.random.stateless_gamma([batch], s[0], alpha)
    g2 = tf.random.stateless_gamma([batch], s[1], alpha)
    lam = g1 / (g1 + g2)
    perm = tf.argsort(tf.random.stateless_uniform([batch], s[2]))
    mix = lambda a, b, l: l * a + (1.0 - l) * b  # noqa: E731
    images = mix(images, tf.gather(images, perm), lam[:, None, None, None])
    targets = mix(targets, tf.gather(targets, perm), lam[:, None])
    weights = mix(weights, tf.gather(weights, perm), lam)
    return images, targets, weights


def to_model_input(gray: tf.Tensor, size: int) -> tf.Tensor:
    """``[B, h, w, 1]`` float gray -> ``[B, size, size, 3]`` RGB float 0..255 (bilinear, like cv2.INTER_LINEAR)."""
    if gray.shape[1] != size or gray.shape[2] != size:
        gray = tf.image.resize(gray, (size, size), method="bilinear")
    return tf.repeat(gray, 3, axis=-1)


def make_dataset(images: np.ndarray, targets: np.ndarray, weights: Optional[np.ndarray], input_size: int,
                 batch_size: int, training: bool, seed: int = 0, augment: Optional[AugmentConfig] = None,
                 start_batch: int = 0) -> "tf.data.Dataset":
    """Batches of (RGB images, targets, sample weights) for Keras ``fit``/``evaluate``.

    ``images``: ``[N, h, w]`` uint8 gray crops. Training data is an endless, seeded reshuffled
    stream (use ``steps_per_epoch``); batch ``k`` is augmented with key ``(seed, k)``, and
    ``start_batch`` resumes the identical stream after a restart.
    """
    images = np.asarray(images, np.uint8)[..., None]
    targets = np.asarray(targets, np.float32)
    if weights is None:
        weights = np.ones(len(images), np.float32)
    ds = tf.data.Dataset.from_tensor_slices((images, targets, np.asarray(weights, np.float32)))
    if training:
        ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True).repeat()
    ds = ds.batch(batch_size, drop_remainder=training).enumerate()
    if start_batch:
        ds = ds.skip(start_batch)
    cfg = augment or AugmentConfig()

    def prepare(index, batch):
        x, y, w = batch
        x = tf.cast(x, tf.float32)
        if training:
            key = tf.stack([tf.constant(seed, tf.int64), index])
            x = augment_batch(x, key, cfg)
            if cfg.mixup_alpha > 0:
                x, y, w = _mixup(x, y, w, key + 1, cfg.mixup_alpha)
        return to_model_input(x, input_size), y, w

    return ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(tf.data.AUTOTUNE)
