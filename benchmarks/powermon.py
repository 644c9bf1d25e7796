"""Jetson power rails sampled from the INA3221 monitors, with ``tegrastats`` as the fallback.

Where the rails are (``base`` is ``/`` on a board, a fake tree in tests):

- JetPack 5+ (upstream ``ina3221`` hwmon driver): ``/sys/bus/i2c/drivers/ina3221/*/hwmon/hwmon*/``
  with ``in[123]_label`` (rail name), ``in[123]_input`` (bus voltage, mV) and ``curr[123]_input``
  (current, mA), per the kernel's Documentation/hwmon/ina3221.rst. ``in[456]_input`` are shunt
  voltages (uV), channel 7 the sum of shunts, and rails labelled ``NC`` are not connected: all
  three are left out. Power = mV x mA / 1000 (mW).
- JetPack 4 (NVIDIA's ``ina3221x`` IIO driver): ``/sys/bus/i2c/drivers/ina3221x/*/iio:device*/``
  with ``rail_name_N`` and ``in_power N_input`` (mW).

:class:`RailSampler` reads every rail every ``interval_s`` (default 50 ms, >= 10 Hz required) in
a thread; readings that cannot be physical (bus voltage outside 0..26 V, the INA3221's range;
current beyond 20 A; non-numbers) are dropped and counted, never averaged in; a rail whose files
vanish mid-run (sensor or board gone) is marked lost from then on. :class:`TegrastatsTrace` gives
the same interface from ``tegrastats`` lines (current mW per rail, one line per interval) when no
INA3221 file can be read.
"""
from __future__ import annotations

import errno
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

HWMON_GLOBS = ("sys/bus/i2c/drivers/ina3221/*/hwmon/hwmon*",)
IIO_GLOBS = ("sys/bus/i2c/drivers/ina3221x/*/iio:device*",)
#: Rails that carry the whole module's input power (Orin Nano/NX and Xavier NX: VDD_IN; Nano/TX2: POM_5V_IN).
TOTAL_RAILS = ("VDD_IN", "POM_5V_IN")
#: Rails each board is known to expose (tegrastats and INA3221 labels; tests/fixtures/bench/jetson/).
EXPECTED_RAILS = {
    "Orin Nano": ("VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"),
    "Orin NX": ("VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"),
    "AGX Orin": ("VDD_GPU_SOC", "VDD_CPU_CV", "VIN_SYS_5V0"),
    "Xavier NX": ("VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"),
    "Nano": ("POM_5V_IN", "POM_5V_GPU", "POM_5V_CPU"),
}
MAX_BUS_MV = 26000.0  # INA3221 bus voltage range 0..26 V
MAX_CURRENT_MA = 20000.0
MAX_POWER_MW = 100000.0
#: The issue's floor: slower sampling misses the bursts of a 1-10 ms inference.
MIN_RATE_HZ = 10.0


@dataclass
class Rail:
    name: str
    kind: str  # "hwmon" (mV x mA) or "iio" (mW)
    paths: Tuple[Path, ...]  # hwmon: (voltage, current); iio: (power,)


class SensorError(Exception):
    """A reading that is not a physical value (the message says which)."""


def _read_text(path: Path) -> str:
    return path.read_text()


def _read_number(path: Path) -> float:
    text = _read_text(path).strip().split(" ")[0]  # some drivers append a unit ("32760 ma")
    try:
        return float(int(text))
    except ValueError:
        raise SensorError(f"{path.name} reads {text[:40]!r}, not an integer") from None


def read_rail(rail: Rail) -> float:
    """Power in mW; raises SensorError for nonsense, OSError when the files cannot be read."""
    if rail.kind == "iio":
        mw = _read_number(rail.paths[0])
        if not 0 <= mw <= MAX_POWER_MW:
            raise SensorError(f"{rail.paths[0].name} = {mw:g} mW is outside 0..{MAX_POWER_MW:g}")
        return mw
    mv, ma = _read_number(rail.paths[0]), _read_number(rail.paths[1])
    if not 0 < mv <= MAX_BUS_MV:
        raise SensorError(f"{rail.paths[0].name} = {mv:g} mV is outside the INA3221 bus range (0, {MAX_BUS_MV:g}]")
    if abs(ma) > MAX_CURRENT_MA:
        raise SensorError(f"{rail.paths[1].name} = {ma:g} mA is beyond {MAX_CURRENT_MA:g} mA")
    return max(mv * ma / 1000.0, 0.0)  # a bidirectional monitor reads a few mA below 0 at rest


def _hwmon_rails(folder: Path) -> List[Rail]:
    rails = []
    for n in (1, 2, 3):
        label = folder / f"in{n}_label"
        if not label.is_file():
            continue
        name = label.read_text().strip()
        if not name or name == "NC" or name.startswith("NC"):
            continue
        rails.append(Rail(name, "hwmon", (folder / f"in{n}_input", folder / f"curr{n}_input")))
    return rails


def _iio_rails(folder: Path) -> List[Rail]:
    rails = []
    for label in sorted(folder.glob("rail_name_*")):
        n = label.name.rsplit("_", 1)[-1]
        name = label.read_text().strip()
        if name and not name.startswith("NC"):
            rails.append(Rail(name, "iio", (folder / f"in_power{n}_input",)))
    return rails


def discover(base: Path = Path("/")) -> Tuple[List[Rail], List[str]]:
    """Readable rails and, for each rail or folder that is not, one sentence saying why."""
    rails: List[Rail] = []
    problems: List[str] = []
    folders = [(p, _hwmon_rails) for g in HWMON_GLOBS for p in sorted(base.glob(g))]
    folders += [(p, _iio_rails) for g in IIO_GLOBS for p in sorted(base.glob(g))]
    for folder, finder in folders:
        try:
            found = finder(folder)
        except OSError as exc:
            problems.append(f"{folder}: cannot list the rails ({exc.strerror or exc})")
            continue
        for rail in found:
            missing = [p.name for p in rail.paths if not p.exists()]
            if missing:
                problems.append(f"rail {rail.name} ({folder}): {', '.join(missing)} missing")
                continue
            try:
                read_rail(rail)
            except PermissionError:
                problems.append(f"rail {rail.name}: permission denied reading {folder} "
                                "(run as root: SUDO=1 jetson/run.sh)")
                continue
            except SensorError as exc:
                problems.append(f"rail {rail.name}: first reading is not physical ({exc}); "
                                "kept, nonsense readings are dropped")
            except OSError as exc:
                problems.append(f"rail {rail.name}: {exc.strerror or exc} reading {folder}")
                continue
            if any(r.name == rail.name for r in rails):
                continue  # the same rail listed by two drivers
            rails.append(rail)
    if not folders:
        problems.append(f"no INA3221 monitor under {base / 'sys/bus/i2c/drivers'} (ina3221 hwmon or ina3221x IIO)")
    return rails, problems


@dataclass
class Trace:
    """Power readings over time: ``times`` (monotonic s) and, per rail, ``(time, mW)`` pairs."""

    source: str
    readings: Dict[str, List[Tuple[float, float]]] = field(default_factory=dict)
    dropped: Dict[str, List[str]] = field(default_factory=dict)  # rail -> why readings were dropped
    lost: Dict[str, str] = field(default_factory=dict)  # rail -> why it stopped (files gone mid-run)
    ticks: List[float] = field(default_factory=list)

    def window(self, t0: float, t1: float) -> Dict[str, List[float]]:
        """mW readings of each rail with ``t0 <= time <= t1``."""
        return {rail: [mw for t, mw in pairs if t0 <= t <= t1] for rail, pairs in self.readings.items()}

    def dropped_in(self, rail: str) -> int:
        return len(self.dropped.get(rail, []))

    def rate_hz(self, t0: float, t1: float) -> Optional[float]:
        n = sum(1 for t in self.ticks if t0 <= t <= t1)
        return n / (t1 - t0) if t1 > t0 and n else None


class RailSampler:
    """``with RailSampler(rails, 0.05) as s: ...``; then ``s.trace``. A thread reads every rail per tick."""

    def __init__(self, rails: Sequence[Rail], interval_s: float = 0.05) -> None:
        self.rails = list(rails)
        self.interval_s = interval_s
        self.trace = Trace("INA3221 " + ("/".join(sorted({r.kind for r in rails})) or "none"),
                           {r.name: [] for r in rails})
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def sample_once(self) -> None:
        now = time.monotonic()
        self.trace.ticks.append(now)
        for rail in self.rails:
            if rail.name in self.trace.lost:
                continue
            try:
                self.trace.readings[rail.name].append((now, read_rail(rail)))
            except SensorError as exc:
                self.trace.dropped.setdefault(rail.name, []).append(str(exc))
            except OSError as exc:
                gone = exc.errno in (errno.ENOENT, errno.ENODEV, errno.ENXIO, errno.EIO)
                self.trace.lost[rail.name] = (f"{'sensor gone' if gone else 'read failed'} mid-run "
                                              f"({exc.strerror or exc}); readings after that are missing")

    def _run(self) -> None:
        next_tick = time.monotonic()
        while not self._stop.is_set():
            self.sample_once()
            next_tick += self.interval_s
            self._stop.wait(max(0.0, next_tick - time.monotonic()))

    def __enter__(self) -> "RailSampler":
        self._thread = threading.Thread(target=self._run, daemon=True, name="rail-sampler")
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def tegrastats_trace(times: Sequence[float], samples: Sequence[object]) -> Trace:
    """A :class:`Trace` of the tegrastats rails (current mW of each ``NAME cur/avg`` field)."""
    trace = Trace("tegrastats")
    for t, sample in zip(times, samples):
        trace.ticks.append(t)
        for rail, (current, _avg) in getattr(sample, "power_mw").items():
            if 0 <= current <= MAX_POWER_MW:
                trace.readings.setdefault(rail, []).append((t, current))
            else:
                trace.dropped.setdefault(rail, []).append(f"{current:g} mW is outside 0..{MAX_POWER_MW:g}")
    return trace


def total_rail(rails: Sequence[str]) -> Optional[str]:
    """The rail that carries the module's whole input, if the board has one."""
    return next((r for r in TOTAL_RAILS if r in rails), None)


def expected_rails(board: Optional[str]) -> Tuple[str, ...]:
    """Rails this board model should expose (longest matching name wins; empty when unknown)."""
    if not board:
        return ()
    matches = [k for k in EXPECTED_RAILS if k in board]
    return EXPECTED_RAILS[max(matches, key=len)] if matches else ()
