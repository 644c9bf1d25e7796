"""Margin-loss training of the embedder on a wall-clock budget.

Batches come from the emotion toolchain's seeded augmentation pipeline
(:func:`converters.core.augment.make_dataset`; gray crops, labels carried as the "targets"),
the learning rate follows its wall-clock cosine schedule (:class:`converters.emotion.train.WallClockCosine`),
and a callback measures held-out verification accuracy as training goes.
"""
from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from converters.core.augment import AugmentConfig, make_dataset
from converters.core.schedules import WallClockCosine
from converters.identity.model import CosFaceLogits, cosine_distance, relational_distance, training_model
from converters.core.tfenv import keras, tf

log = logging.getLogger(__name__)


def identity_augment() -> AugmentConfig:
    """Milder geometry than for expressions (the alignment is already good), no mixup."""
    return AugmentConfig(flip=True, rotation_deg=8.0, shift=0.05, scale=0.08, brightness=0.2, contrast=0.35,
                         erase_prob=0.25, erase_area=(0.02, 0.1))


@dataclass
class FitSettings:
    """One training stage."""

    budget_minutes: float = 30.0
    epochs: int = 200
    batch_size: int = 128
    lr: float = 3e-3
    weight_decay: float = 5e-4
    warmup_epochs: float = 1.0
    scale: float = 30.0
    margin: float = 0.3
    seed: int = 0
    eval_every: int = 5  # epochs between held-out checks (0: never)
    distill_weight: float = 0.0  # weight of 1 - cos(student, teacher) when teacher embeddings are given
    relational_weight: float = 0.0  # weight of the in-batch similarity-matching term (teacher embeddings needed)
    cosface_weight: float = 1.0  # weight of the CosFace margin loss (0: distillation alone)
    augment: AugmentConfig = field(default_factory=identity_augment)


class HeldOutCheck(keras.callbacks.Callback):
    """Every epoch: records the losses (and every ``every`` epochs ``evaluate(embedder) -> dict``),
    then checkpoints model + optimizer + schedule state into ``ckpt_dir`` so a crashed run resumes."""

    def __init__(self, embedder: keras.Model, evaluate: Optional[Callable[[keras.Model], dict]], every: int,
                 history: List[dict], schedule: WallClockCosine, ckpt_dir: Optional[Path]) -> None:
        super().__init__()
        self.embedder, self.evaluate, self.every, self.history = embedder, evaluate, every, history
        self.schedule, self.ckpt_dir = schedule, ckpt_dir
        self.manager: Optional[tf.train.CheckpointManager] = None

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch + 1, "elapsed_s": round(self.schedule.elapsed(), 1),
               **{k: float(v) for k, v in (logs or {}).items()}}
        if self.evaluate is not None and self.every and ((epoch + 1) % self.every == 0 or self.model.stop_training):
            row.update(self.evaluate(self.embedder))
            log.info("epoch %d: %s", epoch + 1, {k: round(v, 4) for k, v in row.items() if isinstance(v, float)})
        self.history.append(row)
        if self.ckpt_dir is not None:
            if self.manager is None:
                ckpt = tf.train.Checkpoint(model=self.model, optimizer=self.model.optimizer)
                self.manager = tf.train.CheckpointManager(ckpt, str(self.ckpt_dir), max_to_keep=1)
            self.manager.save(checkpoint_number=epoch + 1)
            state = {"epoch": epoch + 1, "step": self.schedule.step, "elapsed_s": self.schedule.elapsed(),
                     "history": self.history}
            (self.ckpt_dir / "state.json").write_text(json.dumps(state))


def loss_terms(settings: FitSettings, distill: bool) -> Tuple[Dict[str, object], Dict[str, float]]:
    """``(losses, weights)`` per output of :func:`converters.identity.model.training_model`: the
    CosFace cross-entropy, and with teacher targets ``1 - cos`` and the relational term, each with
    its weight from ``settings``; the training loss is their weighted sum. Terms of weight 0 are
    left out (and so are their outputs)."""
    losses: Dict[str, object] = {"cosface": keras.losses.SparseCategoricalCrossentropy(from_logits=True)}
    weights = {"cosface": float(settings.cosface_weight)}
    if distill and settings.distill_weight > 0:
        losses["distill"], weights["distill"] = cosine_distance, float(settings.distill_weight)
    if distill and settings.relational_weight > 0:
        losses["relational"], weights["relational"] = relational_distance, float(settings.relational_weight)
    if not any(w > 0 for w in weights.values()):
        raise ValueError("every loss weight is 0: nothing to train "
                         "(set cosface_weight, or distill_weight with a teacher)")
    return losses, weights


def mixed_targets(keys: List[str], unlabelled_weight: float) -> Callable:
    """Batch map for mixed labelled / distillation-only rows: targets ``[label, teacher..., flag]``
    become ``((image, label), targets per output, sample weights per output)``; a row with flag 0
    weighs 0 in the CosFace loss (and its accuracy) and ``unlabelled_weight`` in the ``keys``
    (distillation) terms, a labelled row 1 in every term."""
    extra = float(unlabelled_weight)

    def split(x, y, w):
        label, flag = tf.cast(y[:, 0], tf.int32), y[:, -1]
        distill_w = flag + (1.0 - flag) * extra
        return ((x, label), {"cosface": label, **{k: y[:, 1:-1] for k in keys}},
                {"cosface": flag, **{k: distill_w for k in keys}})

    return split


def fit(embedder: keras.Model, images: np.ndarray, labels: np.ndarray, num_classes: int, settings: FitSettings,
        head: Optional[CosFaceLogits] = None, evaluate: Optional[Callable[[keras.Model], dict]] = None,
        history_path: Optional[Path] = None, verbose: Optional[int] = None, ckpt_dir: Optional[Path] = None,
        teacher: Optional[np.ndarray] = None, labelled: Optional[np.ndarray] = None,
        unlabelled_weight: float = 1.0) -> CosFaceLogits:
    """Train ``embedder`` in place on gray ``images`` [N, S, S] with integer ``labels``; returns the
    margin head (its class centres carry over to fine-tuning). With ``ckpt_dir``, every epoch is
    checkpointed there and a later call resumes from the last one (same epoch, step and clock).

    ``teacher`` ([N, D] teacher embeddings of the same faces; D may differ from the embedding's
    size, a learned projection then maps the student to it) adds the distillation terms of
    :func:`loss_terms` to the margin loss (weighted by ``settings.cosface_weight``).

    ``labelled`` ([N] bool; needs ``teacher``): rows marked False are distillation-only samples
    (faces without an identity label, e.g. FER+): their sample weight is 0 in the CosFace loss and
    its accuracy and ``unlabelled_weight`` in the distillation terms (labelled rows: 1 in both).
    They are shuffled into the same batches; every term stays a mean over the whole batch."""
    keras.utils.set_random_seed(settings.seed)
    size = int(embedder.input_shape[1])
    batch = min(settings.batch_size, len(images))
    steps = max(1, len(images) // batch)
    state_file = Path(ckpt_dir) / "state.json" if ckpt_dir else None
    state = json.loads(state_file.read_text()) if state_file and state_file.is_file() else \
        {"epoch": 0, "step": 0, "elapsed_s": 0.0, "history": []}
    distill = teacher is not None and (settings.distill_weight > 0 or settings.relational_weight > 0)
    if distill and (teacher.ndim != 2 or len(teacher) != len(images)):
        raise ValueError(f"teacher embeddings {teacher.shape} do not match {len(images)} images")
    if len(labels) != len(images):
        raise ValueError(f"{len(labels)} labels do not match {len(images)} images")
    mixed = labelled is not None and not np.all(labelled)
    if mixed and (not distill or len(labelled) != len(images)):
        raise ValueError("unlabelled (distillation-only) samples need teacher embeddings and a distillation weight, "
                         f"and one flag per image ({len(labelled)} flags, {len(images)} images)")
    losses, weights = loss_terms(settings, distill)
    targets = labels.astype(np.float32)[:, None]
    if distill:
        targets = np.concatenate([targets, teacher.astype(np.float32)], axis=1)
    if mixed:
        targets = np.concatenate([targets, np.asarray(labelled, np.float32)[:, None]], axis=1)
    base = make_dataset(images, targets, None, size, batch, training=True,
                        seed=settings.seed, augment=settings.augment, start_batch=state["step"])
    model = training_model(embedder, num_classes, settings.scale, settings.margin, head,
                           distill="distill" in losses, teacher_dim=teacher.shape[1] if distill else None,
                           relational="relational" in losses)
    optimizer = keras.optimizers.AdamW(learning_rate=settings.lr, weight_decay=settings.weight_decay)
    if mixed:
        dataset = base.map(mixed_targets([k for k in losses if k != "cosface"], unlabelled_weight))
        model.compile(optimizer=optimizer, loss=losses, loss_weights=weights,
                      weighted_metrics={"cosface": [keras.metrics.SparseCategoricalAccuracy(name="acc")]})
    elif distill:
        keys = [k for k in losses if k != "cosface"]
        dataset = base.map(lambda x, y, w: ((x, tf.cast(y[:, 0], tf.int32)),
                                            {"cosface": tf.cast(y[:, 0], tf.int32), **{k: y[:, 1:] for k in keys}}))
        model.compile(optimizer=optimizer, loss=losses, loss_weights=weights,
                      metrics={"cosface": [keras.metrics.SparseCategoricalAccuracy(name="acc")]})
    else:
        dataset = base.map(lambda x, y, w: ((x, tf.cast(y[:, 0], tf.int32)), tf.cast(y[:, 0], tf.int32)))
        model.compile(optimizer=optimizer, loss=losses["cosface"], loss_weights=weights["cosface"],
                      metrics=[keras.metrics.SparseCategoricalAccuracy(name="acc")])
    if state["epoch"] > 0 and ckpt_dir is not None:
        tf.train.Checkpoint(model=model, optimizer=model.optimizer).restore(
            tf.train.latest_checkpoint(str(ckpt_dir))).expect_partial()
        log.info("resumed from %s at epoch %d (%.0f s spent)", ckpt_dir, state["epoch"], state["elapsed_s"])
    schedule = WallClockCosine(settings.lr, settings.epochs * steps, int(settings.warmup_epochs * steps),
                               settings.budget_minutes * 60.0, start_step=state["step"],
                               elapsed_offset=state["elapsed_s"])
    history: List[dict] = list(state["history"])
    if ckpt_dir is not None:
        Path(ckpt_dir).mkdir(parents=True, exist_ok=True)
    if state["epoch"] < settings.epochs and schedule.progress() < 1.0:
        model.fit(dataset, epochs=settings.epochs, initial_epoch=state["epoch"], steps_per_epoch=steps,
                  callbacks=[schedule,
                             HeldOutCheck(embedder, evaluate, settings.eval_every, history, schedule, ckpt_dir)],
                  verbose=verbose if verbose is not None else (1 if sys.stdout.isatty() else 2))
    if history_path is not None:
        Path(history_path).write_text(json.dumps({"history": history, "elapsed_s": schedule.elapsed(),
                                                  "images": int(len(images)), "classes": int(num_classes)}, indent=1))
    return model.get_layer("cosface") if head is None else head
