"""Accuracy, per-class recall, macro-F1, confusion matrices, size/MACs and LiteRT latency."""
from __future__ import annotations

import statistics
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Union

import numpy as np

from converters.core.pixels import runtime_inputs
from converters.core.timing import time_calls
from converters.emotion.data import EMOTIONS

#: XNNPACK's limit on a quantized op's requantization scale (it refuses the graph above it).
XNNPACK_MAX_REQUANT_SCALE = 256.0


def classification_metrics(labels: np.ndarray, probs: np.ndarray, names: Sequence[str] = EMOTIONS) -> dict:
    """Majority accuracy, per-class recall/precision, macro-F1 and the confusion matrix (rows = truth)."""
    labels = np.asarray(labels)
    pred = np.asarray(probs).argmax(axis=1)
    k = len(names)
    cm = np.zeros((k, k), np.int64)
    np.add.at(cm, (labels, pred), 1)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    tp = np.diag(cm)
    recall = np.divide(tp, support, out=np.zeros(k), where=support > 0)
    precision = np.divide(tp, predicted, out=np.zeros(k), where=predicted > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(k), where=(precision + recall) > 0)
    present = support > 0
    return {
        "n": int(labels.size),
        "accuracy": float((pred == labels).mean()),
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "per_class_recall": {n: float(r) for n, r in zip(names, recall)},
        "per_class_precision": {n: float(p) for n, p in zip(names, precision)},
        "support": {n: int(s) for n, s in zip(names, support)},
        "confusion": cm.tolist(),
    }


def predict_keras(model, images: np.ndarray, input_size: int, batch_size: int = 256) -> np.ndarray:
    """Probabilities of a Keras model on ``[N, h, w]`` gray uint8 crops (see :func:`runtime_inputs`)."""
    x = runtime_inputs(images, input_size).astype(np.float32)
    return np.concatenate([model(x[i:i + batch_size], training=False).numpy() for i in range(0, len(x), batch_size)])


class TFLiteRunner:
    """One ``.tflite`` on LiteRT: float or quantized I/O handled with the tensors' own parameters."""

    def __init__(self, model: Union[bytes, str, Path], num_threads: int = 1, xnnpack: bool = True) -> None:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        content = Path(model).read_bytes() if isinstance(model, (str, Path)) else model
        #: False when the built-in kernels run the graph: asked for, or XNNPACK refused it (reported as such).
        self.xnnpack = xnnpack
        builtin = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        self.interpreter = Interpreter(model_content=content, num_threads=num_threads,
                                       **({} if xnnpack else {"experimental_op_resolver_type": builtin}))
        try:
            self.interpreter.allocate_tensors()
        except RuntimeError as exc:
            if not xnnpack or "XNNPACK" not in str(exc):
                raise
            self.xnnpack = False
            self.interpreter = Interpreter(model_content=content, num_threads=num_threads,
                                           experimental_op_resolver_type=builtin)
            self.interpreter.allocate_tensors()
        self.inp = self.interpreter.get_input_details()[0]
        self.out = self.interpreter.get_output_details()[0]
        self.size = int(self.inp["shape"][1])

    def _quantize(self, x: np.ndarray) -> np.ndarray:
        dtype = self.inp["dtype"]
        if dtype == np.float32:
            return x.astype(np.float32)
        scale, zero = self.inp["quantization"]
        info = np.iinfo(dtype)
        return np.clip(np.round(x / scale + zero), info.min, info.max).astype(dtype)

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        """Probabilities for one ``[S, S, 3]`` RGB 0..255 image."""
        self.interpreter.set_tensor(self.inp["index"], self._quantize(rgb[None]))
        self.interpreter.invoke()
        y = self.interpreter.get_tensor(self.out["index"])[0]
        if self.out["dtype"] != np.float32:
            scale, zero = self.out["quantization"]
            y = (y.astype(np.float32) - zero) * scale
        return y

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Probabilities on ``[N, h, w]`` gray uint8 crops (see :func:`runtime_inputs`)."""
        return self.predict_pixels(runtime_inputs(images, self.size))

    def predict_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """Probabilities on ``[N, S, S, 3]`` RGB 0..255 model inputs."""
        return np.stack([self(x.astype(np.float32)) for x in pixels])

    def noise_flip_rate(self, pixels: np.ndarray, probs: np.ndarray, seed: int = 0) -> float:
        """Share of inputs whose top-1 class (``probs``: :meth:`predict_pixels` of ``pixels``)
        changes when every pixel moves by a random -1, 0 or +1 (uint8 rounding differences between
        two resize implementations are of this size)."""
        noisy = np.clip(pixels.astype(np.int16) + np.random.default_rng(seed).integers(-1, 2, pixels.shape), 0, 255)
        return 1.0 - agreement(probs, self.predict_pixels(noisy))

    def delegate_partitions(self) -> int:
        """Number of subgraphs handed to a delegate (XNNPACK); 1 = the whole graph runs in XNNPACK."""
        return sum(op["op_name"] == "DELEGATE" for op in self.interpreter._get_ops_details())

    def xnnpack_requant_violations(self) -> List[Dict[str, object]]:
        """Quantized conv / fully-connected ops XNNPACK refuses: requantization scale
        ``input_scale * weight_scale / output_scale`` must be below 256. A huge value means the
        op's output is (almost) constant on the calibration set, e.g. a squeeze-excite layer whose
        ReLU never fires, so the converter gave its output a minimal range."""
        tensors = {t["index"]: t for t in self.interpreter.get_tensor_details()}
        found = []
        for op in self.interpreter._get_ops_details():
            if op["op_name"] not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
                continue
            scales = [tensors[i]["quantization_parameters"]["scales"] for i in (op["inputs"][0], op["inputs"][1],
                                                                                op["outputs"][0])]
            if any(len(sc) == 0 for sc in scales):
                continue  # float op
            worst = float(np.max(scales[0][0] * scales[1] / scales[2][0]))
            if worst >= XNNPACK_MAX_REQUANT_SCALE:
                name = tensors[op["outputs"][0]]["name"].split(";")[0]
                found.append({"op": int(op["index"]), "type": op["op_name"], "output": name, "requant_scale": worst,
                              "output_range": float(scales[2][0] * 255.0)})
        return found

    def _ready_for_timing(self) -> None:
        x = np.random.default_rng(0).integers(0, 256, self.inp["shape"]).astype(np.float32)
        self.interpreter.set_tensor(self.inp["index"], self._quantize(x))

    def invoke_times_ms(self, runs: int) -> List[float]:
        """``runs`` timed ``invoke()`` calls on a fixed random input of the right dtype."""
        self._ready_for_timing()
        return time_calls(self.interpreter.invoke, runs)


def latency_summary(times: Sequence[float]) -> Dict[str, float]:
    """Median / p90 / mean of invoke times in milliseconds, and how many there were."""
    return {"median_ms": statistics.median(times), "p90_ms": float(np.percentile(times, 90)),
            "mean_ms": statistics.fmean(times), "runs": len(times)}


def interleaved_latency(runners: Mapping[str, TFLiteRunner], rounds: int = 10, runs: int = 200,
                        warmup: int = 100) -> Dict[str, Dict[str, float]]:
    """Latency of several models measured in one run: ``rounds`` rounds, each timing ``runs``
    invokes of every model in turn, pooled per model. A shared VM's speed drifts by tens of
    percent within minutes; interleaving spreads that drift over all models alike, so the
    ratios between them mean something."""
    for runner in runners.values():
        runner.invoke_times_ms(warmup)
    pooled: Dict[str, List[float]] = {name: [] for name in runners}
    for _ in range(rounds):
        for name, runner in runners.items():
            pooled[name] += runner.invoke_times_ms(runs)
    return {name: {**latency_summary(times), "rounds": rounds} for name, times in pooled.items()}


def runtime_predict(model_path: Path, image_paths: Iterable[Path]) -> np.ndarray:
    """Probabilities through the real runtime: ``edgekit.EmotionClassifier.predict`` on image files."""
    from edgekit.emotion import EmotionClassifier

    clf = EmotionClassifier(str(model_path), num_threads=1)
    order = list(clf.labels)
    if order != list(EMOTIONS):
        raise ValueError(f"runtime labels {order} differ from FER+ order {list(EMOTIONS)}")
    return np.stack([np.asarray([clf.predict(str(p)).probs[n] for n in order]) for p in image_paths])


def plot_confusion(cm: Sequence[Sequence[int]], title: str, path: Path, names: Sequence[str] = EMOTIONS) -> None:
    """Row-normalised confusion matrix PNG with counts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.asarray(cm, np.float64)
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("majority label")
    ax.set_title(title, fontsize=10)
    for i in range(len(names)):
        for j in range(len(names)):
            ax.text(j, i, f"{int(cm[i, j])}", ha="center", va="center", fontsize=7,
                    color="white" if norm[i, j] > 0.5 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046, label="recall fraction")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of rows whose top-1 class is the same."""
    return float((np.asarray(a).argmax(axis=1) == np.asarray(b).argmax(axis=1)).mean())


def model_stats(keras_model=None, tflite_path: Optional[Path] = None) -> dict:
    """Params and MACs of a Keras model, file size of a ``.tflite``."""
    from converters.core import pruning

    out: dict = {}
    if keras_model is not None:
        out.update(params=pruning.count_params(keras_model), macs=pruning.count_macs(keras_model))
    if tflite_path is not None:
        out["file_bytes"] = Path(tflite_path).stat().st_size
    return out
