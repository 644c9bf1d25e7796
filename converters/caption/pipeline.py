"""The build stages of the caption model (``python -m converters.caption <stage>``); each reads the previous
stage's files from ``build/caption``. Settings: :data:`converters.caption.config.CONFIG`."""
from __future__ import annotations

import dataclasses
import json
import logging
import time
from typing import List, Tuple

import numpy as np

from edgekit.captioning.library import Entry, read_blocklist, read_library, write_library
from edgekit.captioning.tokenizer import CaptionTokenizer
from edgekit.errors import ConfigError

from . import paths
from .config import CONFIG

log = logging.getLogger(__name__)
SEED = CONFIG.seed


def _write_json(name: str, data: dict) -> None:
    paths.WORK.mkdir(parents=True, exist_ok=True)
    (paths.WORK / name).write_text(json.dumps(data, indent=1, ensure_ascii=False))


def load_split() -> Tuple[CaptionTokenizer, List[Entry], List[Entry]]:
    entries = read_library(paths.LIBRARY_PATH)
    tok = CaptionTokenizer.load(paths.TOKENIZER)
    return tok, [e for e in entries if e.split == "train"], [e for e in entries if e.split == "heldout"]


def corpus(tokenizer: bool = True) -> None:
    """Validate the authored corpus, write it as the library (10% held out), and train the
    tokenizer on its training split (``tokenizer=False``: keep the shipped tokenizer, for a corpus
    edit that ships without a retrain; the shipped model and tokenizer must stay a pair)."""
    from . import authored
    from .tokenizer_train import train_tokenizer

    captions = authored.load()
    problems = authored.validate(captions, read_blocklist(paths.BLOCKLIST_PATH))
    problems += authored.coverage(captions).problems()
    if problems:
        raise SystemExit("authored caption corpus invalid (python -m converters.caption.authored):\n"
                         + "\n".join(problems[:50]))
    entries = authored.to_library(captions, seed=SEED)
    write_library(paths.LIBRARY_PATH, entries)
    if not tokenizer:
        log.info(f"library: {len(entries)} captions -> {paths.LIBRARY_PATH}; tokenizer kept: {paths.TOKENIZER}")
        return
    tok = train_tokenizer([e.text for e in entries if e.split == "train"])
    tok.save(paths.TOKENIZER)
    log.info(f"library: {len(entries)} captions -> {paths.LIBRARY_PATH}; tokenizer: {tok.vocab_size} pieces")


def train(threads: int = 1) -> None:
    """Train the dense float model from scratch; checkpoint to build/caption/float.*"""
    from .data import conditions, encode_entries
    from .model import GPT, GPTConfig, init_weights, n_params, save_checkpoint
    from .train import BestWeights, limit_threads, perplexity, train as fit

    limit_threads(threads)
    tok, tr, held = load_split()
    cfg = GPTConfig(vocab_size=tok.vocab_size, **CONFIG.model.to_dict())
    model = GPT(cfg, init_weights(cfg, SEED))
    rows, held_rows = encode_entries(tok, tr, cfg.n_ctx), (encode_entries(tok, held, cfg.n_ctx), conditions(held))
    log.info(f"training {n_params(model.numpy_weights())} params on {len(rows)} captions, {threads} thread(s)")
    t0 = time.time()
    best = BestWeights(model)
    history = fit(model, rows, conditions(tr), seed=SEED, log=log.info, eval_rows=held_rows, best=best,
                  **CONFIG.train.to_dict())
    save_checkpoint(paths.FLOAT_CKPT, cfg, model.numpy_weights())
    _write_json("train.json", {"config": cfg.to_dict(), "train": CONFIG.train.to_dict(),
                               "params": n_params(model.numpy_weights()),
                               "history": history, "wall_s": time.time() - t0, "restored": best.record(),
                               "heldout_ppl": perplexity(model, *held_rows)})
    log.info("float checkpoint saved")


TFLITE = {"float": "caption_float.tflite", "pruned_float": "caption_pruned_float.tflite",
          "pruned_int8": "caption_pruned_int8.tflite"}


def prune(threads: int = 1) -> None:
    """Remove 30% of heads and MLP units, fine-tune, checkpoint to build/caption/pruned.*"""
    from . import prune as pr
    from .data import conditions, encode_entries
    from .model import GPT, load_checkpoint, n_params, save_checkpoint
    from .train import BestWeights, limit_threads, perplexity, train as fit

    limit_threads(threads)
    tok, tr, held = load_split()
    cfg, weights = load_checkpoint(paths.FLOAT_CKPT)
    rows, cond = encode_entries(tok, tr, cfg.n_ctx), conditions(tr)
    held_rows = (encode_entries(tok, held, cfg.n_ctx), conditions(held))
    pick = np.random.default_rng(SEED).permutation(len(rows))[:512]
    dense = GPT(cfg, weights)
    importance = pr.head_importance(dense, rows[pick], cond[pick])
    keep_heads, keep_units = pr.plan(cfg, weights, importance, CONFIG.prune_fraction)
    new_cfg, new_w = pr.apply(cfg, weights, keep_heads, keep_units)
    model = GPT(new_cfg, new_w)
    ppl_before_ft = perplexity(model, *held_rows)
    log.info(f"pruned to heads={new_cfg.heads} mlp={new_cfg.mlp}; held-out ppl before fine-tune {ppl_before_ft:.3f}")
    best = BestWeights(model)
    best.offer(0, ppl_before_ft)  # fine-tuning must beat the pruned model as it is
    history = fit(model, rows, cond, seed=SEED + 1, log=log.info, eval_rows=held_rows, best=best,
                  **CONFIG.finetune.to_dict())
    save_checkpoint(paths.PRUNED_CKPT, new_cfg, model.numpy_weights())
    block = lambda w: sum(v.size for k, v in w.items() if k.startswith("h"))  # noqa: E731
    _write_json("prune.json", {
        "fraction": CONFIG.prune_fraction, "finetune": CONFIG.finetune.to_dict(), "history": history,
        "restored": best.record(),
        "head_importance": [d.tolist() for d in importance], "kept_heads": [h.tolist() for h in keep_heads],
        "config_before": cfg.to_dict(), "config_after": new_cfg.to_dict(),
        "heads_before": sum(cfg.heads), "heads_after": sum(new_cfg.heads),
        "mlp_units_before": sum(cfg.mlp), "mlp_units_after": sum(new_cfg.mlp),
        "params_before": n_params(weights), "params_after": n_params(new_w),
        "block_params_before": block(weights), "block_params_after": block(new_w),
        "heldout_ppl_dense": perplexity(dense, *held_rows), "heldout_ppl_pruned_before_finetune": ppl_before_ft,
        "heldout_ppl_pruned_after_finetune": perplexity(model, *held_rows)})
    log.info("pruned checkpoint saved")


def export() -> None:
    """Export float, pruned float and pruned INT8 .tflite; ship the INT8 one and register it."""
    import shutil

    from .export import export_tflite
    from .model import load_checkpoint

    for key, ckpt in (("float", paths.FLOAT_CKPT), ("pruned_float", paths.PRUNED_CKPT),
                      ("pruned_int8", paths.PRUNED_CKPT)):
        cfg, weights = load_checkpoint(ckpt)
        out = export_tflite(cfg, weights, paths.WORK / TFLITE[key], int8=key.endswith("int8"))
        log.info(f"exported {out} ({out.stat().st_size} bytes)")
    shutil.copyfile(paths.WORK / TFLITE["pruned_int8"], paths.SHIPPED_MODEL)
    register()


def register() -> None:
    """Write the ``caption`` manifest entry (model + tokenizer sha256)."""
    from edgekit import registry

    registry.register_model(
        "caption", paths.SHIPPED_MODEL, task="caption", input=None, labels=[],
        tokenizer={"file": paths.TOKENIZER.name, "sha256": registry.sha256_file(paths.TOKENIZER),
                   "bytes": paths.TOKENIZER.stat().st_size},
        produced_by="python -m converters.caption all", report="reports/caption/README.md",
        description="Tiny GPT-2 meme caption generator (pruned 30%, dynamic-range INT8), decode signature "
                    "with a fixed-size KV cache; tokenizer caption_tokenizer.json")


#: What ``evaluate(shipped_only=True)`` measures again; the rest of the report is the full run's.
SHIPPED_ONLY_SECTIONS = ("targets", "integrity", "style batches", "restyle", "latency",
                         "sizes and sha256 of the shipped model, tokenizer and library", "caption library")


def evaluate(threads: int = 1, shipped_only: bool = False) -> None:
    """Measure perplexity, generation quality, latency and sizes; write reports/caption/.

    ``shipped_only``: measure again only what depends on the shipped files and the library
    (:data:`SHIPPED_ONLY_SECTIONS`), keeping the model rows (perplexity, generation of the
    float/pruned/INT8 builds, training and pruning) of the full run in ``reports/caption/report.json``:
    for a library or decoding change without a retrain, when the build folder is gone."""
    from edgekit import registry
    from edgekit.captioning import Captioner

    from . import evaluate as ev
    from . import report as rp
    from .authored import cell_counts, load as load_authored, read_tsv, validate

    tok, tr, held = load_split()
    entries = tr + held
    if shipped_only:
        previous = _full_run_report(paths.REPORT_DIR / "report.json")
        model_part = {k: previous[k] for k in ("produced_by", "host", "train", "pruning", "perplexity", "generation",
                                               "per_cell", "scorer")}
        model_part["corpus_at_training"] = previous.get("corpus_at_training") or {
            k: previous["corpus"][k] for k in ("total", "train", "heldout")}
        files = {}
        kept_sizes, kept_sha = previous["files"], previous["sha256"]  # the build's files; shipped ones replaced below
    else:
        model_part = _model_rows(tok, tr, held, ev, rp)
        files = {name: paths.WORK / name for name in TFLITE.values()}
        kept_sizes, kept_sha = {}, {}
    shipped = Captioner(paths.SHIPPED_MODEL, paths.TOKENIZER, seed=SEED, num_threads=1, source="model")
    checks = ev.integrity(shipped, 2000, SEED)
    log.info(f"integrity: {checks['damaged_doubles']} damaged doubled words, {checks['unasked_scene']} unasked scenes")
    styles = ev.style_batches(shipped, 60, SEED)
    restyle = ev.restyle_check(shipped, read_tsv(paths.CORPUS / "restyle_sources.tsv"))
    lat = ev.latency(paths.SHIPPED_MODEL, paths.TOKENIZER, 200, SEED)
    files.update({paths.SHIPPED_MODEL.name: paths.SHIPPED_MODEL, paths.TOKENIZER.name: paths.TOKENIZER,
                  paths.LIBRARY_PATH.name: paths.LIBRARY_PATH})
    report = {
        **model_part,
        "sampling": dataclasses.asdict(shipped.sampling), "integrity": checks, "style_batches": styles,
        "restyle": restyle,
        "latency": lat,
        "files": {**kept_sizes, **{name: p.stat().st_size for name, p in files.items()}},
        "sha256": {**kept_sha, **{name: registry.sha256_file(p) for name, p in files.items()}},
        "tokenizer": {"atoms": len(tok.atoms), "words": len(tok.words), "chars": len(tok.chars),
                      "controls": tok.n_controls},
        "corpus": {"total": len(entries), "train": len(tr), "heldout": len(held),
                   "problems": len(validate(load_authored(), shipped.blocklist)),
                   "scenes": sorted({e.scene for e in entries}),
                   "cells": {f"{e}/{s}/{l}": n for (e, s, l), n in cell_counts(entries).items()}},
    }
    if shipped_only:
        report["remeasured"] = {"produced_by": "python -m converters.caption evaluate --shipped-only",
                                "host": rp.host_info(paths.ROOT), "date": time.strftime("%Y-%m-%d %H:%M UTC",
                                                                                         time.gmtime()),
                                "sections": list(SHIPPED_ONLY_SECTIONS)}
    report["targets"] = {
        "int8_size_ok": report["files"][paths.SHIPPED_MODEL.name] <= 6e6,
        "latency_ok": lat["caption_ms_p50"] <= 20.0,
        "damaged_doubles_ok": checks["damaged_doubles"] == 0,
        "unasked_scene_ok": checks["unasked_scene"] == 0,
        "style_batch_ok": styles["all_distinct_share"] == 1.0,
    }
    if not shipped_only:
        rp.plot_training(report["train"], report["pruning"], paths.REPORT_DIR / "training.png")
    rp.write(report, paths.REPORT_DIR)
    log.info(f"report written: {paths.REPORT_DIR / 'README.md'}; targets {report['targets']}")


def _full_run_report(path) -> dict:
    """The report of a full ``converters.caption all`` run, whose model rows ``--shipped-only`` keeps."""
    needed = ("produced_by", "host", "train", "pruning", "perplexity", "generation", "per_cell", "scorer", "files",
              "sha256", "corpus")
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the full run's report ({exc.__class__.__name__})", str(path),
                          "run `python -m converters.caption all` first") from None
    missing = [k for k in needed if k not in report]
    if missing:
        raise ConfigError(f"the report lacks {', '.join(missing)} (not written by a full run)", str(path),
                          "run `python -m converters.caption all` first")
    return report


def _model_rows(tok: CaptionTokenizer, tr: List[Entry], held: List[Entry], ev, rp) -> dict:
    """Perplexity and generation quality of every build in ``paths.WORK``, with the scorer, training
    and pruning records: the part of the report that needs the full run's build folder."""
    from edgekit.captioning import Captioner

    scorer_info = ev.train_scorer(held, tr, seed=SEED + 1000)
    scorer = scorer_info.pop("scorer")
    ppl, gen = {}, {}
    per_cell = 3
    train_texts = frozenset(e.text for e in tr)
    for key, name in TFLITE.items():
        path = paths.WORK / name
        ppl[key] = ev.heldout_perplexity(path, tok, held)
        cap = Captioner(path, paths.TOKENIZER, seed=SEED, num_threads=1, source="model")
        gen[key] = ev.generation_metrics(cap, scorer, train_texts, per_cell, seed=SEED)
        log.info(f"{key}: ppl {ppl[key]:.3f}, consistency {gen[key]['emotion_consistency_model_outputs']:.3f}, "
            f"copies {gen[key]['copies_of_training_lines']:.3f}, fallback {gen[key]['fallback_rate']:.3f}")
    return {"produced_by": "python -m converters.caption all", "host": rp.host_info(paths.ROOT),
            "train": json.loads((paths.WORK / "train.json").read_text()),
            "pruning": json.loads((paths.WORK / "prune.json").read_text()),
            "perplexity": ppl, "generation": gen, "per_cell": per_cell,
            "corpus_at_training": {"total": len(tr) + len(held), "train": len(tr), "heldout": len(held)},
            "scorer": {**scorer_info, "description": "character 1-4-gram multinomial naive Bayes trained on "
                       "captions the generator never saw: " + scorer_info["trained_on"]}}
