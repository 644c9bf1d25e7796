"""Energy per frame / per inference from mean power, shared by the Jetson sweep and the ADB harness.

For a workload that ran ``seconds_per_item`` per frame (or inference) while the supply delivered
``load_mw`` on average, and an idle baseline ``idle_mw`` measured just before on the same device::

    energy.per_<item>  basis=gross       load_mw x seconds_per_item          (mJ)
    energy.per_<item>  basis=above_idle  (load_mw - idle_mw) x seconds_per_item   (mJ)
    energy.<item>s_per_joule             1000 / gross mJ                     (<item>s/J)

Gross is what the battery or the power supply pays; above idle is what the work itself adds on
top of the board or phone doing nothing (screen, RAM refresh, regulators). Means are arithmetic
over readings taken at a fixed interval. :class:`Measurability` collects, for the report, what
could and could not be measured and why (``report["energy"]``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .report import Measurement

#: Fewest readings a mean power is computed from.
MIN_READINGS = 3
ITEMS = ("frame", "inference")


def mean_power(readings: Sequence[float]) -> Optional[float]:
    """Mean of the readings (mW), None with fewer than :data:`MIN_READINGS`."""
    return float(np.mean(readings)) if len(readings) >= MIN_READINGS else None


def energy_measurements(load_mw: float, idle_mw: Optional[float], seconds_per_item: float, item: str,
                        **params: Any) -> Tuple[List[Measurement], List[str]]:
    """``energy.per_<item>`` (gross and, with a baseline, above idle) and ``energy.<item>s_per_joule``;
    plus sentences for what could not be computed (no baseline, load below the baseline)."""
    if item not in ITEMS:
        raise ValueError(f"item must be one of {ITEMS}, got {item!r}")
    if seconds_per_item <= 0 or load_mw <= 0:
        return [], [f"no energy: {'time per ' + item if seconds_per_item <= 0 else 'mean power'} is not positive"]
    gross = load_mw * seconds_per_item
    out = [Measurement.single(f"energy.per_{item}", "mJ", gross, **params, basis="gross"),
           Measurement.single(f"energy.{item}s_per_joule", f"{item}s/J", 1000.0 / gross, **params)]
    problems = []
    if idle_mw is None:
        problems.append("no idle baseline: energy above idle not computed")
    elif load_mw < idle_mw:
        problems.append(f"mean power under load ({load_mw:.0f} mW) is below the idle baseline ({idle_mw:.0f} mW): "
                        "energy above idle not reported (the baseline drifted or the sensor is too coarse)")
    else:
        out.append(Measurement.single(f"energy.per_{item}", "mJ", (load_mw - idle_mw) * seconds_per_item,
                                      **params, basis="above_idle"))
    return out, problems


@dataclass
class Measurability:
    """What a device let us measure: ``source`` of the power numbers, ``measurable`` and
    ``not_measurable`` sentences (deduplicated, in order), and ``runs`` (per-run state rows)."""

    source: Optional[str] = None
    measurable: List[str] = field(default_factory=list)
    not_measurable: List[str] = field(default_factory=list)
    runs: List[Dict[str, Any]] = field(default_factory=list)

    def yes(self, text: str) -> None:
        if text not in self.measurable:
            self.measurable.append(text)

    def no(self, text: str) -> None:
        if text not in self.not_measurable:
            self.not_measurable.append(text)

    def to_dict(self) -> Dict[str, Any]:
        return {"source": self.source, "measurable": list(self.measurable), "not_measurable": list(self.not_measurable),
                "runs": list(self.runs)}
