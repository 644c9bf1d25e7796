"""Jetson power-mode sweep (#24): nvpmodel parsers, INA3221 rails, the sweep against a fake board.

The board is ``tests/fixtures/bench/energy/fake_jetson.py`` (fake ``nvpmodel`` / ``jetson_clocks``
with state), called in-process through the harness's runner interface, or installed on PATH for the
command-line test; the INA3221 monitors are a fake sysfs tree in ``tmp_path`` whose current the fake
workloads raise while they run, so the energy numbers have a known answer. Durations are tens of ms.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import time
from pathlib import Path

import pytest

from benchmarks import jetson, powermon
from benchmarks.collect import Collector
from benchmarks.errors import ToolOutputError
from benchmarks.parsers import jetson as parsers
from benchmarks.powermodes import PowerModes
from benchmarks.report import build_report, to_markdown, validate_report
from benchmarks.sweep import Sweep, SweepConfig, Workload
from benchmarks.tools import tool_result

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bench" / "energy"
_spec = importlib.util.spec_from_file_location("fake_jetson", FIXTURES / "fake_jetson.py")
fake_jetson = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fake_jetson)

IDLE_MA, LOAD_MA, BUS_MV = 1000, 1600, 5000  # VDD_IN: 5000 mW idle, 8000 mW under load


# ---------------------------------------------------------------------- parsers
def test_nvpmodel_modes_conf_and_reboot_prediction():
    listed = parsers.parse_nvpmodel_modes((FIXTURES / "nvpmodel_p_verbose_orin_nx.txt").read_text())
    assert listed["config_file"] == "/etc/nvpmodel.conf"
    assert listed["modes"] == [{"id": 0, "name": "MAXN"}, {"id": 1, "name": "MODE_10W"},
                               {"id": 2, "name": "MODE_15W"}, {"id": 3, "name": "MODE_25W"}]
    conf = parsers.parse_nvpmodel_conf((FIXTURES / "nvpmodel_conf_orin_nx.txt").read_text())
    assert sorted(conf) == [0, 1, 2, 3] and conf[2]["name"] == "MODE_15W"
    assert (conf[0]["cpu_max_khz"], conf[0]["gpu_max_hz"]) == (None, None)  # -1: hardware maximum
    assert (conf[1]["cpu_max_khz"], conf[1]["gpu_max_hz"]) == (1190400, 612000000)
    assert sum(conf[1]["cpu_online"].values()) == 4 and sum(conf[3]["cpu_online"].values()) == 8
    assert parsers.reboot_change(conf, 2, 1) == "online CPU cores change from 8 to 4"
    assert parsers.reboot_change(conf, 2, 3) is None and parsers.reboot_change(conf, 2, 9) is None
    outcome = parsers.nvpmodel_set_outcome((FIXTURES / "nvpmodel_m_reboot.txt").read_text())
    assert outcome["reboot_required"] and outcome["errors"] == ["NVPM ERROR: optMask is 1, no request for power mode"]
    assert not parsers.nvpmodel_set_outcome("")["reboot_required"]


@pytest.mark.parametrize("text, reason", [
    ("NVPM VERB: parsing done\n", "no 'POWER_MODEL: ID=<n> NAME=<name>' line"),
    ("NVPM VERB: POWER_MODEL: ID=x NAME=MAXN\n", "power mode ID is not an integer"),
    ("NVPM VERB: POWER_MODEL: ID=0 NAME=A\nNVPM VERB: POWER_MODEL: ID=0 NAME=B\n", "power mode ID 0 listed twice"),
])
def test_nvpmodel_modes_malformed(text, reason):
    with pytest.raises(ToolOutputError, match=reason):
        parsers.parse_nvpmodel_modes(text)


# ---------------------------------------------------------------------- fake hardware
def hwmon_tree(base: Path, rails=None, chip="1-0040", hwmon="hwmon3") -> Path:
    """An INA3221 hwmon folder: channels 1..3 (label, bus mV, mA), a shunt channel and the sum channel."""
    rails = rails or {"VDD_IN": (BUS_MV, IDLE_MA), "VDD_CPU_GPU_CV": (BUS_MV, 300), "VDD_SOC": (BUS_MV, 250)}
    folder = base / "sys/bus/i2c/drivers/ina3221" / chip / "hwmon" / hwmon
    folder.mkdir(parents=True)
    for n, (label, (mv, ma)) in enumerate(rails.items(), start=1):
        (folder / f"in{n}_label").write_text(label + "\n")
        (folder / f"in{n}_input").write_text(f"{mv}\n")
        (folder / f"curr{n}_input").write_text(f"{ma}\n")
        (folder / f"in{n + 3}_input").write_text("1520\n")  # shunt voltage, uV: never a rail
    (folder / "in7_label").write_text("sum of shunt voltages\n")
    (folder / "in7_input").write_text("4560\n")
    return folder


def test_discover_hwmon_iio_and_problems(tmp_path, monkeypatch):
    agx = hwmon_tree(tmp_path, {"VDD_GPU_SOC": (5016, 480), "VDD_CPU_CV": (5016, 80), "VIN_SYS_5V0": (5000, 645)})
    hwmon_tree(tmp_path, {"NC": (0, 0), "VDDQ_VDD2_1V8AO": (5000, 60)}, chip="1-0041", hwmon="hwmon4")
    iio = tmp_path / "sys/bus/i2c/drivers/ina3221x/6-0040/iio:device0"
    iio.mkdir(parents=True)
    (iio / "rail_name_0").write_text("POM_5V_IN\n")
    (iio / "in_power0_input").write_text("2510\n")
    rails, problems = powermon.discover(tmp_path)
    assert [r.name for r in rails] == ["VDD_GPU_SOC", "VDD_CPU_CV", "VIN_SYS_5V0", "VDDQ_VDD2_1V8AO", "POM_5V_IN"]
    assert powermon.read_rail(rails[0]) == pytest.approx(5016 * 480 / 1000) and powermon.read_rail(rails[-1]) == 2510
    assert problems == []
    assert powermon.total_rail([r.name for r in rails]) == "POM_5V_IN"
    assert powermon.expected_rails("NVIDIA Jetson AGX Orin Developer Kit") == ("VDD_GPU_SOC", "VDD_CPU_CV",
                                                                               "VIN_SYS_5V0")
    assert powermon.expected_rails("NVIDIA Orin Nano Developer Kit")[0] == "VDD_IN"
    # a rail without its current file, and permission denied on another folder
    (agx / "curr2_input").unlink()
    real = powermon._read_text
    monkeypatch.setattr(powermon, "_read_text",
                        lambda p: (_ for _ in ()).throw(PermissionError(13, "Permission denied"))
                        if "1-0041" in str(p) else real(p))
    rails, problems = powermon.discover(tmp_path)
    assert [r.name for r in rails] == ["VDD_GPU_SOC", "VIN_SYS_5V0", "POM_5V_IN"]
    assert any("VDD_CPU_CV" in p and "curr2_input missing" in p for p in problems)
    assert any("VDDQ_VDD2_1V8AO: permission denied" in p and "SUDO=1" in p for p in problems)
    assert powermon.discover(tmp_path / "empty")[1] == [
        f"no INA3221 monitor under {tmp_path / 'empty' / 'sys/bus/i2c/drivers'} (ina3221 hwmon or ina3221x IIO)"]


def test_sampler_drops_nonsense_and_marks_a_vanished_sensor(tmp_path):
    folder = hwmon_tree(tmp_path)
    rails, _ = powermon.discover(tmp_path)
    sampler = powermon.RailSampler(rails, 0.01)
    sampler.sample_once()
    (folder / "in1_input").write_text("99999999\n")  # 100 kV: not a physical bus voltage
    (folder / "curr2_input").write_text("garbage\n")
    sampler.sample_once()
    (folder / "curr3_input").unlink()  # the sensor is gone
    sampler.sample_once()
    sampler.sample_once()
    trace = sampler.trace
    assert [mw for _, mw in trace.readings["VDD_IN"]] == [5000.0]  # only the first reading is good
    assert trace.dropped_in("VDD_IN") == 3 and "outside the INA3221 bus range" in trace.dropped["VDD_IN"][0]
    assert "reads 'garbage', not an integer" in trace.dropped["VDD_CPU_GPU_CV"][0]
    assert len(trace.readings["VDD_SOC"]) == 2 and "sensor gone mid-run" in trace.lost["VDD_SOC"]


# ---------------------------------------------------------------------- the sweep
@pytest.fixture
def board(tmp_path):
    """A fake Orin NX in MODE_15W (ID 2), clocks not locked; returns a helper."""
    root = tmp_path / "board"
    root.mkdir()
    shutil.copy(FIXTURES / "nvpmodel_conf_orin_nx.txt", root / "nvpmodel.conf")
    (root / "state.json").write_text(json.dumps({"mode": 2, "locked": False, "caps_mode": 2}))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tegra = bin_dir / "tegrastats"
    tegra.write_text(f"#!/bin/sh\nwhile true; do cat {FIXTURES / 'tegrastats_orin_nx_sweep.txt'}; sleep 0.01; done\n")
    tegra.chmod(0o755)

    class Board:
        def __init__(self):
            self.root, self.hw, self.tegrastats = root, hwmon_tree(tmp_path), str(tegra)

        def scenario(self, **kw):
            (root / "scenario.json").write_text(json.dumps(kw))

        def runner(self, args, input_text):
            rc, out = fake_jetson.run(root, args[0], list(args[1:]), input_text or "")
            return tool_result(args, rc, out)

        def fake_tegrastats(self, name, body):
            """A tegrastats script on PATH in this board's bin folder; ``$LINES`` is the fixture file."""
            path = bin_dir / name
            path.write_text(f"#!/bin/sh\nLINES={FIXTURES / 'tegrastats_orin_nx_sweep.txt'}\n{body}\n")
            path.chmod(0o755)
            return str(path)

        def show(self):
            return parsers.parse_jetson_clocks(self.runner(["jetson_clocks", "--show"], None)["output"])

        def state(self):
            return json.loads((root / "state.json").read_text())

        def calls(self):
            return [json.loads(line) for line in (root / "calls.log").read_text().splitlines()]

        def workload(self, name="emotion/shipped", item="frame", fail=False):
            def open_():
                if fail:
                    raise KeyboardInterrupt  # Ctrl-C in the middle of a load
                if self.hw.exists():
                    (self.hw / "curr1_input").write_text(f"{LOAD_MA}\n")

                def step():
                    start = time.perf_counter()
                    time.sleep(0.002)
                    return (time.perf_counter() - start) * 1e3

                return step, lambda: self.hw.exists() and (self.hw / "curr1_input").write_text(f"{IDLE_MA}\n")

            names = ("pipeline.process", "pipeline.throughput") if item == "frame" else ("model.latency",
                                                                                         "model.throughput")
            key = {"emotion": name} if item == "frame" else {"model": name}
            return Workload(name, item, *names, {**key, "threads": 1}, open_)

        def sweep(self, workloads=None, tegrastats=None, **cfg):
            settings = dict(idle_s=0.06, settle_s=0.0, load_s=0.06, warmup=2, interval_s=0.005, sysfs_base=tmp_path,
                            board="NVIDIA Jetson Orin NX Engineering Reference Developer Kit")
            collector = Collector()
            sweep = Sweep(SweepConfig(**{**settings, **cfg}),
                          PowerModes(self.runner, clocks_file=tmp_path / "clocks.conf"),
                          workloads if workloads is not None else [self.workload()], collector,
                          tegrastats=tegrastats or self.tegrastats)
            return sweep, collector

    return Board()


def rows(collector, name, **params):
    return [m for m in collector.measurements
            if m.name == name and all(m.params.get(k) == v for k, v in params.items())]


def test_sweep_measures_skips_and_reports_modes_that_do_not_take_effect(board):
    board.scenario(silent=[0])  # nvpmodel -m 0 exits 0 and leaves the board in MODE_15W
    sweep, collector = board.sweep(workloads=[board.workload(),
                                              board.workload("detector/short_range_fp32", "inference")])
    sweep.run()
    # MODE_15W (current, first) and MODE_25W measured with clocks off and on; 10W skipped (reboot), MAXN failed
    measured = {(m.params["mode_id"], m.params["jetson_clocks"]) for m in rows(collector, "pipeline.process")}
    assert measured == {(2, "off"), (2, "on"), (3, "off"), (3, "on")}
    assert [s["what"] for s in collector.skipped] == ["nvpmodel mode 1 (MODE_10W)"]
    assert "expected to need a reboot (online CPU cores change from 8 to 4)" in collector.skipped[0]["reason"]
    assert collector.errors == [{"what": "nvpmodel mode 0 (MAXN)",
                                 "error": "mode 0 did not take effect: nvpmodel -q still "
                                          "reports MODE_15W (ID 2) (no error printed)"}]
    # energy: VDD_IN is 8000 mW under load and 5000 mW idle, so mJ/frame = 8000 / fps exactly
    for clocks in ("off", "on"):
        common = {"emotion": "emotion/shipped", "mode_id": 3, "jetson_clocks": clocks}
        fps = rows(collector, "pipeline.throughput", **common)[0].stats["value"]
        gross = rows(collector, "energy.per_frame", basis="gross", **common)[0].stats["value"]
        above = rows(collector, "energy.per_frame", basis="above_idle", **common)[0].stats["value"]
        assert gross == pytest.approx(8000 / fps, rel=1e-3) and above == pytest.approx(3000 / fps, rel=1e-3)
        assert rows(collector, "energy.frames_per_joule", **common)[0].stats["value"] == pytest.approx(1000 / gross,
                                                                                                       rel=1e-3)
        assert rows(collector, "power.total", phase="load", **common)[0].stats["mean"] == 8000
        assert rows(collector, "power.total", phase="idle", mode_id=3, jetson_clocks=clocks)[0].params["of"] == "VDD_IN"
        assert {m.params["rail"] for m in rows(collector, "power.rail", phase="load", **common)} == {
            "VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"}
        assert rows(collector, "power.sample_rate", phase="load", **common)[0].stats["value"] >= 10
    inference = rows(collector, "energy.per_inference", basis="gross", model="detector/short_range_fp32", mode_id=2)
    assert len(inference) == 2 and rows(collector, "model.latency", mode_id=2, jetson_clocks="on")[0].stats["p95"] >= 2
    # temperatures from tegrastats; throttling only with locked clocks: 1497 MHz is at MODE_15W's cap (not
    # throttled) and below MODE_25W's 1728 MHz cap (throttled in every sample)
    assert rows(collector, "tegrastats.temperature", sensor="tj", mode_id=3, jetson_clocks="on")[0].stats["max"] == 52.7
    assert rows(collector, "throttle.share", mode_id=2)[0].stats["value"] == 0
    assert rows(collector, "throttle.share", mode_id=3)[0].stats["value"] == 1
    assert not rows(collector, "throttle.share", jetson_clocks="off")
    # the original mode and clocks are back, nothing asked nvpmodel to reboot
    assert board.state() == {"mode": 2, "locked": False, "caps_mode": 2}
    assert sweep.device["restored"] == {"nvpmodel": "restored", "jetson_clocks": "restored"}
    assert all(c["stdin"] == "no\n" for c in board.calls() if c["args"][:1] == ["-m"])
    energy = sweep.energy.to_dict()
    assert energy["source"].startswith("INA3221 power monitors (VDD_IN, VDD_CPU_GPU_CV, VDD_SOC)")
    assert any("throttling with jetson_clocks off" in n for n in energy["not_measurable"])
    # one report with the energy table and the measurability text
    report = build_report("jetson", {"kind": "jetson"}, {}, {}, collector.measurements, [], energy=energy,
                          **collector.sections())
    assert validate_report(report) == []
    md = to_markdown(report)
    assert "## Energy" in md and "What was not:" in md and "mode_id=3, jetson_clocks=on (frame)" in md


def test_reboot_modes_asked_for_are_tried_and_declined(board):
    board.scenario(reboot=[1])
    sweep, collector = board.sweep(include_reboot_modes=True, modes=[1, 2], clocks=("off",))
    sweep.run()
    assert [s["what"] for s in collector.skipped] == ["nvpmodel mode 1 (MODE_10W)"]
    assert collector.skipped[0]["reason"] == ("nvpmodel says mode 1 needs a reboot "
                                              "(declined; the board keeps MODE_15W (ID 2))")
    asked = [c for c in board.calls() if c["args"] == ["-m", "1"]]
    assert asked == [{"tool": "nvpmodel", "args": ["-m", "1"], "stdin": "no\n"}] and "rebooted" not in board.state()
    assert {m.params["mode_id"] for m in rows(collector, "pipeline.process")} == {2}


def test_stale_clocks_and_failed_lock_are_detected(board):
    board.scenario(stale_clocks=[3], lock_fails=True)
    sweep, collector = board.sweep(modes=[2, 3])
    sweep.run()
    errors = {e["what"]: e["error"] for e in collector.errors}
    assert errors["nvpmodel mode 3 (MODE_25W)"] == ("mode 3 did not take effect: CPU max frequency reads 1497600 kHz, "
                                                    "the mode caps it at 1728000 kHz")
    assert errors["nvpmodel mode 2 (MODE_15W), jetson_clocks on"].startswith(
        "jetson_clocks on did not take effect: the clocks read back not locked")
    assert {(m.params["mode_id"], m.params["jetson_clocks"]) for m in rows(collector, "pipeline.process")} == {(2,
                                                                                                                "off")}


def test_interrupt_restores_mode_and_clocks(board):
    board.scenario()
    sweep, collector = board.sweep(workloads=[board.workload(), board.workload("emotion/other", fail=True)], modes=[3])
    with pytest.raises(KeyboardInterrupt):
        sweep.run()
    assert [c["args"] for c in board.calls() if c["args"][:1] == ["-m"]] == [["-m", "3"], ["-m", "2"]]
    assert board.state() == {"mode": 2, "locked": False, "caps_mode": 2}
    assert sweep.device["restored"]["nvpmodel"] == "restored"  # it was in MODE_25W when Ctrl-C came
    assert collector.interrupted and "interrupted" in collector.errors[-1]["error"]


def test_tools_missing_or_needing_root_are_reported_not_faked(board, tmp_path, monkeypatch):
    board.scenario(needs_root=True)
    sweep, collector = board.sweep()
    sweep.run()
    assert rows(collector, "pipeline.process") == [] and rows(collector, "energy.per_frame") == []
    errors = {e["what"]: e["error"] for e in collector.errors}
    assert "`nvpmodel -m 3` exited with 1 (it needs root: run with sudo -E)" in errors["nvpmodel mode 3 (MODE_25W)"]
    assert errors["nvpmodel mode 2 (MODE_15W), jetson_clocks off"].startswith(
        "cannot read the clocks back: `jetson_clocks --show` exited with 1 (it needs root")
    assert any("could not be saved" in n and "needs root" in n for n in sweep.energy.not_measurable)
    missing = Sweep(SweepConfig(sysfs_base=tmp_path), PowerModes(clocks_file=tmp_path / "c"), [], Collector(),
                    tegrastats="no-such-tegrastats")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    missing.run()
    assert missing.collector.skipped == [{"what": "nvpmodel sweep",
                                          "reason": "nvpmodel unavailable: nvpmodel not found on PATH"}]
    assert missing.collector.measurements == []


def test_tegrastats_fallback_and_no_power_at_all(board, tmp_path):
    shutil.rmtree(tmp_path / "sys")
    board.scenario()
    sweep, collector = board.sweep(modes=[2], clocks=("off",), idle_s=0.1, load_s=0.1)
    sweep.run()
    assert sweep.energy.source.startswith("tegrastats rails every 50 ms (fallback")
    assert any("no INA3221 monitor" in n for n in sweep.energy.not_measurable)
    load = rows(collector, "power.total", phase="load", mode_id=2)[0]
    assert load.params["of"] == "VDD_IN" and load.stats["min"] == 7379 and load.stats["max"] == 7421
    assert rows(collector, "energy.per_frame", basis="gross", mode_id=2)
    sweep, collector = board.sweep(modes=[2], clocks=("off",), tegrastats="no-such-tegrastats")
    sweep.run()
    assert rows(collector, "pipeline.process") and not rows(collector, "energy.per_frame")
    assert any("no INA3221 rail and no tegrastats rail" in n for n in sweep.energy.not_measurable)
    assert any("no-such-tegrastats not found on PATH" in n for n in sweep.energy.not_measurable)


def test_missing_rail_nonsense_and_vanished_sensor_refuse_energy(board):
    (board.hw / "in3_label").unlink()  # VDD_SOC not exposed
    board.scenario()
    (board.hw / "in1_input").write_text("0\n")  # VDD_IN bus voltage 0 mV: nonsense for the whole run
    sweep, collector = board.sweep(modes=[2], clocks=("off",))
    sweep.run()
    assert any("rail(s) VDD_SOC expected on NVIDIA Jetson Orin NX" in n for n in sweep.energy.not_measurable)
    assert not rows(collector, "energy.per_frame") and rows(collector, "pipeline.process")
    refused = [n for n in sweep.energy.not_measurable if "usable power readings" in n]
    assert refused and "VDD_IN: " in refused[0] and "nonsense reading(s) dropped" in refused[0]
    (board.hw / "in1_input").write_text(f"{BUS_MV}\n")
    vanishing = board.workload()
    opened = vanishing.open

    def open_and_unplug():
        step, close = opened()
        (board.hw / "curr1_input").unlink()  # the monitor disappears mid-run
        return step, (lambda: None)

    vanishing.open = open_and_unplug
    sweep, collector = board.sweep(workloads=[vanishing], modes=[2], clocks=("off",))
    sweep.run()
    assert rows(collector, "power.total", phase="idle") and not rows(collector, "energy.per_frame")
    assert any("sensor gone mid-run" in n for n in sweep.energy.not_measurable)


def test_command_line_sweep_with_fake_tools(board, tmp_path, monkeypatch, capsys):
    board.scenario(reboot=[1])
    for tool in ("nvpmodel", "jetson_clocks"):
        fake = FIXTURES / "fake_jetson.py"
        (tmp_path / "bin" / tool).write_text(f"#!/bin/sh\nexec {sys.executable} -S -E {fake} {tool} \"$@\"\n")
        (tmp_path / "bin" / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_JETSON_ROOT", str(board.root))
    out = tmp_path / "results"
    code = jetson.main(["--sweep-nvpmodel", "--modes", "2", "--clocks", "on", "--no-variants", "--families", "emotion",
                        "--threads", "1", "--idle-s", "0.05", "--load-s", "0.05", "--settle-s", "0", "--warmup", "1",
                        "--power-interval-ms", "5", "--sysfs-root", str(tmp_path), "--out-dir", str(out)])
    assert code == 0, capsys.readouterr()
    report = json.loads((out / "jetson_sweep_modes_2.json").read_text())  # --modes: never overwrites a full sweep
    assert validate_report(report) == [] and report["status"] == "complete"
    assert report["device"]["restored"] == {"nvpmodel": "unchanged", "jetson_clocks": "restored"}
    assert {m["params"].get("emotion") or m["params"].get("model") for m in report["measurements"]
            if m["name"] in ("energy.per_frame", "energy.per_inference")} == {"emotion/shipped"}
    assert report["artifacts"]["chart"] == "jetson_sweep_modes_2.png"
    assert (out / "jetson_sweep_modes_2.png").stat().st_size > 10000
    assert report["targets"][0]["description"].startswith(
        "15 ms/frame budget (p95): MODE_15W (mode 2), jetson_clocks on")
    assert "## Energy" in (out / "jetson_sweep_modes_2.md").read_text()
    assert board.state() == {"mode": 2, "locked": False, "caps_mode": 2}


# ---------------------------------------------------------------------- review fixes (#24)
def test_slow_tegrastats_start_and_sparse_lines_still_give_throttling(board):
    """A busy machine: tegrastats prints its first line 0.4 s after it starts, then every 0.25 s, while
    the windows last 60 ms. The sweep waits for the first line and keeps each window open until a line
    arrived inside it (bounded), so temperatures and throttle.share exist for every setting."""
    slow = board.fake_tegrastats("slow-tegrastats", 'sleep 0.4\nwhile true; do cat "$LINES"; sleep 0.25; done')
    board.scenario()
    sweep, collector = board.sweep(modes=[2], clocks=("on",), tegrastats=slow)
    sweep.run()
    assert rows(collector, "throttle.share", mode_id=2, jetson_clocks="on")[0].stats["value"] == 0
    assert rows(collector, "tegrastats.temperature", sensor="tj", mode_id=2)
    assert rows(collector, "energy.per_frame", basis="above_idle", mode_id=2), sweep.energy.not_measurable
    assert not any("printed no line" in n for n in sweep.energy.not_measurable)


def test_silent_tegrastats_is_waited_for_only_a_bounded_time(board):
    mute = board.fake_tegrastats("mute-tegrastats", "while true; do sleep 0.05; done")
    board.scenario()
    sweep, collector = board.sweep(modes=[2], clocks=("on",), tegrastats=mute, wait_s=0.3)
    start = time.monotonic()
    sweep.run()
    assert time.monotonic() - start < 5
    assert any("tegrastats printed no line within 0.3 s" in n for n in sweep.energy.not_measurable)
    assert rows(collector, "energy.per_frame", mode_id=2) and not rows(collector, "throttle.share")


def test_tegrastats_fallback_samples_every_50_ms(board, tmp_path):
    """Without INA3221 files tegrastats is the power source: it runs with --interval 50, not 100, so the
    achieved rate stays above the 10 Hz floor instead of hovering at it."""
    shutil.rmtree(tmp_path / "sys")
    args = tmp_path / "tegrastats_args.txt"
    paced = board.fake_tegrastats("paced-tegrastats", f'echo "$@" > {args}\nL=$(head -n 1 "$LINES")\n'
                                  's=$(awk "BEGIN {{ print $2 / 1000 }}")\n'
                                  'while true; do printf "%s\\n" "$L"; sleep "$s"; done')
    board.scenario()
    sweep, collector = board.sweep(modes=[2], clocks=("off",), idle_s=0.5, load_s=0.5, tegrastats=paced)
    sweep.run()
    assert args.read_text().split() == ["--interval", "50"]
    assert SweepConfig().tegrastats_interval_ms == 50 and sweep.energy.source.startswith("tegrastats rails every 50 ms")
    assert rows(collector, "power.sample_rate", phase="load", mode_id=2)[0].stats["value"] >= 10
    assert not any("power sampled at" in n for n in sweep.energy.not_measurable), sweep.energy.not_measurable


@pytest.mark.parametrize("restore_cpu_min", [None, 1190400])
def test_interrupt_with_clocks_locked_restores_the_original_frequencies(board, restore_cpu_min):
    """Ctrl-C while jetson_clocks is on (MODE_25W, clocks locked): the mode and the clocks are restored and
    read back frequency by frequency; a restore that leaves a MinFreq raised is reported, not "restored"."""
    board.scenario(**({"restore_cpu_min": restore_cpu_min} if restore_cpu_min else {}))
    before = board.show()
    assert not before["clocks_locked"]
    at_interrupt = {}
    interrupting = board.workload("emotion/other")

    def ctrl_c():
        at_interrupt.update(board.state())
        raise KeyboardInterrupt

    interrupting.open = ctrl_c
    sweep, collector = board.sweep(workloads=[board.workload(), interrupting], modes=[3], clocks=("on",))
    with pytest.raises(KeyboardInterrupt):
        sweep.run()
    assert (at_interrupt["mode"], at_interrupt["locked"]) == (3, True)  # Ctrl-C came with the clocks locked
    assert collector.interrupted
    changes = [c["args"] for c in board.calls() if c["tool"] == "jetson_clocks" and c["args"] != ["--show"]]
    assert changes[-2:] == [[], ["--restore", str(sweep.pm.clocks_file)]]  # locked, then Ctrl-C, then restored
    after = board.show()
    if restore_cpu_min is None:
        settings = lambda show: {name: {k: v for k, v in fields.items() if k != "CurrentFreq"}  # noqa: E731
                                 for name, fields in [*show["cpus"].items(), *show["units"].items()]}
        assert board.state() == {"mode": 2, "locked": False, "caps_mode": 2}
        assert settings(after) == settings(before) and not after["clocks_locked"]
        assert sweep.device["restored"] == {"nvpmodel": "restored", "jetson_clocks": "restored"}
    else:
        assert sweep.device["restored"]["jetson_clocks"] == (
            "NOT restored: the clocks read back differently (cpu0 MinFreq 729600 -> 1190400; cpu1 MinFreq 729600 -> "
            "1190400; cpu2 MinFreq 729600 -> 1190400; cpu3 MinFreq 729600 -> 1190400; and 4 more)")
        error = next(e for e in collector.errors if e["what"] == "restoring jetson_clocks")
        assert "sudo jetson_clocks --restore" in error["error"]


def test_clocks_locked_before_the_sweep_are_said_and_off_is_skipped(board):
    (board.root / "state.json").write_text(json.dumps({"mode": 2, "locked": True, "caps_mode": 2}))
    board.scenario(mode_keeps_lock=True)  # nvpmodel -m does not unlock them either
    sweep, collector = board.sweep(modes=[2, 3])
    sweep.run()
    assert sweep.device["jetson_clocks_before"]["clocks_locked"]
    assert any("already locked (jetson_clocks had been run) when the sweep started" in n for n in collector.notes)
    assert collector.errors == []
    assert [s["what"] for s in collector.skipped] == ["nvpmodel mode 2 (MODE_15W), jetson_clocks off",
                                                      "nvpmodel mode 3 (MODE_25W), jetson_clocks off"]
    assert all("locked before the sweep started" in s["reason"] for s in collector.skipped)
    assert {(m.params["mode_id"], m.params["jetson_clocks"]) for m in rows(collector, "pipeline.process")} == {
        (2, "on"), (3, "on")}
    assert board.state() == {"mode": 2, "locked": True, "caps_mode": 2}  # back to the original: locked
    assert sweep.device["restored"] == {"nvpmodel": "restored", "jetson_clocks": "restored"}
    report = build_report("jetson", {"kind": "jetson"}, {}, {}, collector.measurements, [], collector.notes,
                          energy=sweep.energy.to_dict(), **collector.sections())
    assert "already locked" in to_markdown(report)
