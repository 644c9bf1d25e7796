"""Training configuration: one JSON file, validated, written next to every artifact."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Optional

from edgekit.errors import ConfigError

from converters.core.augment import AugmentConfig
from converters.core.config import read_json, reject_unknown


@dataclass
class TrainConfig:
    """Everything that determines a training run (paths are recorded as given)."""

    data: str = ""  # FER+ root, fer2013.csv or class-folder tree
    val: Optional[str] = None  # validation set (FER+ split folder / class-folder tree); default per layout
    votes_csv: Optional[str] = None  # FER+ fer2013new.csv to join with fer2013.csv
    out: str = "runs/emotion/float"
    variant: str = "small"
    alpha: float = 1.0
    activation: str = "hswish"  # "hswish" (paper) or "relu" (all-ReLU: one XNNPACK partition in INT8)
    depth: int = 0  # > 0: only the first `depth` inverted-residual blocks (tiny test models)
    input_size: int = 64
    aligned: bool = False  # train and validate on the runtime's own aligned crops (converters/emotion/aligned.py)
    dropout: float = 0.2
    label_mode: str = "soft"  # "soft" (vote distribution) or "majority"
    class_weight_power: float = 0.3  # 0 = no class weighting
    label_smoothing: float = 0.0
    epochs: int = 60
    batch_size: int = 128
    lr: float = 3e-3
    weight_decay: float = 0.02  # AdamW decoupled decay
    warmup_epochs: float = 2.0
    budget_minutes: float = 0.0  # > 0: cosine schedule runs on wall-clock progress and ends at the budget
    seed: int = 0
    strategy: str = "default"  # default | mirrored | multiworker | tpu
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    init_from: Optional[str] = None  # start from this saved Keras model (fine-tuning)
    qat: bool = False  # quantization-aware training (wrap the model with tfmot before fitting)
    distill_from: Optional[str] = None  # teacher Keras model: targets mix in its predictions on each augmented batch
    distill_weight: float = 0.5  # share of the teacher's probabilities in the training target
    teacher_labels: Optional[str] = None  # teacher_labels.npz (converters.emotion.teacher): mixed into the targets
    teacher_weight: float = 0.5  # share of teacher_labels' probabilities in the training target

    def __post_init__(self) -> None:
        checks = {
            "variant": self.variant in ("small", "large"),
            "label_mode": self.label_mode in ("soft", "majority"),
            "strategy": self.strategy in ("default", "mirrored", "multiworker", "tpu"),
            "alpha": self.alpha > 0,
            "activation": self.activation in ("hswish", "relu"),
            "input_size": self.input_size >= 32,
            "epochs": self.epochs >= 1,
            "batch_size": self.batch_size >= 1,
            "lr": self.lr > 0,
            "budget_minutes": self.budget_minutes >= 0,
            "distill_weight": 0.0 <= self.distill_weight <= 1.0,
            "teacher_weight": 0.0 <= self.teacher_weight <= 1.0,
        }
        for name, ok in checks.items():
            if not ok:
                raise ConfigError(f"invalid value {getattr(self, name)!r}", f"config field {name!r}",
                                  "see converters/emotion/config.py TrainConfig for allowed values")

    def to_dict(self) -> dict:
        return asdict(self)

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def from_dict(cls, data: dict, source: str = "config") -> "TrainConfig":
        data = dict(data)
        reject_unknown(data, {f.name for f in fields(cls)}, source)
        aug = data.pop("augment", None) or {}
        if isinstance(aug, dict):
            aug = dict(aug)  # the caller's dict stays as it was
            reject_unknown(aug, {f.name for f in fields(AugmentConfig)}, f"{source} [augment]")
            if "erase_area" in aug:
                aug["erase_area"] = tuple(aug["erase_area"])
            aug = AugmentConfig(**aug)
        return cls(**data, augment=aug)

    @classmethod
    def load(cls, path: Path) -> "TrainConfig":
        data = read_json(path, "pass a JSON file written by `python -m converters.emotion train`")
        return cls.from_dict(data, str(path))


@dataclass
class PipelineConfig:
    """Stage settings; ``train`` is the float model's TrainConfig (its ``out`` is overridden)."""

    out: str = "runs/emotion"
    train: TrainConfig = field(default_factory=TrainConfig)
    prune_fraction: float = 0.3
    prune_divisor: int = 4
    finetune_minutes: float = 12.0
    finetune_epochs: int = 12
    finetune_lr: float = 1e-3
    finetune_distill: float = 0.0  # > 0: the fine-tune distils from the float model (its share of the target)
    continue_from: str = ""  # an earlier run's folder: reuse its float model, fine-tune its pruned model further
    teacher_labels: str = ""  # teacher_labels.npz: the fine-tune and QAT targets mix in its probabilities
    teacher_weight: float = 0.5  # the teacher's share of those targets
    qat_minutes: float = 8.0
    qat_epochs: int = 4
    qat_lr: float = 2e-4
    calibration_count: int = 500
    fold_gate_max_firing: float = 0.0  # fold squeeze-excite gates that fire on at most this share of training faces
    io_dtype: str = "uint8"
    ship: bool = True
    ship_name: str = "emotion"
    ship_file: str = "emotion_mnv3s_int8.tflite"
    models_dir: str = "edgekit/models"  # holds manifest.json; the shipped file is copied here
    report_dir: str = "reports/emotion"
    produced_by: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict, source: str = "config") -> "PipelineConfig":
        """The config a pipeline JSON describes (its ``train`` object holds TrainConfig fields).

        Unknown keys, at the top, in ``train`` or in ``train.augment``, are refused with the
        closest known key (ConfigError naming ``source``).
        """
        data = dict(data)
        reject_unknown(data, {f.name for f in fields(cls)}, source)
        train = data.pop("train", None)
        if train is None or isinstance(train, dict):
            train = TrainConfig.from_dict(train or {}, f"{source} [train]")
        elif not isinstance(train, TrainConfig):
            raise ConfigError(f"must be an object of TrainConfig fields, got {type(train).__name__}",
                              f"{source} [train]", "see converters/emotion/config.py TrainConfig")
        return cls(**data, train=train)


def stage_dir(cfg: PipelineConfig, stage: str) -> Path:
    """Where ``stage``'s model, config and history live: ``<out>/<stage>``, except the float stage
    of a run with ``cfg.continue_from``: the earlier run's, followed back through runs that
    continued others (their ``pipeline_config.json``) to the one that trained it."""
    if stage != "float" or not cfg.continue_from:
        return Path(cfg.out) / stage
    run, seen = Path(cfg.continue_from), set()
    while not (run / "float").is_dir() and run.resolve() not in seen:
        seen.add(run.resolve())
        record = run / "pipeline_config.json"
        earlier = json.loads(record.read_text()).get("continue_from") if record.is_file() else None
        if not earlier:
            break
        run = Path(earlier)
    return run / "float"


def folded_gates_record(cfg: PipelineConfig, stage: str) -> Path:
    """JSON list of the squeeze-excite gates folded out of ``stage``'s model before conversion."""
    return Path(cfg.out) / "tflite" / f"{stage}_folded_gates.json"
