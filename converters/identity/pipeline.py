"""The identity toolchain in stages: data -> train -> prune 30% + fine-tune -> [QAT] -> convert -> report.

Every stage writes into ``<out>/<stage>/`` and is skipped when its result exists, so an
interrupted run resumes at the stage it stopped in. ``python -m converters.identity all`` runs
:func:`run_all`.
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from converters.identity import data as data_mod
from converters.identity.train import FitSettings

log = logging.getLogger(__name__)


def _finetune_defaults() -> FitSettings:
    return FitSettings(budget_minutes=8.0, lr=1e-3, warmup_epochs=0.2, eval_every=0)


def _qat_defaults() -> FitSettings:
    return FitSettings(budget_minutes=0.0, lr=1e-4, warmup_epochs=0.0, weight_decay=0.0, eval_every=0)


@dataclass
class IdentityConfig:
    """Everything that determines a toolchain run (recorded in ``<out>/config.json`` and the report)."""

    data: str = ""  # LFW root (images/Name/Name_NNNN.jpg, pairsDevTrain.txt)
    out: str = "runs/identity"
    cache_dir: str = "runs/identity/cache"
    people_limit: int = 0  # > 0: only the first N people (alphabetically) with >= 2 images (smoke tests)
    input_size: int = 64
    alpha: float = 1.0
    last_stride: int = 1
    embedding_dim: int = 128
    depth: int = 0  # > 0: only the first backbone blocks (tiny test models)
    heldout_fraction: float = 0.18
    heldout_pairs: int = 1500  # matched pairs among held-out people (and as many mismatched)
    # teacher cache (.npz, or the folder of `python -m converters.identity teacher`); "" = no distillation
    teacher: str = ""
    teacher_views: int = -1  # augmented teacher views to add as training samples (-1: every one in the cache)
    # which of the photo and mirror views the teacher target averages (those the cache holds)
    teacher_base_views: List[str] = field(default_factory=lambda: ["photo", "mirror"])
    # unlabelled extra faces for distillation only (no CosFace term): a FER+ teacher cache (.npz or the folder of
    # `teacher --source ferplus`), the FER+ folder it was made from and its --subset/--seed; "" = none
    extra_teacher: str = ""
    extra_data: str = ""
    extra_subset: int = 0
    extra_seed: int = 0
    extra_weight: float = 1.0  # distillation weight of an extra face relative to a labelled LFW face
    # > 0: ship the threshold with this false-accept rate on held-out pairs (else max accuracy)
    threshold_far: float = 0.0
    seed: int = 0
    train: FitSettings = field(default_factory=FitSettings)
    prune_fraction: float = 0.3
    prune_divisor: int = 4
    finetune: FitSettings = field(default_factory=_finetune_defaults)
    qat: FitSettings = field(default_factory=_qat_defaults)  # budget_minutes 0: skip QAT
    calibration_count: int = 500
    io_dtype: str = "uint8"
    ship: bool = True
    ship_name: str = "identity"
    ship_file: str = "identity_mnv3s_int8.tflite"
    models_dir: str = "edgekit/models"
    report_dir: str = "reports/identity"
    latency_runs: int = 300
    threads: int = 2  # TensorFlow intra/inter-op threads (0: TensorFlow's default)
    produced_by: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict, source: str = "config") -> "IdentityConfig":
        from converters.core.augment import AugmentConfig
        from converters.core.config import reject_unknown

        raw = dict(raw)
        reject_unknown(raw, {f.name for f in fields(cls)}, source)
        for name in ("train", "finetune", "qat"):
            if isinstance(raw.get(name), dict):
                sub = dict(raw[name])
                reject_unknown(sub, {f.name for f in fields(FitSettings)}, f"{source} [{name}]")
                if isinstance(sub.get("augment"), dict):
                    aug = dict(sub["augment"])
                    if "erase_area" in aug:
                        aug["erase_area"] = tuple(aug["erase_area"])
                    sub["augment"] = AugmentConfig(**aug)
                base = getattr(cls(), name)
                raw[name] = replace(base, **sub)
        return cls(**raw)


@dataclass
class Prepared:
    """Aligned faces, the person split, the pair lists and the training labels."""

    faces: data_mod.FaceData
    split: data_mod.Split
    train_idx: np.ndarray
    train_labels: np.ndarray
    num_classes: int
    heldout_pairs: np.ndarray
    lfw_pairs: np.ndarray
    lfw_pairs_missing: int
    teacher: Optional[np.ndarray] = None  # [N, D] teacher targets of every face (distillation), or None
    view_gray: Optional[np.ndarray] = None  # [M, S, S] gray crops of augmented views of training faces
    view_labels: Optional[np.ndarray] = None  # [M] their training labels
    view_teacher: Optional[np.ndarray] = None  # [M, D] the teacher's targets of those views
    teacher_info: Optional[dict] = None  # which cache and views were used
    teacher_mean: Optional[np.ndarray] = None  # [D] mean raw teacher embedding of the training faces
    extra_gray: Optional[np.ndarray] = None  # [E, S, S] runtime crops of unlabelled extra faces (FER+)
    extra_teacher: Optional[np.ndarray] = None  # [E, D] their teacher targets (distillation only)
    extra_info: Optional[dict] = None

    def training_set(self):
        """``(gray crops, labels, teacher targets or None, labelled flags)`` the training stages
        fit: the training faces' crops, the augmented views' crops with their own teacher targets,
        then the unlabelled extra faces (label 0, flag False: distillation only)."""
        gray = self.faces.gray()[self.train_idx]
        labels = self.train_labels
        teacher = self.teacher[self.train_idx] if self.teacher is not None else None
        if self.view_gray is not None and len(self.view_gray):
            gray = np.concatenate([gray, self.view_gray])
            labels = np.concatenate([labels, self.view_labels])
            teacher = np.concatenate([teacher, self.view_teacher])
        labelled = np.ones(len(gray), bool)
        if self.extra_gray is not None and len(self.extra_gray):
            gray = np.concatenate([gray, self.extra_gray])
            labels = np.concatenate([labels, np.zeros(len(self.extra_gray), labels.dtype)])
            teacher = np.concatenate([teacher, self.extra_teacher])
            labelled = np.concatenate([labelled, np.zeros(len(self.extra_gray), bool)])
        return gray, labels, teacher, labelled

    def summary(self) -> dict:
        names = self.faces.names
        held = set(self.split.heldout_people)
        overlap = {str(names[i]) for i in np.unique(self.lfw_pairs[:, :2])} & set(self.split.train_people)
        return {"images": int(len(names)), "detected_by_blazeface": int(self.faces.detected.sum()),
                "train_images": int(len(self.train_idx)), "train_people": len(self.split.train_people),
                "heldout_people": len(held), "heldout_images": int(sum(str(n) in held for n in names)),
                "heldout_pairs": _pair_counts(self.heldout_pairs), "lfw_pairs": _pair_counts(self.lfw_pairs),
                "lfw_pairs_missing": self.lfw_pairs_missing, "lfw_pair_people_in_training": len(overlap),
                "augmented_view_samples": int(len(self.view_gray)) if self.view_gray is not None else 0,
                "teacher": self.teacher_info, "extra_faces": self.extra_info}


def _pair_counts(pairs: np.ndarray) -> dict:
    return {"matched": int(pairs[:, 2].sum()), "mismatched": int((pairs[:, 2] == 0).sum())}


def _limited_people(root: Path, limit: int) -> Optional[List[str]]:
    if limit <= 0:
        return None
    people = sorted(p.name for p in (root / "images").iterdir() if p.is_dir() and len(list(p.glob("*.jpg"))) >= 2)
    return people[:limit]


def prepare(cfg: IdentityConfig) -> Prepared:
    root = Path(cfg.data)
    faces = data_mod.load_faces(root, cfg.input_size, Path(cfg.cache_dir), _limited_people(root, cfg.people_limit))
    split = data_mod.split_people(faces.names, cfg.heldout_fraction, cfg.seed)
    data_mod.save_split(Path(cfg.out) / "split.json", split)
    train_people = {p: k for k, p in enumerate(split.train_people)}
    train_idx = np.array([i for i, n in enumerate(faces.names) if str(n) in train_people], np.int64)
    labels = np.array([train_people[str(faces.names[i])] for i in train_idx], np.int64)
    held = data_mod.sample_pairs(faces.names, split.heldout_people, cfg.heldout_pairs, cfg.seed)
    pairs_file = root / "pairsDevTrain.txt"
    lfw, missing = data_mod.lfw_pairs(faces.index, pairs_file) if pairs_file.is_file() else (np.zeros((0, 3), np.int64),
                                                                                             0)
    prep = Prepared(faces, split, train_idx, labels, len(train_people), held, lfw, missing)
    if cfg.teacher:
        add_teacher(cfg, prep)
    if cfg.extra_teacher:
        add_extra(cfg, prep)
    return prep


def add_teacher(cfg: IdentityConfig, prep: Prepared) -> None:
    """Teacher targets of every face (centred on the training faces' mean) and, for each augmented
    view in the cache (up to ``cfg.teacher_views``), the training faces' crops of that view with
    the teacher's targets of it. A cache that does not match the faces is refused."""
    from converters.identity import teacher as teacher_mod

    index = prep.faces.index
    path = teacher_mod.resolve_cache(Path(cfg.teacher), index.names, index.numbers)
    found = teacher_mod.load_teacher(path, index.names, index.numbers, data_mod.image_hashes(index),
                                     cfg.teacher_base_views)
    mean = found.base[prep.train_idx].mean(axis=0)
    prep.teacher_mean = mean
    prep.teacher = teacher_mod.centred_targets(found.base, prep.train_idx, mean)
    views = sorted(found.augmented, key=lambda v: int(v[3:]))
    if cfg.teacher_views >= 0:
        views = views[:cfg.teacher_views]
    if views and prep.faces.eyes is None:
        raise ValueError("augmented views need the faces' eye keypoints (load them with data.load_faces)")
    grays, targets = [], []
    for view in views:
        grays.append(data_mod.view_crops(index, prep.faces.eyes, cfg.input_size, int(view[3:]), prep.train_idx,
                                         Path(cfg.cache_dir)))
        targets.append(teacher_mod.centred_targets(found.augmented[view][prep.train_idx],
                                                   np.arange(len(prep.train_idx)), mean))
    if views:
        prep.view_gray = np.concatenate(grays)
        prep.view_labels = np.tile(prep.train_labels, len(views))
        prep.view_teacher = np.concatenate(targets)
    prep.teacher_info = {"cache": str(path), "cache_sha256": _sha256(path), "views_in_cache": found.views,
                         "base_views": [v for v in cfg.teacher_base_views if v in found.views],
                         "augmented_views_used": views}


def add_extra(cfg: IdentityConfig, prep: Prepared) -> None:
    """Unlabelled FER+ faces for distillation only: the list ``cfg.extra_data`` /
    ``extra_subset`` / ``extra_seed`` gives (the faces BlazeFace finds, as
    :func:`converters.identity.ferplus.detected_faces` lists them for the teacher), their runtime
    crops, and the teacher targets of ``cfg.extra_teacher`` centred on the LFW training faces' mean.
    A cache whose faces differ from that list in count, order or file sha256 is refused."""
    from converters.identity import ferplus
    from converters.identity import teacher as teacher_mod
    from edgekit.errors import ConfigError

    if prep.teacher_mean is None:
        raise ConfigError("extra faces need the LFW teacher cache too (their targets are centred on its "
                          "training faces' mean)", "extra_teacher", "set teacher as well")
    if not cfg.extra_data:
        raise ConfigError("no FER+ folder for the extra teacher cache", "extra_data",
                          "set extra_data to the folder the cache was made from "
                          "(e.g. ../shared/data/ferplus/FER2013Train)")
    index, eyes, missed = ferplus.detected_faces(Path(cfg.extra_data), cfg.extra_subset, cfg.extra_seed,
                                                 Path(cfg.cache_dir))
    path = teacher_mod.resolve_cache(Path(cfg.extra_teacher), index.names, index.numbers)
    with np.load(path) as cache:
        teacher_mod.check_matches(dict(cache), index.names, index.numbers)
    hashes = teacher_mod.image_sha256([index.path(i) for i in range(len(index))])
    found = teacher_mod.load_teacher(path, index.names, index.numbers, hashes, cfg.teacher_base_views)
    key = teacher_mod.images_digest(hashes)[:16]
    crops_file = Path(cfg.cache_dir) / f"fer_crops_gray{cfg.input_size}_{key}.npy"
    if crops_file.is_file():
        prep.extra_gray = np.load(crops_file)
    else:
        prep.extra_gray = ferplus.aligned_gray(index, eyes, cfg.input_size)
        crops_file.parent.mkdir(parents=True, exist_ok=True)
        np.save(crops_file, prep.extra_gray)
    prep.extra_teacher = teacher_mod.centred_targets(found.base, np.arange(len(index)), prep.teacher_mean)
    prep.extra_info = {"cache": str(path), "cache_sha256": _sha256(path), "data": cfg.extra_data,
                       "subset": cfg.extra_subset, "seed": cfg.extra_seed, "faces": int(len(index)),
                       "blazeface_missed": missed, "views_in_cache": found.views, "weight": cfg.extra_weight}


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def heldout_evaluator(prep: Prepared):
    """``evaluate(embedder) -> {"heldout_acc", "heldout_auc"}`` on the held-out pairs (float Keras)."""
    from converters.identity.evaluate import pair_accuracy, subset_embeddings, keras_embeddings

    def evaluate(embedder) -> dict:
        emb, pairs = subset_embeddings(lambda x: keras_embeddings(embedder, x), prep.faces.images, prep.heldout_pairs)
        return {f"heldout_{k}": v for k, v in pair_accuracy(emb, pairs).items()} if len(pairs) else {}

    return evaluate


def _train_stage(cfg: IdentityConfig, prep: Prepared, stage: str, settings: FitSettings, make_model,
                 head_from=None) -> Path:
    """Fit ``make_model()`` (with the class centres of ``head_from`` when given) into ``<out>/<stage>``."""
    from converters.core.keras_io import save_model
    from converters.identity.model import CosFaceLogits
    from converters.identity.train import fit

    out = Path(cfg.out) / stage
    path = out / "model.h5"
    if path.is_file():
        return path
    out.mkdir(parents=True, exist_ok=True)
    (out / "settings.json").write_text(json.dumps(asdict(settings), indent=1))
    embedder = make_model()
    head = None
    if head_from is not None:
        centres = np.load(head_from)
        head = CosFaceLogits(centres.shape[1], settings.scale, settings.margin, name="cosface")
        head.build([(None, centres.shape[0]), (None,)])
        head.set_weights([centres])
    gray, labels, teacher, labelled = prep.training_set()
    head = fit(embedder, gray, labels, prep.num_classes, settings, head=head,
               evaluate=heldout_evaluator(prep), history_path=out / "history.json", ckpt_dir=out / "ckpt",
               teacher=teacher, labelled=labelled, unlabelled_weight=cfg.extra_weight)
    np.save(out / "centres.npy", head.get_weights()[0])
    save_model(embedder, path)
    return path


def stage_train(cfg: IdentityConfig, prep: Prepared) -> Path:
    from converters.identity.model import EmbedderSpec, build_embedder

    spec = EmbedderSpec(cfg.input_size, cfg.alpha, "relu", cfg.last_stride, cfg.embedding_dim, depth=cfg.depth)
    return _train_stage(cfg, prep, "float", cfg.train, lambda: build_embedder(spec))


def stage_prune(cfg: IdentityConfig, prep: Prepared, float_path: Path) -> tuple:
    """Structured pruning with :mod:`converters.core.pruning`, then fine-tuning."""
    from converters.core import pruning
    from converters.core.keras_io import load_model
    from converters.identity.model import custom_objects

    out = Path(cfg.out) / "pruned"
    plan_file = out / "pruning_plan.json"

    def make_thin():
        original = load_model(float_path)
        thin, plan = pruning.prune(original, cfg.prune_fraction, cfg.prune_divisor, custom_objects=custom_objects())
        summary = {**plan.summary(), "params_before": pruning.count_params(original),
                   "params_after": pruning.count_params(thin),
                   "macs_before": pruning.count_macs(original), "macs_after": pruning.count_macs(thin)}
        plan_file.write_text(json.dumps(summary, indent=1))
        log.info("pruned %.1f%% of %d prunable channels: params %d -> %d, MACs %d -> %d",
                 100 * summary["removed_fraction"],
                 summary["prunable_channels"], summary["params_before"], summary["params_after"],
                 summary["macs_before"], summary["macs_after"])
        thin.save(str(out / "pruned_before_finetune.h5"))
        return thin

    path = _train_stage(cfg, prep, "pruned", cfg.finetune, make_thin, head_from=float_path.parent / "centres.npy")
    return path, json.loads(plan_file.read_text())


def stage_qat(cfg: IdentityConfig, prep: Prepared, pruned_path: Path) -> Optional[Path]:
    if cfg.qat.budget_minutes <= 0:
        return None
    from converters.core.quantize import qat_model
    from converters.core.keras_io import load_model

    return _train_stage(cfg, prep, "qat", cfg.qat, lambda: qat_model(load_model(pruned_path)),
                        head_from=pruned_path.parent / "centres.npy")


def stage_convert(cfg: IdentityConfig, prep: Prepared, models: Dict[str, Optional[Path]]) -> Dict[str, Path]:
    """``.tflite`` with metadata: float32 of the float and pruned models, INT8 PTQ of the pruned
    model, INT8 of the QAT model (when trained)."""
    from converters.core import quantize
    from converters.core.keras_io import load_model
    from converters.identity import export

    out = Path(cfg.out) / "tflite"
    out.mkdir(parents=True, exist_ok=True)
    calib = prep.faces.images[prep.train_idx]
    rep = export.representative_dataset(calib, cfg.calibration_count, cfg.seed)
    jobs = {"float_fp32": (models["float"], False), "pruned_fp32": (models["pruned"], False),
            "pruned_int8_ptq": (models["pruned"], True)}
    if models.get("qat"):
        jobs["pruned_int8_qat"] = (models["qat"], True)
    paths = {}
    for name, (keras_path, int8) in jobs.items():
        path = out / f"{name}.tflite"
        if not path.is_file():
            log.info("converting %s -> %s", keras_path, path)
            tflite = quantize.to_tflite(load_model(keras_path), rep if int8 else None, int8=int8, io_dtype=cfg.io_dtype)
            export.write_model(path, tflite, cfg.embedding_dim)
        paths[name] = path
    return paths


def _limit_threads(threads: int) -> None:
    """Cap TensorFlow's thread pools (the machine is shared; fewer threads, fewer failed thread creations)."""
    if threads <= 0:
        return
    from converters.core.tfenv import tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # TensorFlow already initialised in this process
        log.warning("TensorFlow is already initialised; thread limits not applied")


def run_all(cfg: IdentityConfig) -> dict:
    """Run every stage; returns the report dict (also written to ``cfg.report_dir``)."""
    from converters.identity import report

    _limit_threads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
    prep = prepare(cfg)
    log.info("data: %s", prep.summary())
    float_path = stage_train(cfg, prep)
    pruned_path, plan = stage_prune(cfg, prep, float_path)
    qat_path = stage_qat(cfg, prep, pruned_path)
    models = {"float": float_path, "pruned": pruned_path, "qat": qat_path}
    tflites = stage_convert(cfg, prep, models)
    return report.evaluate_and_report(cfg, prep, models, tflites, plan)
