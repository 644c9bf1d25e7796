"""Host harness and the shared report schema: ``python -m benchmarks.host --quick`` end to end
(shipped models + a toolchain folder with one real, one broken and several missing variants),
an interrupted run, and the schema/ratio/Markdown helpers every harness uses."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from benchmarks import host, invoke, models
from benchmarks.collect import Collector
from benchmarks.machine import ContentionMonitor
from benchmarks.ratios import keep_computable, model_ratios
from benchmarks.report import (FRAME_BUDGET_MS, Measurement, Ratio, Target, build_report, to_markdown, validate_report,
                               write_report)
from edgekit.errors import ConfigError
from edgekit.registry import model_path

QUICK = ["--quick", "--no-progress", "--xnnpack", "on"]


@pytest.fixture
def variants_dir(tmp_path) -> Path:
    """A toolchain folder: pruned_int8_qat = the shipped model, float_fp32 = a broken file, the rest missing."""
    folder = tmp_path / "tflite"
    folder.mkdir()
    shutil.copyfile(model_path("emotion"), folder / "pruned_int8_qat.tflite")
    (folder / "float_fp32.tflite").write_bytes(b"\0\0\0\0TFL3" + b"\0" * 64)  # right identifier, truncated model
    return folder


def test_quick_host_run_end_to_end(tmp_path, variants_dir, capsys):
    out = tmp_path / "results"
    (tmp_path / "no_captions").mkdir()  # a caption folder without the toolchain's files: its variants are skipped
    code = host.main([*QUICK, "--families", "emotion", "caption", "--models-dir", str(variants_dir),
                      "--caption-dir", str(tmp_path / "no_captions"), "--out-dir", str(out)])
    assert code == 1  # the broken float_fp32 is an error
    report = json.loads((out / "host_quick.json").read_text())
    assert validate_report(report) == [] and report["harness"] == "host" and report["status"] == "partial"
    assert (out / "host_quick.md").is_file() and (out / "host_quick.png").stat().st_size > 10_000
    assert report["artifacts"]["chart"] == "host_quick.png"
    dev = report["device"]
    assert dev["cpu_model"] and dev["cpu_count"] >= 1 and report["git"]["sha"] and report["versions"]["ai-edge-litert"]
    assert set(dev["contention"]) >= {"load_avg_start_1_5_15", "other_processes_cpu_share", "busy"}
    skipped = {s["what"] for s in report["skipped"]}
    assert {"emotion/float_int8_ptq", "emotion/pruned_fp32", "emotion/pruned_int8_ptq", "caption/float_fp32"} <= skipped
    assert any("emotion/float_fp32" in e["what"] and "LiteRT cannot load this model" in e["error"]
               for e in report["errors"])
    assert any("emotion/shipped is the same file (sha256) as emotion/pruned_int8_qat" in n for n in report["notes"])
    names = {(m["name"], m["params"].get("emotion") or m["params"].get("model")) for m in report["measurements"]}
    for key in ("emotion/shipped", "emotion/pruned_int8_qat"):
        assert {("pipeline.process", key), ("pipeline.throughput", key), ("model.latency", key), ("model.peak_rss",
                                                                                                  key),
                ("model.cold_start", key), ("pipeline.peak_rss", key), ("cold_start.in_process", key)} <= names
    assert ("caption.generate", "caption/shipped") in names
    sources = {(m["name"], m["params"].get("source")) for m in report["measurements"]}
    assert {("caption.generate", "model"), ("caption.generate", "library")} <= sources  # both caption sources timed
    budget = [t for t in report["targets"] if t["measurement"] == "pipeline.process"]
    assert len(budget) == 4  # 2 emotion models x 1 thread x 2 running modes
    assert all(t["limit"] == FRAME_BUDGET_MS and t["passed"] == (t["value"] <= FRAME_BUDGET_MS) for t in budget)
    assert {t["params"]["mode"] for t in budget} == {"image", "video"}
    modes = {(m["name"], m["params"].get("mode")) for m in report["measurements"]
             if m["params"].get("emotion") == "emotion/shipped" and m["name"].startswith("pipeline.")
             and m["name"] != "pipeline.peak_rss"}
    assert {("pipeline.detect_align_classify", "image"), ("pipeline.detect_align_classify", "video"),
            ("pipeline.throughput", "image"), ("pipeline.track", "video")} <= modes
    assert ("pipeline.track", "image") not in modes
    assert report["config"]["pipeline_modes"] == {m: host.mode_refinements(m) for m in host.MODES}
    per_mode = {t["params"]["mode"]: t for t in report["targets"]
                if t["measurement"] == "pipeline.detect_align_classify"}
    assert set(per_mode) == {"image", "video"} and all(t["value"] is not None for t in per_mode.values())
    assert per_mode["image"]["description"].endswith(host.mode_label("image"))
    assert per_mode["video"]["description"].endswith("streams (video mode)")
    mode_ratio = next(r for r in report["ratios"] if r["description"].startswith("image / video mode"))
    assert mode_ratio["value"] == round(per_mode["image"]["value"] / per_mode["video"]["value"], 3)
    forbidden = next(t for t in report["targets"] if t["measurement"] == "cold_start.forbidden_modules_imported")
    assert forbidden["passed"] is True
    ratio = next(r for r in report["ratios"] if r["description"] == "emotion: INT8 QAT / FP32, pruned")
    assert ratio["value"] is None and ratio["missing"]  # shown as n/a, not invented
    qat = next(r for r in report["ratios"] if r["description"] == "emotion: pruned INT8 QAT / unpruned FP32"
               and r["quantity"] == "model.latency p50")
    assert qat["numerator_value"] is not None and qat["value"] is None
    text = (out / "host_quick.md").read_text()
    assert "## Frame budget (15 ms per frame" in text and "## Skipped" in text and "## Errors" in text
    assert "Running modes (`mode`)" in text and "reports/emotion_robustness/README.md" in text
    assert "| emotion=emotion/shipped, threads=1, mode=video |" in text
    assert "status: partial" in capsys.readouterr().out


def test_interrupted_host_run_keeps_partial_results(tmp_path, monkeypatch):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(invoke, "bench_config", interrupt)
    out = tmp_path / "results"
    assert host.main([*QUICK, "--families", "detector", "emotion", "--no-variants", "--out-dir", str(out)]) == 130
    report = json.loads((out / "host_quick.json").read_text())
    assert validate_report(report) == [] and report["status"] == "interrupted"
    assert any(m["name"] == "pipeline.process" for m in report["measurements"])  # measured before Ctrl-C
    assert "interrupted" in report["errors"][-1]["error"]
    assert report["errors"][-1]["what"] == "detector/short_range_fp32 invoke, 1 thread(s), XNNPACK on"
    assert "> **INTERRUPTED RUN**" in (out / "host_quick.md").read_text()


def test_bad_arguments():
    with pytest.raises(SystemExit, match="--model: expected KEY=PATH"):
        host.main([*QUICK, "--model", "nokey"])
    with pytest.raises(SystemExit):
        host.main([*QUICK, "--running-modes", "live_stream"])
    with pytest.raises(ConfigError, match="mode='photo'.*use one of image, video"):
        host.steady_state(None, host.make_frame(), 1, 1, 0, mode="photo")
    with pytest.raises(SystemExit, match="must be >= 1"):
        host.main([*QUICK, "--threads", "0"])
    with pytest.raises(ValueError, match="family"):
        models.parse_model_arg("vision/x=/tmp/a.tflite")
    assert models.parse_model_arg("relu=/tmp/a.tflite")[0] == "emotion/relu"


def test_discovery_reports_missing_and_unloadable(tmp_path, variants_dir):
    (tmp_path / "notmodel.tflite").write_text("hello")
    found = models.discover(variants_dir, [tmp_path], [("emotion/mine", tmp_path / "notmodel.tflite"),
                                                       ("caption/x", tmp_path / "missing.tflite")])
    keys = [m.key for m in found.models]
    assert keys.index("detector/short_range_fp32") < keys.index("emotion/shipped") < keys.index("emotion/float_fp32") \
        < keys.index("emotion/pruned_int8_qat") < keys.index("caption/shipped")
    assert {e["what"] for e in found.errors} == {"emotion/mine", "caption/x"}
    assert "not a TFLite model" in next(e["error"] for e in found.errors if e["what"] == "emotion/mine")
    reasons = {s["what"]: s["reason"] for s in found.skipped}
    assert "python -m converters.emotion all" in reasons["emotion/pruned_fp32"]
    assert "python -m converters.caption all" in reasons["caption/pruned_int8"]


@pytest.mark.parametrize("produced_by, out", [
    ("python -m converters.emotion all --config c.json --out runs/emotion96b --train-minutes 9", "runs/emotion96b"),
    ("python -m converters.emotion all --config c.json", "runs/emotion"),  # the toolchain's default --out
    ("", "runs/emotion"),
])
def test_default_emotion_variants_are_the_shipped_models_siblings(tmp_path, produced_by, out):
    manifest = json.loads(Path(model_path("emotion")).with_name("manifest.json").read_text())
    manifest["models"]["emotion"]["produced_by"] = produced_by
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    assert models.shipped_emotion_run_dir(tmp_path / "manifest.json") == models.ROOT / out / "tflite"


def test_targets_and_ratio_per_running_mode():
    """Image and video rows of the same model and threads are judged apart (a target or ratio
    without the mode would take whichever row came first)."""
    def rows(mode, dac, total):
        params = dict(emotion=host.SHIPPED_EMOTION, threads=1, mode=mode)
        return [Measurement.from_samples("pipeline.detect_align_classify", "ms", [dac], **params),
                Measurement.from_samples("pipeline.process", "ms", [total], **params)]

    ms = rows("image", 6.0, 20.0) + rows("video", 2.5, 3.0)
    tgts = {t["description"]: t for t in (t.evaluate(ms) for t in host.targets(ms))}
    budget = [t for t in tgts.values() if t["measurement"] == "pipeline.process"]
    assert [(t["params"]["mode"], t["passed"]) for t in budget] == [("image", False), ("video", True)]
    assert all(t["description"].endswith(f"{t['params']['mode']} mode") for t in budget)
    photos = tgts[f"detect+align+classify p50 <= 3 ms, 1 thread, shipped emotion model: {host.mode_label('image')}"]
    streams = tgts["detect+align+classify p50 <= 3 ms, 1 thread, shipped emotion model: streams (video mode)"]
    assert (photos["value"], photos["passed"], streams["value"], streams["passed"]) == (6.0, False, 2.5, True)
    only_video = [t.params.get("mode") for t in host.targets(ms, ["video"]) if t.measurement.endswith("classify")]
    assert only_video == ["video"]
    ratio = next(r.evaluate(ms) for r in host.ratios([1]) if r.description.startswith("image / video mode"))
    assert ratio["value"] == 2.4
    assert host.mode_label("video") == "streams (video mode)"
    on = host.mode_refinements("image")  # read from edgekit.PipelineOptions: whatever image mode turns on
    assert host.mode_label("image").startswith("photos (image mode") and host.mode_refinements("video") == []
    assert ("close-up" in host.mode_label("image")) == ("close_up" in on)
    assert ("flip averaging" in host.mode_label("image")) == ("flip_average" in on)


def test_chart_groups_pipeline_rows_by_mode(tmp_path):
    from benchmarks.chart import _pipeline_group

    assert _pipeline_group({"params": {"emotion": "emotion/a", "mode": "video"}}) == "emotion/a (video)"
    assert _pipeline_group({"params": {"emotion": "emotion/a"}}) == "emotion/a"  # sweep rows: no mode


def _report(measurements, **kwargs):
    return build_report("host", {"kind": "host", "name": "t"}, {}, {}, measurements, kwargs.pop("targets", []),
                        **kwargs)


def test_schema_validation_and_markdown():
    ms = [Measurement.from_samples("pipeline.process", "ms", [10, 12, 30], emotion="emotion/a", threads=1),
          Measurement.single("pipeline.throughput", "frames/s", 60, emotion="emotion/a", threads=1),
          Measurement.from_samples("model.latency", "ms", [1, 2], model="emotion/a", threads=1, xnnpack=True),
          Measurement.from_samples("model.latency", "ms", [2, 4], model="emotion/b", threads=1, xnnpack=True)]
    report = _report(ms,
                     targets=[Target("budget", "pipeline.process", "p95", FRAME_BUDGET_MS, {"emotion": "emotion/a"})],
                     ratios=[Ratio("a/b", "model.latency", "p50", {"model": "emotion/a"}, {"model": "emotion/b"},
                                   {"threads": 1})],
                     skipped=[{"what": "emotion/c", "reason": "not found"}], status="partial",
                     errors=[{"what": "emotion/d", "error": "broken"}])
    assert validate_report(report) == []
    assert report["targets"][0]["passed"] is False and report["ratios"][0]["value"] == 0.5
    report["device"]["contention"] = {"busy": True, "warning": "The machine was busy"}
    md = to_markdown(report)
    assert "> **PARTIAL RUN**" in md and "> **Busy machine.** The machine was busy" in md
    assert "| emotion=emotion/a, threads=1 | 12.000 | 28.200 | 60.000 | **FAIL** |" in md
    assert "| emotion/b | 3.000 |" in md and "- emotion/c: not found" in md
    assert "Running modes" not in md  # no mode param: no line explaining it
    moded = _report([Measurement.from_samples("pipeline.process", "ms", [3], emotion="emotion/a", threads=1,
                                              mode="video")])
    moded["config"]["pipeline_modes"] = {"image": ["flip_average", "close_up", "luma_keypoints"], "video": []}
    line = next(x for x in to_markdown(moded).splitlines() if x.startswith("Running modes"))
    assert "per-face options on: `flip_average`, `close_up`, `luma_keypoints`)" in line
    assert "per-face options on: none;" in line
    assert "reports/emotion_robustness/README.md" in line
    bad = json.loads(json.dumps(report))
    bad["measurements"][0]["stats"]["p50"] = float("nan")
    bad["harness"] = "phone"
    del bad["status"]
    assert validate_report(bad) == ["status: missing or not a str"]
    bad["status"] = "done"
    problems = validate_report(bad)
    for word in ("harness", "status", "bad stats"):
        assert any(word in p for p in problems), word
    with pytest.raises(ValueError, match="does not follow the schema"):
        write_report(bad, Path("/nonexistent"), "x")
    with pytest.raises(ValueError, match="unknown stat keys"):
        Measurement.from_stats("x", "ms", {"median": 1.0})


def test_ratio_helpers_and_collector():
    specs = model_ratios("pipeline.process", "p50", {"threads": 1}, param="emotion")
    assert specs and all(r.numerator["emotion"].startswith("emotion/") for r in specs)
    rows = [r.evaluate([]) for r in model_ratios("model.latency", "p50", {"threads": 1})]
    assert keep_computable(rows, lambda r: False) == [] and len(keep_computable(rows, lambda r: True)) == len(rows)
    c = Collector()
    assert c.status == "failed"
    with c.step("ok"):
        c.add([Measurement.single("x", "ms", 1)])
    assert c.status == "complete"
    with c.step("bad model"):
        raise RuntimeError("boom")
    assert c.status == "partial" and c.errors == [{"what": "bad model", "error": "RuntimeError: boom"}]
    with pytest.raises(KeyboardInterrupt), c.step("stopped"):
        raise KeyboardInterrupt
    assert c.status == "interrupted"


def test_contention_monitor_reports_load(monkeypatch):
    summary = ContentionMonitor().summary()
    assert summary["load_avg_start_1_5_15"] and isinstance(summary["busy"], bool)
    # A window shorter than MIN_WINDOW_S is mostly clock-tick rounding: no share is claimed for it.
    assert summary["other_processes_cpu_share"] is None
    monkeypatch.setattr("benchmarks.machine.MIN_WINDOW_S", 0.0)
    monitor = ContentionMonitor()
    time.sleep(0.05)
    share = monitor.summary()["other_processes_cpu_share"]
    assert share is not None and 0.0 <= share <= 1.0


def test_a_graph_xnnpack_refuses_is_a_skipped_configuration_not_an_error(monkeypatch):
    from edgekit import litert

    real = litert.interpreter_module()

    class RefusingInterpreter(real.Interpreter):
        def __init__(self, *args, **kwargs):
            self.builtin = "experimental_op_resolver_type" in kwargs
            super().__init__(*args, **kwargs)

        def allocate_tensors(self):
            if not self.builtin:
                raise RuntimeError("failed to create XNNPACK runtimeNode number 72 (TfLiteXNNPackDelegate) "
                                   "failed to prepare.")
            return super().allocate_tensors()

    fake = type("FakeLiteRT", (), {"Interpreter": RefusingInterpreter, "OpResolverType": real.OpResolverType})
    monkeypatch.setattr(litert, "interpreter_module", lambda: fake)
    with pytest.raises(invoke.XnnpackRefused, match="XNNPACK refused this graph"):
        invoke.open_interpreter(model_path("emotion"), 1, xnnpack=True)
    assert invoke.open_interpreter(model_path("emotion"), 1, xnnpack=False).get_input_details()


def test_a_named_models_folder_that_does_not_exist_is_an_error(tmp_path):
    import argparse

    import pytest

    from benchmarks import host

    parser = argparse.ArgumentParser()
    host.add_arguments(parser)
    for option in ("--models-dir", "--caption-dir"):
        with pytest.raises(SystemExit, match="no such folder"):
            host.config_from_args(parser.parse_args([option, str(tmp_path / "nowhere")]))
    assert host.config_from_args(parser.parse_args(["--models-dir", str(tmp_path)])).emotion_dir == tmp_path
    assert host.config_from_args(parser.parse_args([])).emotion_dir == host.model_files.DEFAULT_EMOTION_DIR
