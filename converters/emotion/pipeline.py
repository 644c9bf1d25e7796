"""The full toolchain in stages: train -> prune + fine-tune -> QAT -> convert -> evaluate -> ship.

Every stage writes into ``<out>/<stage>/`` with its config, and is skipped when its result
exists, so an interrupted run resumes where it stopped (training stages resume mid-way from
their checkpoints). A run with ``continue_from`` has no float stage of its own: it reads the
earlier run's (:func:`~converters.emotion.config.stage_dir`). ``python -m converters.emotion all``
runs :func:`run_all`.
"""
from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import Dict, Tuple

from converters.emotion import data as data_mod
from converters.emotion.config import PipelineConfig, TrainConfig, folded_gates_record, stage_dir
from edgekit.errors import ConfigError

log = logging.getLogger(__name__)


def _stage_train_config(cfg: PipelineConfig, stage: str, **changes) -> TrainConfig:
    if stage != "float" and cfg.teacher_labels:
        changes.update(teacher_labels=cfg.teacher_labels, teacher_weight=cfg.teacher_weight)
    return replace(cfg.train, out=str(Path(cfg.out) / stage), **changes)


def load_data(cfg: PipelineConfig) -> Tuple[data_mod.FaceSet, data_mod.FaceSet]:
    from converters.emotion.train import load_training_data

    return load_training_data(cfg.train)


def _earlier_run_file(path: Path) -> Path:
    """``path`` (a file of the run named by ``continue_from``); ConfigError when it does not exist."""
    if not path.is_file():
        raise ConfigError(f"{path} not found", "continue_from",
                          "name the folder of a finished `python -m converters.emotion all` run (e.g. runs/emotion128)")
    return path


#: Settings a continued run must share with the run it continues (the models' shape and inputs).
CONTINUE_SHARED = ("train.variant", "train.alpha", "train.activation", "train.depth", "train.input_size",
                   "train.aligned", "prune_fraction", "prune_divisor")


def check_continuable(cfg: PipelineConfig) -> None:
    """ConfigError unless ``cfg.continue_from`` is another run whose :data:`CONTINUE_SHARED`
    settings (its ``pipeline_config.json``) equal this config's."""
    earlier, out = Path(cfg.continue_from), Path(cfg.out)
    if earlier.resolve() == out.resolve():
        raise ConfigError(f"continue_from and out are the same folder ({out})", "continue_from",
                          "write the continued run to a new --out folder")
    record = _earlier_run_file(earlier / "pipeline_config.json")
    before, now = json.loads(record.read_text()), cfg.to_dict()

    def value(d: dict, key: str):
        for part in key.split("."):
            d = d.get(part, {}) if isinstance(d, dict) else {}
        return d

    differ = [f"{k} {value(before, k)!r} there, {value(now, k)!r} here" for k in CONTINUE_SHARED
              if value(before, k) != value(now, k)]
    if differ:
        raise ConfigError(f"{earlier} was made with other settings: " + "; ".join(differ), "continue_from",
                          "continue with the config the earlier run used (its pipeline_config.json)")


def stage_train(cfg: PipelineConfig, data) -> Path:
    """The float model: trained here, or the earlier run's with ``cfg.continue_from``."""
    from converters.emotion.train import train

    if cfg.continue_from:
        check_continuable(cfg)
        return _earlier_run_file(stage_dir(cfg, "float") / "model.h5")
    tcfg = _stage_train_config(cfg, "float")
    path = Path(tcfg.out) / "model.h5"
    if not path.is_file():
        train(tcfg, data=data)
    return path


def stage_prune(cfg: PipelineConfig, data, float_path: Path) -> Tuple[Path, dict]:
    """Structured pruning of ``cfg.prune_fraction`` of the channels, then fine-tuning. With
    ``cfg.continue_from`` the earlier run's pruned (already fine-tuned) model is fine-tuned again,
    on a fresh cosine schedule, and its pruning plan is kept."""
    from converters.core import pruning
    from converters.core.keras_io import load_model
    from converters.core.mobilenet import custom_objects
    from converters.emotion.train import train

    distill = ({"distill_from": str(float_path), "distill_weight": cfg.finetune_distill}
               if cfg.finetune_distill > 0 else {})
    tcfg = _stage_train_config(cfg, "pruned", lr=cfg.finetune_lr, epochs=cfg.finetune_epochs,
                               budget_minutes=cfg.finetune_minutes, warmup_epochs=0.2, **distill)
    out = Path(tcfg.out)
    path, plan_file = out / "model.h5", out / "pruning_plan.json"
    if path.is_file() and plan_file.is_file():
        return path, json.loads(plan_file.read_text())
    out.mkdir(parents=True, exist_ok=True)
    summary: dict = {}

    def make_thin():
        if cfg.continue_from:
            earlier_plan = _earlier_run_file(Path(cfg.continue_from) / "pruned" / "pruning_plan.json")
            plan_file.write_text(earlier_plan.read_text())
            return load_model(_earlier_run_file(Path(cfg.continue_from) / "pruned" / "model.h5"))
        original = load_model(float_path)
        thin, plan = pruning.prune(original, cfg.prune_fraction, cfg.prune_divisor, custom_objects=custom_objects())
        summary.update(plan.summary(), params_before=pruning.count_params(original),
                       params_after=pruning.count_params(thin),
                       macs_before=pruning.count_macs(original), macs_after=pruning.count_macs(thin))
        plan_file.write_text(json.dumps(summary, indent=1))
        log.info("pruned %.1f%% of %d prunable channels: params %d -> %d, MACs %d -> %d",
                 100 * summary["removed_fraction"], summary["prunable_channels"], summary["params_before"],
                 summary["params_after"], summary["macs_before"], summary["macs_after"])
        thin.save(str(out / "pruned_before_finetune.h5"))
        return thin

    # On a resumed fine-tune the thin graph is rebuilt the same way and the checkpoint restores its weights.
    train(tcfg, data=data, model_fn=make_thin)
    return path, json.loads(plan_file.read_text())


def stage_qat(cfg: PipelineConfig, data, pruned_path: Path) -> Path:
    from converters.emotion.train import train

    tcfg = _stage_train_config(cfg, "qat", lr=cfg.qat_lr, epochs=cfg.qat_epochs, budget_minutes=cfg.qat_minutes,
                               warmup_epochs=0.0, init_from=str(pruned_path), qat=True, weight_decay=0.0)
    path = Path(tcfg.out) / "model.h5"
    if not path.is_file():
        train(tcfg, data=data)
    return path


def fold_constant_gates(cfg: PipelineConfig, data, model, stage: str):
    """``model`` with the squeeze-excite gates that are constant on (almost) every training face
    folded away (see :mod:`converters.emotion.dead_gates`); what was folded is recorded in
    :func:`folded_gates_record`, and read back from there on a resumed run."""
    from converters.core.mobilenet import custom_objects
    from converters.emotion import dead_gates

    record = folded_gates_record(cfg, stage)
    if record.is_file():
        dead = [dead_gates.DeadGate(**d) for d in json.loads(record.read_text())]
    else:
        dead = dead_gates.find_dead_gates(model, data[0].images, cfg.train.input_size, cfg.fold_gate_max_firing)
        record.write_text(json.dumps([d.to_dict() for d in dead], indent=1) + "\n")
    if dead:
        log.info("folding constant squeeze-excite gates: %s", ", ".join(d.block for d in dead))
    return dead_gates.fold_dead_gates(model, dead, custom_objects())


def stage_convert(cfg: PipelineConfig, data, models: Dict[str, Path]) -> Dict[str, Path]:
    """``.tflite`` (with metadata) for every variant: float32 for float models, INT8 PTQ for
    float models, INT8 from the QAT model. Float models are converted with their constant
    squeeze-excite gates folded; the QAT model learned its own ranges for them and is kept whole."""
    from converters.core import quantize
    from converters.core.keras_io import load_model
    from converters.emotion import export

    train_set = data[0]
    out = Path(cfg.out) / "tflite"
    out.mkdir(parents=True, exist_ok=True)
    rep = quantize.representative_dataset(train_set.images, cfg.train.input_size, cfg.calibration_count, cfg.train.seed)
    jobs = {
        "float_fp32": ("float", False),
        "float_int8_ptq": ("float", True),
        "pruned_fp32": ("pruned", False),
        "pruned_int8_ptq": ("pruned", True),
        "pruned_int8_qat": ("qat", True),
    }
    paths, loaded = {}, {}
    for name, (stage, int8) in jobs.items():
        path = out / f"{name}.tflite"
        if not path.is_file():
            log.info("converting %s -> %s", models[stage], path)
            if stage not in loaded:  # fp32 and PTQ share one loaded (and folded) model
                model = load_model(models[stage])
                loaded[stage] = model if stage == "qat" else fold_constant_gates(cfg, data, model, stage)
            export.write_model(path, quantize.to_tflite(loaded[stage], rep if int8 else None, int8=int8,
                                                        io_dtype=cfg.io_dtype))
        paths[name] = path
    return paths


def run_all(cfg: PipelineConfig) -> dict:
    """Run every stage; returns the report dict (also written to ``cfg.report_dir``)."""
    from converters.emotion import report

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "pipeline_config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
    data = load_data(cfg)
    float_path = stage_train(cfg, data)
    pruned_path, plan = stage_prune(cfg, data, float_path)
    qat_path = stage_qat(cfg, data, pruned_path)
    models = {"float": float_path, "pruned": pruned_path, "qat": qat_path}
    tflites = stage_convert(cfg, data, models)
    return report.evaluate_and_report(cfg, data, models, tflites, plan)
