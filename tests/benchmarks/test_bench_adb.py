"""ADB harness end to end against a fake ``adb`` that replays recorded-format outputs.

``tests/fixtures/bench/fake_adb.py`` is installed as ``adb`` first on PATH; each test writes the
scenario (devices, getprop/thermal/cpufreq answers, which benchmark_model log each run returns)
and checks the reports and messages the harness produces for success and for each failure.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import adb as adb_harness
from benchmarks.report import validate_report
from edgekit.registry import third_party_model_path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "bench"
S23, ONEPLUS = "R5CT1234ABC", "192.168.1.23:5555"
#: One XNNPACK thread, no battery idle wait: the energy tests' run (plus --serial and --repeats).
XNNPACK_1T = ("--delegates", "xnnpack", "--threads", "1", "--battery-idle", "0")
DETECTOR = third_party_model_path("face_short_range")
RUNS = [
    {"match": ["--use_gpu=true"], "fixture": "gpu_partial.txt"},
    {"match": ["--use_nnapi=true"], "fixture": "nnapi_rejected.txt", "status": 1},
    {"match": ["--use_xnnpack=false"], "fixture": "cpu_old.txt"},
    {"match": [], "fixture": "xnnpack_new.txt"},
]


def device(getprop="getprop_s23.txt", cpufreq="cpufreq_s23.txt", runs=RUNS, **extra):
    return {"getprop": getprop, "thermal": "thermal_moderate.txt", "cpufreq": cpufreq, "runs": runs, **extra}


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """Installs the fake adb; returns a function writing the scenario and running the harness."""
    bin_dir, root = tmp_path / "bin", tmp_path / "adbroot"
    bin_dir.mkdir()
    root.mkdir()
    (bin_dir / "adb").write_text(f"#!/bin/sh\nexec {sys.executable} -S -E {FIXTURES / 'fake_adb.py'} \"$@\"\n")
    (bin_dir / "adb").chmod(0o755)
    binary = tmp_path / "benchmark_model"
    binary.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(11) + (183).to_bytes(2, "little") + bytes(44))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin")
    monkeypatch.setenv("FAKE_ADB_ROOT", str(root))
    out_dir = tmp_path / "results"

    class Fake:
        def __init__(self):
            self.root, self.out_dir, self.binary = root, out_dir, binary

        def scenario(self, devices="devices_two.txt", **serials):
            doc = {"devices": (FIXTURES / "adb" / devices).read_text(), "serials": serials}
            (root / "scenario.json").write_text(json.dumps(doc))

        def args(self, *extra):
            # two models: the shipped emotion model and BlazeFace short range (as a --model file)
            return ["--benchmark-binary", str(binary), "--out-dir", str(out_dir), "--no-variants", "--families",
                    "emotion",
                    "--model", f"detector/short_range_fp32={DETECTOR}", "--warmup-runs", "2", "--num-runs", "5", *extra]

        def run(self, *extra):
            return adb_harness.main(self.args(*extra))

        def calls(self):
            return [json.loads(line) for line in (root / "calls.log").read_text().splitlines()]

        def report(self, serial):
            return json.loads((out_dir / f"adb_{adb_harness._safe(serial)}.json").read_text())

    return Fake()


def latency(report, **params):
    return [m for m in report["measurements"] if m["name"] == "model.latency"
            and all(m["params"].get(k) == v for k, v in params.items())]


def test_two_devices_full_run(fake, capsys):
    fake.scenario(**{S23: device(), ONEPLUS: device("getprop_oneplus.txt", "cpufreq_oneplus.txt")})
    code = fake.run("--threads", "1", "--repeats", "2", "--taskset", "big")
    err = capsys.readouterr().err
    assert code == 1  # the NNAPI rejection is an error entry
    for serial, soc, platform, mask in ((S23, "SM8550", "kalama", "f8"), (ONEPLUS, "SM8475", "taro", "f0")):
        report = fake.report(serial)
        assert validate_report(report) == []
        assert report["harness"] == "adb" and report["status"] == "partial"
        dev = report["device"]
        assert (dev["soc_model"], dev["board_platform"], dev["abi"], dev["big_core_mask"]) == (soc, platform,
                                                                                               "arm64-v8a", mask)
        assert dev["thermal_before"]["status_name"] == "moderate" and dev["thermal_after"]["status"] == 2
        # xnnpack runs: per-repeat stats straight from the tool (us -> ms) and the repeats combined
        rows = latency(report, model="emotion/shipped", delegate="xnnpack", threads=1)
        assert sorted(str(m["params"]["repeat"]) for m in rows) == ["1", "2", "all"]
        assert all(m["params"]["affinity"] == mask for m in rows)
        first = next(m for m in rows if m["params"]["repeat"] == 1)["stats"]
        assert (first["p50"], first["mean"], first["n"], first["p95"]) == (1.18, 1.1926, 837, 1.305)
        assert next(m for m in rows if m["params"]["repeat"] == "all")["stats"]["n"] == 2 * 837
        # old output form (no percentiles): p50 falls back to the average
        cpu = latency(report, model="detector/short_range_fp32", delegate="cpu", threads=1, repeat="all")[0]["stats"]
        assert cpu["p50"] == round(5107.85 / 1e3, 4) and "p95" not in cpu
        memory = [m for m in report["measurements"] if m["name"] == "model.memory_overall"]
        assert {m["params"]["form"] for m in memory} == {"footprint_delta", "peak_footprint"}
        # partial GPU delegation is reported, with its numbers
        gpu_nodes = [m for m in report["measurements"] if m["name"] == "model.delegated_nodes"
                     and m["params"]["delegate"] == "gpu"]
        assert gpu_nodes and all(m["stats"]["value"] == 4 and m["params"]["of_nodes"] == 31 for m in gpu_nodes)
        assert any("partial delegation" in n and "4 of 31 nodes to TfLiteGpuDelegateV2" in n for n in report["notes"])
        # NNAPI rejected: an error naming the delegate line, no NNAPI numbers, not repeated
        nnapi = [e for e in report["errors"] if "nnapi" in e["what"]]
        rejected = "NNAPI delegate rejected the model: Failed to apply NNAPI delegate."
        assert len(nnapi) == 2 and all(rejected in e["error"] for e in nnapi)
        assert not latency(report, delegate="nnapi")
        assert all(m["params"]["threads"] == 1 for m in latency(report, delegate="gpu"))
        assert {t["params"]["delegate"] for t in report["targets"]} == {"xnnpack", "cpu", "gpu"}
        assert Path(report["config"]["logs"]).is_dir()
        assert (fake.out_dir / f"adb_{adb_harness._safe(serial)}.md").is_file()
    calls = fake.calls()
    shell = [c for c in calls if "shell" in c]
    assert sum(1 for c in shell if "--use_nnapi=true" in c[-1]) == 2 * 2  # devices x models, once each
    assert any(c[-1].startswith("taskset f8 ") for c in shell) and any(c[-1].startswith("taskset f0 ") for c in shell)
    assert [c[1] for c in calls if c[-1] == "rm -rf /data/local/tmp/edgekit_bench"] == [S23, ONEPLUS]
    assert not any((fake.root / "fs" / s / "data/local/tmp/edgekit_bench").exists() for s in (S23, ONEPLUS))
    assert "NNAPI delegate rejected" in err


def test_no_adb_on_path(fake, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert fake.run() == 1
    assert "adb: adb not found (not on PATH). install Android SDK platform-tools" in capsys.readouterr().err


def test_no_device(fake, capsys):
    fake.scenario(devices="devices_none.txt")
    assert fake.run() == 1
    assert "no Android device connected" in capsys.readouterr().err


def test_unauthorized_offline_devices_are_reported_and_others_run(fake, capsys):
    fake.scenario(devices="devices_mixed.txt", **{S23: device(runs=RUNS[-1:])})
    assert fake.run("--delegates", "xnnpack", "--threads", "1", "--repeats", "1") == 1
    err = capsys.readouterr().err
    assert ("0123456789ABCDEF: device is unauthorized. unlock the phone and accept the "
            "'Allow USB debugging?' prompt") in err
    assert "emulator-5554: device is offline" in err and "ZY22FAKE01: device is no permissions" in err
    assert fake.report(S23)["status"] == "complete"


def test_only_unusable_devices(fake, capsys):
    fake.scenario(devices="devices_mixed.txt")
    assert fake.run("--serial", "0123456789ABCDEF") == 1
    assert "no usable device: 0123456789ABCDEF: device is unauthorized" in capsys.readouterr().err
    assert fake.run("--serial", "NOPE") == 1
    assert "device(s) NOPE not connected" in capsys.readouterr().err


@pytest.mark.parametrize("fixture, expected", [("error_unauthorized.txt", "device is unauthorized"),
                                               ("error_offline.txt", "device is offline")])
def test_device_lost_after_listing(fake, fixture, expected):
    fake.scenario(devices="devices_two.txt", **{S23: device(state_error=(FIXTURES / "adb" / fixture).read_text()),
                                                ONEPLUS: device(runs=RUNS[-1:])})
    assert fake.run("--delegates", "xnnpack", "--threads", "1", "--repeats", "1") == 1
    report = fake.report(S23)
    assert report["status"] == "failed" and expected in report["errors"][0]["error"]
    assert fake.report(ONEPLUS)["status"] == "complete"  # the other device still ran


def test_push_failure(fake):
    push_error = (FIXTURES / "adb" / "error_push.txt").read_text()
    fake.scenario(devices="devices_two.txt", **{S23: device(push_error=push_error), ONEPLUS: device(runs=RUNS[-1:])})
    assert fake.run("--serial", S23) == 1
    report = fake.report(S23)
    assert report["status"] == "failed"
    assert "push failed: adb: error: failed to copy" in report["errors"][0]["error"]
    assert "Read-only file system" in report["errors"][0]["error"]
    assert ["-s", S23, "shell", "rm -rf /data/local/tmp/edgekit_bench"] in fake.calls()  # cleaned up anyway


@pytest.mark.parametrize("fixture, status", [("not_executable.txt", 126), ("link_error.txt", 1)])
def test_binary_cannot_execute_stops_the_device(fake, fixture, status):
    fake.scenario(**{S23: device(runs=[{"fixture": fixture, "status": status}])})
    assert fake.run("--serial", S23) == 1
    report = fake.report(S23)
    assert report["status"] == "failed" and len(report["errors"]) == 1
    assert "benchmark_model cannot execute on this device" in report["errors"][0]["error"]
    assert sum(1 for c in fake.calls() if "EDGEKIT_EXIT" in c[-1]) == 1  # no further runs


def test_crash_and_malformed_output_fail_one_run_only(fake):
    runs = [{"match": ["emotion__shipped", "--num_threads=2"], "fixture": "crash.txt", "status": 139},
            {"match": ["detector__short_range"], "fixture": "malformed_stats.txt"}, {"fixture": "xnnpack_new.txt"}]
    fake.scenario(**{S23: device(runs=runs)})
    assert fake.run("--serial", S23, "--delegates", "xnnpack", "--threads", "1", "2", "--repeats", "1") == 1
    report = fake.report(S23)
    errors = {e["what"]: e["error"] for e in report["errors"]}
    crashed = errors["emotion/shipped, xnnpack, 2 thread(s), repeat 1"]
    assert "benchmark_model crashed (signal 11): Segmentation fault" in crashed
    malformed = errors["detector/short_range_fp32, xnnpack, 1 thread(s), repeat 1"]
    assert "detector__short_range_fp32_xnnpack_t1_r1.log:7: statistic curr is not a finite number" in malformed
    assert latency(report, model="emotion/shipped", threads=1, repeat="all")  # the other runs are there
    assert report["status"] == "partial"


def test_bad_local_binary_and_bad_options(fake, tmp_path, capsys):
    fake.scenario(**{S23: device()})
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\n")
    assert adb_harness.main(["--benchmark-binary", str(script), "--out-dir", str(fake.out_dir)]) == 1
    assert "is not an ELF executable" in capsys.readouterr().err
    assert adb_harness.main(["--benchmark-binary", str(tmp_path / "missing")]) == 1
    assert "benchmark_model binary not found" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        fake.run("--delegates", "hexagon")
    assert exc.value.code == 2 and "unsupported delegate(s) hexagon" in capsys.readouterr().err
    assert fake.run("--model", "emotion/x=/nonexistent.tflite", "--delegates", "xnnpack", "--threads", "1",
                    "--repeats", "1", "--serial", S23) == 1
    assert "model file not found" in fake.report(S23)["errors"][0]["error"]


def test_interrupted_run_keeps_partial_results(fake):
    fake.scenario(**{S23: device(runs=RUNS[-1:], interrupt_at_run=3)})
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "benchmarks.adb", *fake.args("--serial", S23, "--delegates", "xnnpack",
                                                                              "--threads", "1", "2", "--repeats", "1")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
                          # A shell started in the background ignores SIGINT and children inherit
                          # that; give the harness the default so Ctrl-C reaches it as in a terminal.
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert proc.returncode == 130, proc.stderr
    report = fake.report(S23)
    assert validate_report(report) == [] and report["status"] == "interrupted"
    assert len(latency(report, repeat=1)) == 2  # the two runs before Ctrl-C are kept
    assert "interrupted" in report["errors"][-1]["error"]
    calls = fake.calls()
    assert sum(1 for c in calls if "EDGEKIT_EXIT" in c[-1]) == 3  # SIGINT arrived during the third run
    assert ["-s", S23, "shell", "rm -rf /data/local/tmp/edgekit_bench"] in calls  # cleaned up anyway



# ---------------------------------------------------------------------- battery sampling (#24)
XNNPACK_AVG_MS = 1.19261  # xnnpack_new.txt: Inference (avg) 1192.61 us
# battery_log_discharge_*: 3.87 V, 440/460 mA alternating in the 20 samples after init (the one before is left out);
# battery_log_idle_*: 3.88 V, all 21 samples count: 11 x 310 mA and 10 x 290 mA
LOAD_MW, IDLE_MW = 3.87 * 450, 3.88 * (11 * 310 + 10 * 290) / 21


def battery(power="battery_log_discharge_uA.txt", idle="battery_log_idle_uA.txt",
            files="-412000\n3870000\nDischarging\n",
            state=("dumpsys_battery_discharging.txt",), screen="dumpsys_power_screen_on.txt"):
    return {"battery_files": files, "power": power, "idle_power": idle, "battery_state": list(state), "screen": screen}


def energy(report, name="energy.per_inference", **params):
    return {(m["params"]["repeat"], m["params"].get("basis")): m["stats"]["value"] for m in report["measurements"]
            if m["name"] == name and all(m["params"].get(k) == v for k, v in params.items())}


@pytest.mark.parametrize("serial, power, idle, unit, sign", [
    (S23, "battery_log_discharge_uA.txt", "battery_log_idle_uA.txt", "uA", "negative (kernel ABI)"),
    (ONEPLUS, "battery_log_discharge_mA.txt", "battery_log_idle_mA.txt", "mA", "positive (vendor convention)"),
])
def test_battery_energy_per_inference_on_battery(fake, serial, power, idle, unit, sign):
    fake.scenario(**{serial: device(runs=RUNS[-1:], **battery(power, idle))})
    assert fake.run("--serial", serial, *XNNPACK_1T, "--repeats", "2") == 0
    report = fake.report(serial)
    assert validate_report(report) == [] and report["device"]["battery"]["available"] is True
    got = energy(report, model="emotion/shipped")
    gross, above = LOAD_MW * XNNPACK_AVG_MS / 1e3, (LOAD_MW - IDLE_MW) * XNNPACK_AVG_MS / 1e3
    for repeat in (1, 2, "all"):  # the two repeats and their median
        assert got[(repeat, "gross")] == pytest.approx(gross, abs=1e-4)
        assert got[(repeat, "above_idle")] == pytest.approx(above, abs=1e-4)
    per_joule = energy(report, "energy.inferences_per_joule", model="emotion/shipped")
    assert per_joule[(1, None)] == pytest.approx(1000 / gross, rel=1e-3)
    runs = report["energy"]["runs"]
    assert runs[0]["what"] == "idle baseline" and runs[0]["energy"] == "measured"
    run = next(r for r in runs if r["what"] == "emotion/shipped, xnnpack, 1 thread(s), repeat 1")
    assert (run["screen"], run["plugged"], run["current_unit"], run["discharge_sign"]) == ("on", False, unit, sign)
    assert run["samples"] == 21 and run["window_samples"] == 20  # the sample before init + first inference is left out
    assert any(t.startswith("mJ per inference on battery, screen on") for t in report["energy"]["measurable"])
    md = (fake.out_dir / f"adb_{adb_harness._safe(serial)}.md").read_text()
    assert "## Energy" in md and "Power source: battery fuel gauge" in md
    assert report["artifacts"]["energy_chart"] == f"adb_{adb_harness._safe(serial)}_energy.png"
    benchmark = [c[-1] for c in fake.calls() if "benchmark_model --graph" in c[-1]]
    assert benchmark and all("read c < $B/current_now" in c and c.endswith("(exit $e); echo EDGEKIT_EXIT=$?")
                             for c in benchmark)


@pytest.mark.parametrize("scenario, reason", [
    (battery(power="battery_log_charging.txt", idle="battery_log_charging.txt",
             state=("dumpsys_battery_usb_charging.txt",)),
     "plugged in (dumpsys battery lists a power source): measure on battery over Wi-Fi ADB"),
    ({}, "battery power: cannot read /sys/class/power_supply/battery/current_now and voltage_now: "
         "cat: /sys/class/power_supply/battery/current_now: Permission denied"),
])
def test_battery_not_measurable_is_said_not_faked(fake, scenario, reason):
    fake.scenario(**{S23: device(runs=RUNS[-1:], **scenario)})
    assert fake.run("--serial", S23, *XNNPACK_1T, "--repeats", "1") == 0
    report = fake.report(S23)
    assert validate_report(report) == [] and report["status"] == "complete"
    assert latency(report, model="emotion/shipped", repeat="all")  # latency is still measured
    assert not [m for m in report["measurements"] if m["name"].startswith("energy.")]
    assert any(reason in t for t in report["energy"]["not_measurable"]), report["energy"]["not_measurable"]
    if "Wi-Fi" in reason:
        assert "adb tcpip 5555" in (fake.out_dir / "adb_R5CT1234ABC.md").read_text()
        assert all(r["plugged"] is True for r in report["energy"]["runs"])
    else:
        assert not any("/proc/uptime" in c[-1] for c in fake.calls())  # nothing sampled


class StubAdb:
    """``shell`` answers from a dict of fixtures (no process): enough for BatteryMonitor.probe/state."""

    def __init__(self, battery_state, files="-412000\n3870000\nDischarging\n"):
        self.battery_state, self.files = battery_state, files

    def shell(self, serial, command):
        if command.startswith("cat "):
            return self.files
        energy_dir = FIXTURES / "energy"
        return ((energy_dir / self.battery_state).read_text() + "---EDGEKIT-STATE---\n"
                + (energy_dir / "dumpsys_power_screen_off.txt").read_text())


@pytest.mark.parametrize("log, state, reason", [
    ("battery_log_unplugged_midrun.txt", "dumpsys_battery_discharging.txt",
     "charging state changed during the run Charging/Discharging (kernel status), not Discharging: measure on battery"),
    ("battery_log_charging.txt", "dumpsys_battery_frozen.txt", "charging state was Charging (kernel status)"),
    ("battery_log_nonsense.txt", "dumpsys_battery_discharging.txt",
     "voltage_now median 0 is neither 2.5-10 V in uV nor in mV: nonsense, no power computed"),
    ("battery_log_voltage_glitches.txt", "dumpsys_battery_discharging.txt",
     "5 of 20 voltage_now readings outside 2.5-10 V: no power computed"),
])
def test_battery_runs_that_cannot_be_measured(log, state, reason):
    from benchmarks.battery import BatteryMonitor

    monitor = BatteryMonitor()
    info = monitor.probe(StubAdb(state), S23)
    assert info["available"] and info["screen"] == "off"
    measured = monitor.measure("run 1", (FIXTURES / "energy" / log).read_text(), log,
                               monitor.state(StubAdb(state), S23),
                               0.012, 1.19, {"model": "m"})
    assert measured == [] and monitor.energy.runs[-1]["energy"].startswith(reason)
    if "frozen" in state:  # the frozen dump says "not plugged": the kernel status from the sampler decides
        assert info["plugged"] is None
        assert any("UPDATES STOPPED" in t for t in monitor.energy.not_measurable)
    unreadable = BatteryMonitor()
    assert unreadable.probe(StubAdb(state, files="0\n"), S23)["available"] is False


def test_device_unplugged_mid_run_keeps_earlier_energy(fake):
    runs = [{"match": ["emotion__shipped"], "disconnect": True}, *RUNS[-1:]]  # the detector runs first
    fake.scenario(**{S23: device(runs=runs, **battery())})
    assert fake.run("--serial", S23, *XNNPACK_1T, "--repeats", "1") == 1
    report = fake.report(S23)
    assert report["status"] == "partial"
    lost = "lost the connection during `/data/local/tmp/edgekit_bench/benchmark_model --graph="
    assert lost in report["errors"][-1]["error"]
    assert energy(report, model="detector/short_range_fp32")[(1, "gross")] > 0  # the run before the cable came out
    assert [r["what"] for r in report["energy"]["runs"]] == [
        "idle baseline", "detector/short_range_fp32, xnnpack, 1 thread(s), repeat 1"]
    assert ["-s", S23, "shell", "rm -rf /data/local/tmp/edgekit_bench"] in fake.calls()


# ---------------------------------------------------------------------- review fixes (#24)
# battery_log_idle_screen_off_uA: screen-off idle, 3.88 V, 11 x 15,000 uA and 10 x 16,000 uA (about 15.5 mA)
IDLE_OFF_MW = 3.88 * (11 * 15000 + 10 * 16000) / 21 / 1e3


def test_units_are_decided_once_per_device_so_a_screen_off_idle_is_not_read_as_milliamps(fake):
    """Alone, a ~15,000 uA idle reads as mA (15 A: 58 W). The unit comes from the load run (440-460,000:
    uA) and is applied to the idle baseline too, so the energy above idle exists and is right."""
    fake.scenario(**{S23: device(runs=RUNS[-1:], **battery(idle="battery_log_idle_screen_off_uA.txt"))})
    assert fake.run("--serial", S23, *XNNPACK_1T, "--repeats", "1") == 0
    report = fake.report(S23)
    assert not any("below the idle baseline" in t for t in report["energy"]["not_measurable"])
    got = energy(report, model="emotion/shipped")
    assert got[(1, "above_idle")] == pytest.approx((LOAD_MW - IDLE_OFF_MW) * XNNPACK_AVG_MS / 1e3, abs=1e-4)
    idle = report["energy"]["runs"][0]
    assert idle["what"] == "idle baseline" and idle["energy"] == "measured", idle
    assert (idle["current_unit"], idle["units_from"]) == ("uA",
                                                          "detector/short_range_fp32, xnnpack, 1 thread(s), repeat 1")
    assert "alone this run's current would read as mA" in idle["units_note"]
    assert any(t.startswith("battery units decided once for this device from detector/short_range_fp32")
               for t in report["energy"]["measurable"])


def test_physically_implausible_power_is_refused():
    from benchmarks.battery import analyse
    from benchmarks.parsers.battery import parse_battery_log

    log = parse_battery_log((FIXTURES / "energy" / "battery_log_idle_screen_off_uA.txt").read_text())
    alone = analyse(log, 0.0, False)  # no device units: the magnitude rule says mA, i.e. about 60 W
    assert alone.mean_mw is None
    assert alone.reason.startswith("mean battery power 60048 mW (current_now in mA, voltage_now in uV) "
                                   "is outside the 5 mW - 30 W a phone draws")


def test_sampler_logs_failed_reads_instead_of_the_previous_value(tmp_path):
    """The real sampler loop (sh) against a battery folder whose current_now disappears mid-run: the
    samples after that are '?', counted, and the run (half its reads failed) gets no number."""
    from benchmarks.battery import BatteryMonitor, analyse
    from benchmarks.parsers.battery import parse_battery_log

    folder = tmp_path / "battery"
    folder.mkdir()
    for name, value in (("current_now", "-450000"), ("voltage_now", "3870000"), ("status", "Discharging")):
        (folder / name).write_text(value + "\n")
    monitor = BatteryMonitor(str(folder), interval_s=0.05, max_s=30)
    log_path = tmp_path / "run.power"
    command = monitor.wrap('sleep 0.6; rm "$B/current_now"; sleep 0.6', str(log_path))
    assert subprocess.run(["sh", "-c", command], timeout=60).returncode == 0
    log = parse_battery_log(log_path.read_text())
    power = analyse(log, 0.0, False)
    assert power.mean_mw is None, f"stale current_now values were taken as samples: {power.mean_mw:.0f} mW"
    assert "reads of the battery files failed inside the timed runs (current_now unreadable" in power.reason
    assert log.samples and log.failed and {what for _, what in log.failed} == {"current_now"}
    assert max(t for t, *_ in log.samples) < min(t for t, _ in log.failed)  # no stale value after the file went


def test_a_few_failed_reads_are_left_out_and_said():
    from benchmarks.battery import BatteryMonitor

    samples = [f"S {10 + i / 10:.2f} -450000 3870000 Discharging" for i in range(20)]
    samples[5] = "S 10.50 ? 3870000 Discharging"
    text = "\n".join(["START 10.00", *samples, "END 12.00"]) + "\n"
    monitor = BatteryMonitor()
    monitor.probe(StubAdb("dumpsys_battery_discharging.txt"), S23)
    measured = monitor.measure("run 1", text, "log", {"plugged": False, "screen": "on"}, 0.0, 1.0, {"model": "m"})
    assert measured and measured[0].stats["value"] == pytest.approx(3.87 * 450)
    assert (monitor.energy.runs[-1]["window_failed_reads"], monitor.energy.runs[-1]["window_samples"]) == (1, 19)
    assert "run 1: 1 of 20 reads of the battery files failed and were left out" in monitor.energy.not_measurable


def test_probe_reads_numbers_like_the_parsers():
    from benchmarks.battery import BatteryMonitor

    # int() would take "1_000" (and non-ASCII digits); the parsers' to_float does not
    assert BatteryMonitor().probe(StubAdb("dumpsys_battery_discharging.txt", files="1_000\n3870000\nDischarging\n"),
                                  S23)["available"] is False


def test_energy_chart_plots_the_table_rows_only(fake, monkeypatch, tmp_path):
    """Two repeats: the chart has one point per configuration (repeat=all), like the Markdown table; a
    configuration without a combined row keeps its per-repeat rows in both."""
    import matplotlib.axes

    from benchmarks import chart
    from benchmarks.report import to_markdown

    fake.scenario(**{S23: device(runs=RUNS[-1:], **battery())})
    assert fake.run("--serial", S23, *XNNPACK_1T, "--repeats", "2") == 0
    report = fake.report(S23)
    points = []
    real = matplotlib.axes.Axes.scatter

    def spy(self, x, y, *args, **kwargs):
        if not isinstance(x, list) or x:
            points.append((x, y))
        return real(self, x, y, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "scatter", spy)
    assert chart.write_energy_chart(report, tmp_path / "energy.png")
    table = [line for line in to_markdown(report).splitlines() if line.startswith("| model=")
             and "(inference)" in line]
    assert len(points) == len(table) == 2  # emotion/shipped and the detector, repeat=all
    assert all("repeat=all" in line for line in table)
    from benchmarks.report import energy_table_rows

    # the detector's combined energy rows removed: its two per-repeat rows stand in, the emotion model keeps one
    report["measurements"] = [m for m in report["measurements"] if not (
        m["name"].startswith("energy.") and m["params"].get("repeat") == "all"
        and m["params"]["model"] == "detector/short_range_fp32")]
    shown = [(r["params"]["model"], r["params"]["repeat"]) for r in energy_table_rows(report)]
    assert sorted(shown, key=str) == sorted([("emotion/shipped", "all"), ("detector/short_range_fp32", 1),
                                             ("detector/short_range_fp32", 2)], key=str)
    points.clear()
    assert chart.write_energy_chart(report, tmp_path / "energy2.png") and len(points) == 3
