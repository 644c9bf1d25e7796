"""The latency probe builds, prunes, converts and times the toolchain's own MobileNetV3 per input size."""
from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="the toolchain needs the [train] extra")

from converters.emotion import latency_probe  # noqa: E402


@pytest.mark.slow
def test_measure_prunes_and_times_each_input_size():
    faces = np.random.default_rng(0).integers(0, 255, (40, 48, 48), dtype=np.uint8)
    (row,) = latency_probe.measure(["small"], [32], faces, rounds=1, runs=5)
    u, p = row["unpruned"], row["pruned"]
    assert row["input_size"] == 32 and row["prune_divisor"] == 8
    assert p["macs"] < u["macs"] and p["file_bytes"] < u["file_bytes"]
    assert u["median_ms"] > 0 and p["median_ms"] > 0
    assert row["pruned_vs_unpruned"] == pytest.approx(p["median_ms"] / u["median_ms"])


def test_markdown_joins_latency_with_the_gpu_probe_accuracy(tmp_path):
    probe = {"base": {"arch": "resnet18", "input_size": 48},
             "variants": {"a": {"changes": {"arch": "mobilenet_v3_small", "input_size": 96}, "val_acc": 0.83},
                          "b": {"changes": {"arch": "mobilenet_v3_small", "input_size": 96, "teacher_labels": "t"},
                                "val_acc": 0.84},
                          "c": {"changes": {}, "val_acc": 0.88}}}
    (tmp_path / "probe_x.json").write_text(json.dumps(probe))
    acc = latency_probe.probe_accuracies(tmp_path)
    assert acc == {"small_96": 0.84}  # the best MobileNetV3 run per size; ResNet rows are not MobileNetV3
    side = {"macs": 2e6, "file_bytes": 500_000, "median_ms": 0.4, "p90_ms": 0.5, "xnnpack_partitions": 1}
    row = {"variant": "small", "input_size": 96, "unpruned": {**side, "median_ms": 0.8}, "pruned": side,
           "pruned_vs_unpruned": 0.5}
    md = latency_probe.markdown([row], {"cpu": "cpu", "cpu_count": 2, "git_sha": "abc", "date_utc": "d"}, "cmd", acc)
    assert "| MobileNetV3-Small | 96 | 2.0 M / 2.0 M | 0.800 | 0.400 | 0.500 | 0.50 MB | 84.00% |" in md
