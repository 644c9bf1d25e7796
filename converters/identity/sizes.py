"""Cost of the embedder at several input sizes: training seconds per batch and INT8 latency.

``python -m converters.identity sizes`` writes ``<report_dir>/input_sizes.json``; it is how the
input size was picked under a fixed CPU budget (accuracy per epoch is in the training report).
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Dict, Sequence

import numpy as np


def measure(size: int, steps: int = 8, batch: int = 64, classes: int = 3311,
            latency_runs: int = 200) -> Dict[str, float]:
    import tempfile

    from converters.core import quantize
    from converters.core.pruning import count_macs, count_params
    from converters.identity.model import EmbedderSpec, build_embedder, training_model
    from converters.identity.report import latency_ms
    from converters.core.tfenv import keras

    embedder = build_embedder(EmbedderSpec(input_size=size))
    model = training_model(embedder, classes, 30.0, 0.25)
    model.compile(optimizer=keras.optimizers.AdamW(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (batch, size, size, 3)).astype(np.float32)
    y = rng.integers(0, classes, batch).astype(np.int32)
    model.train_on_batch([x, y], y)  # trace
    t0 = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch([x, y], y)
    step_s = (time.perf_counter() - t0) / steps
    images = rng.integers(0, 256, (64, size, size, 3), dtype=np.uint8)
    rep = lambda: ([img[None].astype(np.float32)] for img in images)  # noqa: E731
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.tflite"
        path.write_bytes(quantize.to_tflite(embedder, rep, int8=True))
        latency = latency_ms(path, size, latency_runs)
    return {"input_size": size, "params": count_params(embedder), "macs": count_macs(embedder),
            "train_seconds_per_batch_of_64": step_s, "int8_latency_ms_1_thread": latency["median"]}


def run(sizes: Sequence[int], report_dir: Path) -> dict:
    from converters.core.report import host_info

    rows = [measure(s) for s in sizes]
    doc = {"host": host_info(),
           "note": "untrained full-width embedders (before pruning); random inputs; machine shared",
           "sizes": rows}
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "input_sizes.json").write_text(json.dumps(doc, indent=1) + "\n")
    return doc
