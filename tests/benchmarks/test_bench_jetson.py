"""Jetson harness: tegrastats / nvpmodel / jetson_clocks / trtexec parsers on recorded lines, and
``python -m benchmarks.jetson --quick`` with fake Jetson tools on PATH."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from benchmarks import jetson
from benchmarks.errors import ToolOutputError
from benchmarks.parsers import jetson as jetson_parsers, tegrastats, trtexec
from benchmarks.report import validate_report
from benchmarks.tegrastats import parse_lines, summarize

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bench" / "jetson"


def lines(name):
    return (FIXTURES / name).read_text().splitlines()


def test_tegrastats_nano_jp4_forms():
    idle, busy = tegrastats.parse((FIXTURES / "tegrastats_nano_jp4.txt").read_text())
    assert (idle.ram_used_mb, idle.ram_total_mb, idle.swap_total_mb, idle.timestamp) == (1708, 3956, 1978, None)
    assert [(c.load_pct, c.freq_mhz) for c in idle.cpu] == [(9, 1479), (4, 1479), (5, 1479), (3, 1479)]
    assert busy.cpu[2:] == [None, None] and [c.load_pct for c in busy.cpu_online] == [88, 91]
    assert (idle.gpu_load_pct, idle.gpu_freq_mhz, idle.emc_load_pct) == (0, [921], 3)
    assert idle.temperatures_c == {"PLL": 30, "CPU": 33, "PMIC": 100, "GPU": 31.5, "AO": 39.5, "thermal": 32}
    assert busy.power_mw == {"POM_5V_IN": (4321, 3415), "POM_5V_GPU": (41, 41), "POM_5V_CPU": (1820, 1076)}


def test_tegrastats_xavier_orin_forms():
    nx = tegrastats.parse_line(lines("tegrastats_xavier_nx_jp5.txt")[0])
    assert (nx.gpu_load_pct, nx.gpu_freq_mhz, nx.emc_load_pct) == (0, [], 0)  # "GR3D_FREQ 0%" without a frequency
    assert nx.power_mw["VDD_IN"] == (4032, 4032) and nx.cpu[2:] == [None] * 4
    orin = tegrastats.parse_line(lines("tegrastats_orin_jp5.txt")[0])
    assert orin.timestamp == "08-04-2022 10:23:53" and orin.gpu_freq_mhz == [305, 305]
    assert orin.temperatures_c["CV0"] is None and orin.temperatures_c["GPU"] is None
    assert orin.temperatures_c["tj"] == 44.531
    assert orin.power_mw["VDD_GPU_SOC"] == (2396, 2396) and orin.power_mw["VIN_SYS_5V0"] == (3225, 3225)
    nano = tegrastats.parse((FIXTURES / "tegrastats_orin_nano_jp6.txt").read_text())
    assert [s.gpu_freq_mhz for s in nano] == [[305], [624]] and nano[1].power_mw["VDD_IN"] == (7421, 6210)


def test_tegrastats_summary_and_malformed_lines():
    samples, errors = parse_lines(lines("tegrastats_nano_jp4.txt") + lines("tegrastats_orin_jp5.txt"), "log")
    assert not errors
    measurements, notes = summarize(samples)
    by = {(m.name, m.params.get("sensor") or m.params.get("rail")): m for m in measurements}
    assert by[("tegrastats.ram_used", None)].stats["max"] == 2426
    assert by[("tegrastats.cpu_load", None)].stats["max"] == pytest.approx(89.5)
    assert by[("tegrastats.cpu_online_cores", None)].stats["min"] == 2
    assert ("tegrastats.temperature", "CV0") not in by and by[("tegrastats.temperature", "CPU")].stats["n"] == 3
    assert by[("tegrastats.power", "POM_5V_IN")].stats["max"] == 4321
    assert any("-256C" in n and "CV0" in n for n in notes) and any("offline" in n for n in notes)
    good, errors = parse_lines(lines("tegrastats_malformed.txt"), "tegra.log")
    assert len(good) == 1 and len(errors) == 2
    assert errors[0]["error"].startswith("tegra.log:2: malformed CPU core entry 'busy'")
    assert errors[1]["error"].startswith("tegra.log:3: not a tegrastats line")


def test_nvpmodel_and_jetson_clocks():
    assert jetson_parsers.parse_nvpmodel((FIXTURES / "nvpmodel_maxn.txt").read_text()) == {
        "power_mode": "MAXN", "mode_id": 0, "fan_mode": "quiet", "warnings": []}
    warn = jetson_parsers.parse_nvpmodel((FIXTURES / "nvpmodel_15w_warn.txt").read_text())
    assert (warn["power_mode"], warn["mode_id"], warn["warnings"]) == ("15W", 2, ["NVPM WARN: fan mode is not set!"])
    with pytest.raises(ToolOutputError, match=r"nvpmodel -q:2: expected the power mode id"):
        jetson_parsers.parse_nvpmodel((FIXTURES / "nvpmodel_malformed.txt").read_text())
    with pytest.raises(ToolOutputError, match=r"nvpmodel -q:1: no 'NV Power Mode:' line"):
        jetson_parsers.parse_nvpmodel("nvpmodel: command failed\n")
    locked = jetson_parsers.parse_jetson_clocks((FIXTURES / "jetson_clocks_nano_locked.txt").read_text())
    assert locked["clocks_locked"] and locked["soc"] == "tegra210" and locked["cpus"][0]["MaxFreq"] == 1479000
    orin = jetson_parsers.parse_jetson_clocks((FIXTURES / "jetson_clocks_orin_default.txt").read_text())
    assert not orin["clocks_locked"] and orin["power_mode"] == "MODE_30W" and orin["cpus"][8]["Online"] == 0
    assert orin["units"]["DLA0_CORE"]["MaxFreq"] == 1600000000 and orin["units"]["GPU"]["CurrentFreq"] == 306000000
    with pytest.raises(ToolOutputError, match="no 'cpuN: Online="):
        jetson_parsers.parse_jetson_clocks("Fan: speed=0\n")
    with pytest.raises(ToolOutputError, match=r"jetson_clocks --show:1: MinFreq is not an integer \('①'\)"):
        jetson_parsers.parse_jetson_clocks("cpu0: Online=1 Governor=schedutil MinFreq=① MaxFreq=1479000 "
                                           "CurrentFreq=1\n")
    with pytest.raises(ToolOutputError, match="expected the power mode id"):
        jetson_parsers.parse_nvpmodel("NV Power Mode: MAXN\n①\n")


def test_trtexec_forms():
    trt8 = trtexec.parse((FIXTURES / "trtexec_trt8.txt").read_text())
    assert trt8["passed"] is True and trt8["throughput_qps"] == 1834.12
    assert trt8["metrics"]["latency"] == {"min": 0.501953, "max": 1.73511, "mean": 0.541534, "p50": 0.531738,
                                          "p90": 0.560303, "p95": 0.58252, "p99": 0.706299}
    assert trt8["metrics"]["gpu_compute_time"]["p99"] == 0.688477 and trt8["totals_s"]["host_walltime"] == 3.00088
    trt7 = trtexec.parse((FIXTURES / "trtexec_trt7.txt").read_text())
    assert trt7["passed"] is True and [a["gpu"] for a in trt7["averages"]] == [2.51367, 2.50098]
    assert trtexec.parse((FIXTURES / "trtexec_failed.txt").read_text())["passed"] is False
    with pytest.raises(ToolOutputError, match=r"trt.log:3: malformed statistic 'max = \?\?\? ms'"):
        trtexec.parse((FIXTURES / "trtexec_malformed.txt").read_text(), "trt.log")
    with pytest.raises(ToolOutputError, match="no performance summary"):
        trtexec.parse("[I] Building engine\n")
    with pytest.raises(RuntimeError, match="FAILED"):
        jetson.trtexec_measurements(Path("bad.onnx"), "fp16", (FIXTURES / "trtexec_failed.txt").read_text(), "x.log")


def _tool(bin_dir: Path, name: str, body: str) -> None:
    (bin_dir / name).write_text("#!/bin/sh\n" + body)
    (bin_dir / name).chmod(0o755)


def test_jetson_harness_with_fake_tools(tmp_path, monkeypatch, capsys):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _tool(bin_dir, "nvpmodel", f"cat {FIXTURES / 'nvpmodel_maxn.txt'}\n")
    _tool(bin_dir, "jetson_clocks", f"cat {FIXTURES / 'jetson_clocks_orin_default.txt'}\n")
    _tool(bin_dir, "tegrastats", f"while true; do cat {FIXTURES / 'tegrastats_orin_nano_jp6.txt'}; sleep 0.1; done\n")
    _tool(bin_dir, "trtexec", f"cat {FIXTURES / 'trtexec_trt8.txt'}\n")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    onnx = tmp_path / "emotion_float.onnx"
    onnx.write_bytes(b"onnx")
    out = tmp_path / "results"
    code = jetson.main(["--quick", "--no-variants", "--families", "emotion", "--xnnpack", "on", "--no-progress",
                        "--out-dir", str(out), "--tegrastats-interval", "100", "--trtexec-onnx", str(onnx),
                        "--trtexec-onnx", str(tmp_path / "missing.onnx")])
    assert code == 1  # missing.onnx is an error entry; everything else ran
    report = json.loads((out / "jetson_quick.json").read_text())
    assert validate_report(report) == [] and report["harness"] == "jetson" and report["status"] == "partial"
    dev = report["device"]
    assert dev["kind"] == "jetson" and dev["nvpmodel"]["power_mode"] == "MAXN"
    assert dev["jetson_clocks"]["available"] and dev["jetson_clocks"]["clocks_locked"] is False
    assert any("jetson_clocks is not active" in n for n in report["notes"])
    names = {m["name"] for m in report["measurements"]}
    assert {"pipeline.process", "model.latency", "tegrastats.ram_used", "tegrastats.power", "trtexec.latency",
            "trtexec.throughput", "trtexec.gpu_compute_time"} <= names
    assert (out / "jetson_quick_tegrastats.log").read_text().startswith("11-23-2026")
    assert "missing.onnx: ONNX file not found" in report["errors"][0]["error"]
    assert (out / "jetson_quick.md").read_text().count("trtexec.latency") >= 1
    assert "status: partial" in capsys.readouterr().out
