"""The caption evaluation (converters/caption/evaluate.py) counts unasked scenes with the runtime's check."""
from __future__ import annotations

from types import SimpleNamespace

from converters.caption.evaluate import integrity


class _Fixed:
    """A captioner stand-in that answers every request with its language's fixed text."""

    def __init__(self, texts):
        self.texts = texts

    def generate(self, emotion, style=None, scene=None, lang="zh", seed=None):
        return [SimpleNamespace(text=self.texts[lang])]


def test_integrity_counts_situations_as_unasked_scenes():
    situations = integrity(_Fixed({"zh": "深夜的我：还好", "en": "Just sitting on this morning. Can't."}), 12, 0)
    assert situations["no_scene_requests"] == 4 and situations["unasked_scene"] == 4
    assert set(situations["unasked_examples"]) == {"深夜的我：还好", "Just sitting on this morning. Can't."}
    clean = integrity(_Fixed({"zh": "这一刻，什么都刚刚好", "en": "Just sitting on this feeling. Can't."}), 12, 0)
    assert clean["unasked_scene"] == 0 and clean["damaged_doubles"] == 0


def test_shipped_only_keeps_the_full_runs_model_rows_and_says_what_it_measured_again(tmp_path, monkeypatch):
    """``evaluate --shipped-only`` re-measures the shipped-file checks and keeps the build's rows."""
    import json
    import shutil

    from converters.caption import evaluate as ev
    from converters.caption import paths, pipeline

    shutil.copyfile(paths.REPORT_DIR / "report.json", tmp_path / "report.json")
    previous = json.loads((tmp_path / "report.json").read_text())
    monkeypatch.setattr(paths, "REPORT_DIR", tmp_path)
    monkeypatch.setattr(ev, "integrity", lambda cap, n, seed: {
        "captions": n, "zh_captions": n // 2, "damaged_doubles": 0, "no_scene_requests": 7, "unasked_scene": 1})
    monkeypatch.setattr(ev, "style_batches", lambda cap, trials, seed: {"trials": trials, "all_distinct_share": 1.0})
    monkeypatch.setattr(ev, "restyle_check", lambda cap, sources: {
        "sources": len(sources), "all_distinct_share": 1.0, "sentence_kept_share": 1.0,
        "inferred_emotion_accuracy": 0.5, "examples": []})
    monkeypatch.setattr(ev, "latency", lambda model, tok, calls, seed: {
        "max_new_tokens": 48, "calls": calls, "caption_ms_p50": 7.5, "caption_ms_p95": 9.0, "invoke_ms_p50": 0.1})
    pipeline.evaluate(shipped_only=True)

    report = json.loads((tmp_path / "report.json").read_text())
    for key in ("produced_by", "host", "train", "pruning", "perplexity", "generation"):
        assert report[key] == previous[key], key
    assert report["integrity"]["unasked_scene"] == 1 and report["targets"]["unasked_scene_ok"] is False
    assert report["latency"]["caption_ms_p50"] == 7.5 and report["targets"]["latency_ok"] is True
    assert report["remeasured"]["produced_by"] == "python -m converters.caption evaluate --shipped-only"
    # the build's files keep their recorded sizes; the shipped ones are measured now
    assert report["files"]["caption_float.tflite"] == previous["files"]["caption_float.tflite"]
    assert report["files"][paths.LIBRARY_PATH.name] == paths.LIBRARY_PATH.stat().st_size
    readme = (tmp_path / "README.md").read_text()
    assert "Measured again by `python -m converters.caption evaluate --shipped-only`" in readme
    assert "| caption p50 <= 20 ms, 1 thread (<= 48 tokens) | 7.50 ms | True |" in readme
    assert not (tmp_path / "training.png").exists()


def test_shipped_only_applies_to_the_evaluate_stage_only(capsys):
    from converters.caption.__main__ import main

    assert main(["train", "--shipped-only"]) != 0
    assert "evaluate stage only" in capsys.readouterr().err


def test_shipped_only_without_a_full_runs_report_names_it(tmp_path, monkeypatch):
    import pytest

    from converters.caption import paths, pipeline
    from edgekit.errors import ConfigError

    monkeypatch.setattr(paths, "REPORT_DIR", tmp_path)
    with pytest.raises(ConfigError, match="converters.caption all"):
        pipeline.evaluate(shipped_only=True)
    (tmp_path / "report.json").write_text('{"produced_by": "x"}')
    with pytest.raises(ConfigError, match="lacks host"):
        pipeline.evaluate(shipped_only=True)
