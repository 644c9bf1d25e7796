"""Training loop: soft-label / majority targets, class weighting, wall-clock cosine schedule,
TensorBoard logs, resumable checkpoints and a ``tf.distribute`` strategy switch.

Output folder layout (``cfg.out``)::

    config.json        the TrainConfig of the run
    model.h5           final Keras model (float, or QAT-wrapped when cfg.qat; HDF5 because tfmot's
                       QAT layers do not reload from the .keras format)
    history.json       per-epoch metrics + wall-clock seconds
    ckpt/              tf.train checkpoints (model + optimizer), resumed automatically
    tb/                TensorBoard logs
"""
from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Tuple

import numpy as np

from converters.core.augment import make_dataset
from converters.core.keras_io import load_model, save_model
from converters.core.schedules import WallClockCosine
from converters.core.tfenv import keras, tf
from converters.emotion import data as data_mod
from converters.emotion.config import TrainConfig
from converters.emotion.model import build_classifier

log = logging.getLogger(__name__)


@dataclass
class PreparedData:
    """Arrays ready for :func:`make_dataset` plus what the report needs."""

    train_images: np.ndarray
    train_targets: np.ndarray
    train_weights: np.ndarray
    val_images: np.ndarray
    val_labels: np.ndarray  # majority labels of the kept validation rows
    class_weights: np.ndarray
    train_counts: np.ndarray
    dropped_train: int
    dropped_val: int


def prepare_data(cfg: TrainConfig, train: data_mod.FaceSet, val: data_mod.FaceSet) -> PreparedData:
    """Targets and sample weights per ``cfg.label_mode`` / ``cfg.class_weight_power``.

    Training keeps rows whose majority label exists (soft mode: rows whose 10-column argmax is
    an emotion, the FER+ probability protocol); validation always uses the majority protocol.
    With ``cfg.teacher_labels`` the targets mix in a teacher's probabilities (offline distillation).
    """
    majority = train.majority()
    soft = train.soft_targets()
    if cfg.label_mode == "soft":
        keep = data_mod.soft_label_rows(train.votes)
        targets = soft[keep]
    else:
        keep = majority >= 0
        targets = np.eye(len(data_mod.EMOTIONS), dtype=np.float32)[majority[keep]]
    counts = np.bincount(targets.argmax(axis=1), minlength=len(data_mod.EMOTIONS))
    empty = [data_mod.EMOTIONS[i] for i, c in enumerate(counts) if c == 0]
    if empty:
        log.warning("%s: no training images for class(es) %s", train.source, ", ".join(empty))
    if not keep.any():
        from edgekit.errors import InputError

        raise InputError("no usable training rows (all unknown/not-a-face/tied)", train.source,
                         "check the vote columns")
    if cfg.class_weight_power > 0:
        weights_per_class = data_mod.class_weights(counts, cfg.class_weight_power)
    else:
        weights_per_class = np.ones(len(data_mod.EMOTIONS), np.float32)
    sample_w = targets @ weights_per_class  # class weights follow the human labels
    if cfg.teacher_labels:
        from converters.emotion.teacher.labels import mix_targets, teacher_probabilities

        kept_names = [n for n, k in zip(train.names, keep) if k]
        targets = mix_targets(targets, teacher_probabilities(Path(cfg.teacher_labels), kept_names), cfg.teacher_weight)
    vmaj = val.majority()
    vkeep = vmaj >= 0
    return PreparedData(train.images[keep], targets, sample_w.astype(np.float32), val.images[vkeep], vmaj[vkeep],
                        weights_per_class, counts, int((~keep).sum()), int((~vkeep).sum()))


def load_training_data(cfg: TrainConfig) -> Tuple[data_mod.FaceSet, data_mod.FaceSet]:
    """(train, validation) faces per ``cfg``: as stored, or (``cfg.aligned``) as the runtime's
    detector + aligner crops them, at the model's input size."""
    train_set, val_set = data_mod.load_splits(Path(cfg.data), val_path=cfg.val and Path(cfg.val),
                                              votes_csv=cfg.votes_csv and Path(cfg.votes_csv), seed=cfg.seed)
    if cfg.aligned:
        from converters.emotion.aligned import aligned_set

        train_set, val_set = aligned_set(train_set, cfg.input_size), aligned_set(val_set, cfg.input_size)
    return train_set, val_set


def make_strategy(name: str) -> "tf.distribute.Strategy":
    """TensorFlow's own distribution: default (one device), mirrored (all local GPUs),
    multiworker (TF_CONFIG cluster), tpu."""
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    return tf.distribute.get_strategy()


class CheckpointEveryEpoch(keras.callbacks.Callback):
    """Saves model + optimizer + schedule state after every epoch (resumed by :func:`train`)."""

    def __init__(self, out: Path, schedule: WallClockCosine, history: list) -> None:
        super().__init__()
        self.out, self.schedule, self.history = out, schedule, history
        self.manager: Optional[tf.train.CheckpointManager] = None

    def on_epoch_end(self, epoch, logs=None):
        if self.manager is None:
            ckpt = tf.train.Checkpoint(model=self.model, optimizer=self.model.optimizer)
            self.manager = tf.train.CheckpointManager(ckpt, str(self.out / "ckpt"), max_to_keep=2)
        self.history.append({"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()}})
        self.manager.save(checkpoint_number=epoch + 1)
        state = {"epoch": epoch + 1, "step": self.schedule.step, "elapsed_s": self.schedule.elapsed(),
                 "history": self.history}
        (self.out / "state.json").write_text(json.dumps(state, indent=1))


def with_teacher_targets(ds: "tf.data.Dataset", teacher: keras.Model, weight: float) -> "tf.data.Dataset":
    """Knowledge distillation (temperature 1): each batch's target becomes ``weight`` x the
    teacher's probabilities on the same augmented images + (1 - ``weight``) x the label target."""
    teacher.trainable = False

    def mix(x, y, w):
        return x, weight * teacher(x, training=False) + (1.0 - weight) * y, w

    return ds.map(mix, deterministic=True).prefetch(tf.data.AUTOTUNE)


def train(cfg: TrainConfig, data: Optional[Tuple[data_mod.FaceSet, data_mod.FaceSet]] = None,
          model_fn: Optional[Callable[[], keras.Model]] = None, verbose: Optional[int] = None) -> keras.Model:
    """Train per ``cfg`` and save everything under ``cfg.out``; returns the trained Keras model.

    ``data`` (train, val) skips loading ``cfg.data``; ``model_fn`` overrides the model (e.g. a pruned
    model to fine-tune). A run whose ``cfg.out`` holds checkpoints resumes from the last one.
    """
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    cfg.save(out / "config.json")
    keras.utils.set_random_seed(cfg.seed)
    train_set, val_set = data or load_training_data(cfg)
    prep = prepare_data(cfg, train_set, val_set)
    log.info("train %d images (dropped %d), val %d (dropped %d); class counts %s; class weights %s",
             len(prep.train_targets), prep.dropped_train, len(prep.val_labels), prep.dropped_val,
             prep.train_counts.tolist(), np.round(prep.class_weights, 3).tolist())
    strategy = make_strategy(cfg.strategy)
    batch = min(cfg.batch_size, len(prep.train_targets))
    steps = max(1, len(prep.train_targets) // batch)
    state_file = out / "state.json"
    state = json.loads(state_file.read_text()) if state_file.is_file() else {"epoch": 0, "step": 0, "elapsed_s": 0.0,
                                                                             "history": []}
    with strategy.scope():
        if model_fn is not None:
            model = model_fn()
        elif cfg.init_from:
            model = load_model(cfg.init_from)
        else:
            model = build_classifier(cfg)
        if cfg.qat:
            from converters.core.quantize import qat_model

            model = qat_model(model)
        optimizer = keras.optimizers.AdamW(learning_rate=cfg.lr, weight_decay=cfg.weight_decay)
        model.compile(optimizer=optimizer,
                      loss=keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing),
                      metrics=[keras.metrics.CategoricalAccuracy(name="acc")], weighted_metrics=[])
    if state["epoch"] > 0:
        ckpt = tf.train.Checkpoint(model=model, optimizer=model.optimizer)
        latest = tf.train.latest_checkpoint(str(out / "ckpt"))
        if latest:
            ckpt.restore(latest).expect_partial()
            log.info("resumed from %s (epoch %d, %.0f s spent)", latest, state["epoch"], state["elapsed_s"])
    schedule = WallClockCosine(cfg.lr, cfg.epochs * steps, int(cfg.warmup_epochs * steps), cfg.budget_minutes * 60.0,
                               start_step=state["step"], elapsed_offset=state["elapsed_s"])
    history: list = list(state.get("history", []))
    train_ds = make_dataset(prep.train_images, prep.train_targets, prep.train_weights, cfg.input_size, batch,
                            training=True, seed=cfg.seed, augment=cfg.augment, start_batch=state["step"])
    if cfg.distill_from:
        log.info("distilling from %s (teacher share of the target %.2f)", cfg.distill_from, cfg.distill_weight)
        train_ds = with_teacher_targets(train_ds, load_model(cfg.distill_from), cfg.distill_weight)
    val_targets = np.eye(len(data_mod.EMOTIONS), dtype=np.float32)[prep.val_labels]
    val_ds = make_dataset(prep.val_images, val_targets, None, cfg.input_size, 256, training=False)
    callbacks = [schedule, CheckpointEveryEpoch(out, schedule, history),
                 keras.callbacks.TensorBoard(str(out / "tb"), update_freq="epoch", profile_batch=0)]
    if state["epoch"] < cfg.epochs and schedule.progress() < 1.0:
        model.fit(train_ds, epochs=cfg.epochs, initial_epoch=state["epoch"], steps_per_epoch=steps,
                  validation_data=val_ds, callbacks=callbacks,
                  verbose=verbose if verbose is not None else (1 if sys.stdout.isatty() else 2))
    save_model(model, out / "model.h5")
    (out / "history.json").write_text(json.dumps({"history": history, "elapsed_s": schedule.elapsed(),
                                                  "class_weights": prep.class_weights.tolist(),
                                                  "train_counts": prep.train_counts.tolist()}, indent=1))
    return model
