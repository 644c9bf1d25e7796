"""Parsers of benchmark_model and adb outputs, on recorded-format logs (tests/fixtures/bench/)."""
from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.errors import ToolOutputError
from benchmarks.parsers import adb, benchmark_model as bm

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bench"


def parse(name: str) -> bm.BenchmarkModelOutput:
    path = FIXTURES / "benchmark_model" / name
    return bm.parse(path.read_text(), str(path))


def test_new_output_form_with_prefixes_percentiles_and_memory():
    out = parse("xnnpack_new.txt")
    assert out.complete and not out.failed and not out.rejected
    assert (out.init_us, out.first_inference_us, out.warmup_avg_us, out.inference_avg_us) == (9876, 2311, 1213.4,
                                                                                              1192.61)
    assert out.warmup.count == 412 and out.warmup.median == 1190
    inf = out.inference
    assert (inf.count, inf.first, inf.curr, inf.min, inf.max, inf.avg, inf.std) == (837, 1201, 1176, 1098, 1893,
                                                                                    1192.61, 71)
    assert (inf.p5, inf.median, inf.p95) == (1115, 1180, 1305)
    assert (out.memory_init_mb, out.memory_overall_mb, out.memory_form, out.memory_peak_mb) == (3.01172, 4.48828,
                                                                                                "footprint_delta",
                                                                                                10.2969)
    assert [(d.replaced, d.total, d.kernel, d.partitions) for d in out.delegations] == [(64, 64,
                                                                                         "TfLiteXNNPackDelegate", 1)]
    assert out.delegates == [{"name": "XNNPACK", "executed": "completely", "kernels": None}]
    assert not out.partial_delegation and out.model_size_mb == 1.00422


def test_old_output_form_without_prefix_or_percentiles():
    out = parse("cpu_old.txt")
    assert out.inference.count == 196 and out.inference.median is None and out.inference.avg == 5107.85
    assert (out.memory_init_mb, out.memory_overall_mb, out.memory_form, out.memory_peak_mb) == (1.26562, 6.66406,
                                                                                                "peak_footprint", None)


def test_scientific_notation_and_partial_delegation():
    out = parse("gpu_partial.txt")
    assert out.init_us == 1.45151e06 and out.warmup.first == 11147 and out.warmup.max == 12036
    assert out.inference.max == 10433
    assert out.partial_delegation
    assert [(d.replaced, d.total, d.kernel, d.partitions, d.partial) for d in out.delegations] == [
        (4, 31, "TfLiteGpuDelegateV2", 2, True)]
    assert out.delegates == [{"name": "GPU", "executed": "partially", "kernels": 2}]
    assert any("not supported by GPU delegate" in e for e in out.errors)  # reported, yet the run succeeded
    assert not out.failed and not out.rejected


def test_all_same_form_and_older_replacing_form():
    out = parse("all_same_warmup.txt")
    assert (out.warmup.count, out.warmup.min, out.warmup.max, out.warmup.std, out.warmup.median) == (1, 905463, 905463,
                                                                                                     0, 905463)
    assert (out.inference.count, out.inference.avg) == (2, 904000)
    old = bm.parse("INFO: Replacing 31 node(s) with delegate (TfLiteGpuDelegateV2) node, yielding 1 partitions.\n")
    assert [(d.replaced, d.total, d.partial) for d in old.delegations] == [(31, None, False)]
    assert bm.parse_stats("count=0") is None


def test_delegate_rejection_and_fallback_are_reported():
    nnapi = parse("nnapi_rejected.txt")
    assert nnapi.failed and not nnapi.complete
    assert nnapi.rejected == [{"delegate": "NNAPI", "line": "Failed to apply NNAPI delegate."}]
    assert "Node number 71 (TfLiteNnapiDelegate) failed to prepare." in nnapi.errors
    fallback = parse("gpu_not_applied.txt")
    assert fallback.complete and fallback.rejected[0]["delegate"] == "GPU"
    assert fallback.delegates == [{"name": "GPU", "executed": "not", "kernels": 0}]
    unsupported = bm.parse("GPU acceleration is unsupported on this platform.\n")
    assert unsupported.rejected[0]["delegate"] == "GPU" and not unsupported.failed


def test_incomplete_outputs():
    crash, truncated = parse("crash.txt"), parse("truncated.txt")
    assert not crash.complete and crash.inference is None
    assert not truncated.complete and truncated.warmup.count == 412 and truncated.inference is None
    crlf = parse("crlf.txt")
    assert crlf.complete and crlf.inference.avg == 1301.5 and crlf.warmup.count == 20


@pytest.mark.parametrize("text, line, reason", [
    ("INFO: ok\nINFO: count=837 first=1201 curr=11#6 min=1 max=2 avg=1 std=0\n", 2,
     "statistic curr is not a finite number"),
    ("count=5 first=1 curr=1 min=1 max=2 avg=1 std=0 wat=3\n", 1, "unknown statistic 'wat'"),
    ("\n\ncount=5 first=1 garbage\n", 3, "malformed run statistics"),
    ("count=inf first=1 curr=1 min=1 max=2 avg=1 std=0\n", 1, "statistic count is not a run count"),
    ("count=5 first=1 curr=1 min=1 max=2 avg=nan std=0\n", 1, "statistic avg is not a finite number"),
    ("INFO: Overall peak memory footprint (MB) via periodic monitoring: inf\n", 1,
     "peak memory is not a finite number"),
    ("Inference timings in us: Init: 1, First inference: 2, Warmup (avg): x, Inference (avg): 4\n", 1,
     "malformed timings line"),
    ("x\nPeak memory footprint (MB): init=1.0 overall=\n", 2, "malformed memory footprint line"),
    ("Replacing some node(s) with delegate (X) node\n", 1, "malformed delegation line"),
])
def test_malformed_lines_name_the_line(text, line, reason):
    with pytest.raises(ToolOutputError) as exc:
        bm.parse(text, "run.log")
    assert exc.value.line_number == line and str(exc.value).startswith(f"run.log:{line}: {reason}")


def test_malformed_fixture_names_its_line():
    with pytest.raises(ToolOutputError,
                       match=r"malformed_stats.txt:7: statistic curr is not a finite number: 'count=837"):
        parse("malformed_stats.txt")


def test_adb_devices_getprop_thermal_cpufreq():
    devices = adb.parse_devices((FIXTURES / "adb" / "devices_mixed.txt").read_text())
    assert [(d.serial, d.state, d.usable) for d in devices] == [
        ("R5CT1234ABC", "device", True), ("0123456789ABCDEF", "unauthorized", False),
        ("emulator-5554", "offline", False), ("ZY22FAKE01", "no permissions", False)]
    assert devices[0].attributes == {"usb": "1-1", "product": "dm3qxxx", "model": "SM_S918B", "device": "dm3q",
                                     "transport_id": "1"}
    assert adb.parse_devices((FIXTURES / "adb" / "devices_none.txt").read_text()) == []
    with pytest.raises(ToolOutputError, match=r"adb devices -l:3: device line without a state: 'R5CT9999XYZ'"):
        adb.parse_devices((FIXTURES / "adb" / "devices_malformed.txt").read_text())
    props = adb.parse_getprop((FIXTURES / "adb" / "getprop_s23.txt").read_text())
    assert (props["ro.soc.model"], props["ro.board.platform"], props["ro.product.cpu.abi"]) == ("SM8550", "kalama",
                                                                                                "arm64-v8a")
    thermal = adb.parse_thermal((FIXTURES / "adb" / "thermal_moderate.txt").read_text())
    assert (thermal["status"], thermal["status_name"]) == (2, "moderate")
    assert thermal["temperatures_c"]["cpu-0-0-0"] == 41.5  # current HAL value, not the cached one
    assert adb.parse_thermal((FIXTURES / "adb" / "thermal_old_android.txt").read_text())["available"] is False
    with pytest.raises(ToolOutputError, match="unknown thermal status"):
        adb.parse_thermal("Thermal Status: 9\n")
    freqs = adb.parse_cpu_max_freqs((FIXTURES / "adb" / "cpufreq_s23.txt").read_text())
    assert adb.big_core_mask(freqs) == "f8" and adb.big_core_mask({0: 1, 1: 1}) == "3" and adb.big_core_mask({}) is None
    with pytest.raises(ToolOutputError, match="cpuinfo_max_freq:1"):
        adb.parse_cpu_max_freqs("cpu0 fast\n")


def test_dumpsys_battery_screen_and_battery_log():
    from benchmarks.battery import detect_current_unit, detect_voltage_unit
    from benchmarks.parsers import battery

    energy = FIXTURES / "energy"
    on_battery = battery.parse_dumpsys_battery((energy / "dumpsys_battery_discharging.txt").read_text())
    assert on_battery["sources"] == {"ac": False, "usb": False, "wireless": False, "dock": False}
    got = (on_battery["status_name"], on_battery["plugged"], on_battery["voltage_mv"], on_battery["temperature_c"])
    assert got == ("discharging", False, 3871, 29.6)
    usb = battery.parse_dumpsys_battery((energy / "dumpsys_battery_usb_charging.txt").read_text())
    assert usb["plugged"] and usb["sources"]["usb"] and usb["status_name"] == "charging"
    frozen = battery.parse_dumpsys_battery((energy / "dumpsys_battery_frozen.txt").read_text())
    assert frozen["updates_stopped"] and not frozen["plugged"]  # what a frozen dump claims, not the hardware
    with pytest.raises(ToolOutputError, match=r"dumpsys battery:3: unknown battery status"):
        battery.parse_dumpsys_battery("Current Battery Service state:\n  AC powered: false\n  status: 9\n")
    with pytest.raises(ToolOutputError, match="USB powered is neither true nor false"):
        battery.parse_dumpsys_battery("Current Battery Service state:\n  USB powered: maybe\n")
    with pytest.raises(ToolOutputError, match="no 'Current Battery Service state:' header"):
        battery.parse_dumpsys_battery("Can't find service: battery\n")
    assert battery.parse_screen((energy / "dumpsys_power_screen_on.txt").read_text())["screen"] == "on"
    assert battery.parse_screen("  mWakefulness=Asleep\n") == {"display": None, "wakefulness": "Asleep",
                                                               "screen": "off"}
    assert battery.parse_screen("")["screen"] is None
    log = battery.parse_battery_log("START 5.10\nS 5.20 -450000 3870000 Discharging\n"
                                    "sh: can't open x: Permission denied\n"
                                    "S 5.30 -451000 3871000 Not charging\nEND 5.40\n")
    assert (log.start, log.end, len(log.samples), log.samples[1][3]) == (5.1, 5.4, 2, "Not charging")
    assert log.problems == ["sh: can't open x: Permission denied"]
    failed = battery.parse_battery_log("START 1\nS 1.1 ? 3870000 Discharging\nS 1.2 -450000 ? ?\nEND 2\n")
    assert failed.samples == [] and failed.failed == [(1.1, "current_now"), (1.2, "voltage_now, status")]
    assert detect_voltage_unit([3870000, 3880000])[0] == "uV" and detect_voltage_unit([3870])[0] == "mV"
    assert detect_voltage_unit([12])[0] is None
    assert detect_current_unit([-450000])[0] == "uA" and detect_current_unit([450, 460])[0] == "mA"
    assert detect_current_unit([0, 0])[1].startswith("current_now reads 0") and detect_current_unit([3])[0] is None


def test_parsers_package_docstring_lists_every_parser():
    import pkgutil

    from benchmarks import parsers

    for module in pkgutil.iter_modules(parsers.__path__):
        assert f":mod:`.{module.name}`" in parsers.__doc__, module.name
