"""Grad-CAM on the Keras float emotion model for the evaluation report (#22 item 4).

For each FER2013Valid face with a majority label (3,417), Grad-CAM of its *true* class on the last
feature map (the input of global average pooling): the class's pre-softmax logit is differentiated
with ``tf.GradientTape`` with respect to that map, the gradients are averaged over the cells into
one weight per channel, and the map is the ReLU of the weighted sum of channels (Selvaraju et al.,
2017). Inputs are the faces as the runtime crops them (:mod:`converters.emotion.aligned`: detector +
aligner at the model's input size, the crops the evaluation scores), fed as the evaluation feeds the
Keras model (:func:`converters.emotion.evaluate.runtime_inputs`).

Each face's map is divided by its own maximum (a face whose map is all zero adds zeros), then
averaged per true class. The page shows, per class, the mean map (upsampled bilinearly from the
feature map's cells) over the class's mean aligned face; with ``--runtime-cam`` a second row shows
the same average of ``edgekit.explaining.CamHead`` (the shipped INT8 model's logit decomposition, ReLU
and per-face max normalisation as here) and the JSON compares the two.

For this head (pooling -> dense + ReLU -> dense) Grad-CAM's weights are the same at every cell, so
Grad-CAM is the ReLU of the runtime CAM's cell contributions computed on the float model; the two
rows differ by the model (float unpruned vs pruned INT8), not by the method.

    python -m converters.emotion.gradcam --model runs/emotion128/float/model.h5 \\
        --data ../shared/data/ferplus --report-dir reports/emotion --runtime-cam emotion
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from converters.core.keras_io import load_model
from converters.core.report import replace_marked_section
from converters.core.tfenv import keras, tf

EMOTIONS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt")


def gradcam_model(model: Any) -> Any:
    """``model`` -> a Keras model with outputs ``[last feature map, pre-softmax logits]``.

    The feature map is the input of the last ``GlobalAveragePooling2D``; the logits are the input
    of a final ``Softmax`` layer, or the output of the last layer when it has no softmax.
    """
    pools = [layer for layer in model.layers if type(layer).__name__ == "GlobalAveragePooling2D"]
    if not pools:
        raise ValueError("the model has no GlobalAveragePooling2D layer: Grad-CAM has no feature map to read")
    last = model.layers[-1]
    if type(last).__name__ == "Softmax" or getattr(getattr(last, "activation", None), "__name__", "") == "softmax":
        if type(last).__name__ != "Softmax":
            raise ValueError("the last layer applies softmax inside a Dense layer: split it to read the logits")
        logits = last.input
    else:
        logits = last.output
    return keras.Model(model.inputs, [pools[-1].input, logits], name=f"{model.name}_gradcam")


def grad_cam(grad_model: Any, x: np.ndarray, classes: Sequence[int],
             batch_size: int = 64) -> Tuple[np.ndarray, np.ndarray]:
    """Grad-CAM maps ``(N, h, w)`` (ReLU'd, in logit units) of class ``classes[i]`` for image ``x[i]``,
    and the logits ``(N, K)``."""
    classes = np.asarray(classes, np.int64)
    maps, logits_all = [], []
    for i in range(0, len(x), batch_size):
        xb = tf.convert_to_tensor(np.asarray(x[i:i + batch_size], np.float32))
        cb = tf.convert_to_tensor(classes[i:i + batch_size])
        with tf.GradientTape() as tape:
            fmap, logits = grad_model(xb, training=False)
            # each face's score depends only on its own map, so the sum's gradient is per face
            score = tf.reduce_sum(tf.gather(logits, cb, batch_dims=1))
        grads = tape.gradient(score, fmap)
        weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)  # one weight per channel
        cam = tf.nn.relu(tf.reduce_sum(weights * fmap, axis=-1))
        maps.append(cam.numpy())
        logits_all.append(logits.numpy())
    return np.concatenate(maps), np.concatenate(logits_all)


def normalised(maps: np.ndarray) -> np.ndarray:
    """Each map divided by its own maximum (all-zero maps stay zero)."""
    peak = maps.reshape(len(maps), -1).max(axis=1).reshape(-1, 1, 1)
    return np.where(peak > 0, maps / np.maximum(peak, 1e-12), 0.0)


def class_means(maps: np.ndarray, labels: np.ndarray, classes: int = len(EMOTIONS)) -> np.ndarray:
    """``(classes, h, w)`` mean of the normalised maps per label (NaN for a label with no face)."""
    norm = normalised(maps)
    return np.stack([norm[labels == c].mean(axis=0) if (labels == c).any() else np.full(maps.shape[1:], np.nan)
                     for c in range(classes)])


def runtime_cam_maps(model: str, pixels: np.ndarray, classes: Sequence[int]) -> Tuple[np.ndarray, Dict[str, Any]]:
    """``edgekit.explaining.CamHead`` cell contributions of ``classes[i]`` on ``pixels[i]`` (one view,
    no flip), ReLU'd, and how the head ran."""
    from edgekit.explaining import CamHead

    head = CamHead.for_model(model, 1)
    out = []
    t0 = time.perf_counter()
    for x, k in zip(pixels, classes):
        cells, _ = head.contributions(np.ascontiguousarray(x), int(k))
        out.append(np.maximum(cells, 0.0))
    info = {"model": model, "xnnpack": head.xnnpack,
            "ms_per_face": round((time.perf_counter() - t0) * 1e3 / len(pixels), 3)}
    head.close()
    return np.stack(out), info


def upsample(cells: np.ndarray, size: int) -> np.ndarray:
    import cv2

    return cv2.resize(cells.astype(np.float32), (size, size), interpolation=cv2.INTER_LINEAR)


def template_regions(size: int) -> np.ndarray:
    """Face region index per pixel of a ``size`` crop: the reference mesh placed on the alignment
    template's eyes (what every aligned crop is registered to)."""
    from edgekit.alignment import DEFAULT_TEMPLATE
    from edgekit.explaining import region_map
    from edgekit.facemesh import LEFT_EYE, RIGHT_EYE
    from edgekit.transfer.geometry import load_neutral_mesh

    ref = load_neutral_mesh()[:, :2]
    src = np.array([ref[list(RIGHT_EYE)].mean(axis=0), ref[list(LEFT_EYE)].mean(axis=0)])
    dst = np.array([[DEFAULT_TEMPLATE.image_left_eye[0] * size, DEFAULT_TEMPLATE.image_left_eye[1] * size],
                    [DEFAULT_TEMPLATE.image_right_eye[0] * size, DEFAULT_TEMPLATE.image_right_eye[1] * size]])
    scale = np.linalg.norm(dst[1] - dst[0]) / np.linalg.norm(src[1] - src[0])
    outline = (ref - src.mean(axis=0)) * scale + dst.mean(axis=0)
    return region_map(outline, (size, size))


def top_regions(mean_map: np.ndarray, regions: np.ndarray, n: int = 3) -> List[Dict[str, Any]]:
    from edgekit.explaining import OUTSIDE, rank_regions

    ranked = [r for r in rank_regions(upsample(np.nan_to_num(mean_map), regions.shape[0]), regions)
              if r["region"] != OUTSIDE]
    ranked.sort(key=lambda r: -r["share"])
    return [{"region": r["region"], "share": r["share"]} for r in ranked[:n]]


def plot_page(mean_faces: np.ndarray, rows: Dict[str, np.ndarray], counts: Sequence[int], path: Path,
              title: str) -> None:
    """One row per map kind (``rows``: name -> ``(8, h, w)``), one column per class."""
    from matplotlib import cm
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    size = mean_faces.shape[1]
    fig = Figure(figsize=(16, 2.3 * len(rows) + 0.6), dpi=100)
    FigureCanvasAgg(fig)
    axes = np.asarray(fig.subplots(len(rows), len(EMOTIONS))).reshape(len(rows), len(EMOTIONS))
    for r, (name, means) in enumerate(rows.items()):
        for c, emotion in enumerate(EMOTIONS):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            face = mean_faces[c] / 255.0
            heat = upsample(np.nan_to_num(means[c]), size)
            peak = float(heat.max()) or 1.0
            colours = cm.jet(heat / peak)[..., :3]
            alpha = 0.55 * np.clip(heat / peak, 0, 1)[..., None]
            ax.imshow(face[..., None] * (1 - alpha) + colours * alpha)
            cells = means.shape[1]
            for k in range(1, cells):  # the feature map's cell borders
                ax.axhline(k * size / cells - 0.5, color="white", linewidth=0.3, alpha=0.5)
                ax.axvline(k * size / cells - 0.5, color="white", linewidth=0.3, alpha=0.5)
            if r == 0:
                ax.set_title(f"{emotion} (n={counts[c]})", fontsize=9)
            if c == 0:
                ax.set_ylabel(name, fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    fig.savefig(str(path), format="png")




def markdown(report: Dict[str, Any]) -> str:
    lines = ["## Grad-CAM: what the float model looks at, per class (FER2013Valid)", "",
             f"Written by `{report['command']}`. Grad-CAM "
             "(`tf.GradientTape` on the last feature map, "
             f"{report['feature_map']} cells of {report['cell_px']} px on the {report['input_size']}-px aligned crop) "
             "of "
             f"`{report['model']}` for each face's true class, on the {report['faces']} majority faces as the "
             "evaluation crops them; each face's map is scaled to its maximum, then averaged per class over the "
             f"class's mean face. The float model scores {report['float_accuracy']:.2%} on these inputs.", "",
             "![Grad-CAM per class](gradcam.png)", "",
             "| class | faces | Grad-CAM top regions (share of the mean map) |"
             + (" runtime CAM top regions | r (cells) | same top cell |" if "runtime_cam" in report else ""),
             "|---|---|---|" + ("---|---|---|" if "runtime_cam" in report else "")]
    for e in EMOTIONS:
        c = report["classes"][e]
        row = f"| {e} | {c['faces']} | " + ", ".join(f"{r['region']} {r['share']:.0%}" for r in c["top_regions"]) + " |"
        if "runtime_cam" in report:
            rc = report["runtime_cam"]["classes"][e]
            row += (" " + ", ".join(f"{r['region']} {r['share']:.0%}" for r in rc["top_regions"]) +
                    f" | {rc['r_with_gradcam']:.2f} | {'yes' if rc['same_top_cell'] else 'no'} |")
        lines.append(row)
    if "runtime_cam" in report:
        rc = report["runtime_cam"]
        lines += ["", "Second row: the runtime CAM (`edgekit.explaining.CamHead` on "
                  f"`{rc['model']}`, the shipped pruned INT8 model, "
                  f"{'XNNPACK' if rc['xnnpack'] else 'built-in kernels'}, one view), ReLU'd and averaged "
                  f"the same way. Per-class mean maps correlate with Grad-CAM's at r = {rc['r_mean']:.2f} on average "
                  f"over the {report['feature_map']} cells; per face the top cell is the same on "
                  f"{rc['same_top_cell_per_face']:.1%} of faces. For this head Grad-CAM's weights are equal at every "
                  "cell, so it is the ReLU of the runtime CAM's decomposition: the rows differ by model (float "
                  "unpruned vs pruned INT8), not by method."]
    peaks = [tuple(int(v) for v in np.unravel_index(np.nanargmax(np.asarray(report["classes"][e]["mean_map"])),
                                                   np.asarray(report["classes"][e]["mean_map"]).shape))
             for e in EMOTIONS if report["classes"][e]["faces"]]
    common = max(set(peaks), key=peaks.count)
    lines += ["", f"{peaks.count(common)} of {len(peaks)} classes peak in the same cell (row {common[0] + 1}, column "
              f"{common[1] + 1} from the top left); the classes differ mainly in how far the mean map spreads, so "
              "the page says more about where the model's receptive fields sit than about which facial feature "
              "decides each class."]
    lines += ["", f"How coarse: {report['feature_map']} cells, each with a receptive field spanning most of the face; "
              "the bilinear upsampling draws smooth blobs but there are only "
              f"{int(np.prod([int(v) for v in report['feature_map'].split(' x ')]))} values per face."]
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=Path("runs/emotion128/float/model.h5"))
    parser.add_argument("--data", type=Path, default=Path("../shared/data/ferplus"), help="FER+ root")
    parser.add_argument("--input-size", type=int, default=128)
    parser.add_argument("--report-dir", type=Path, default=Path("reports/emotion"))
    parser.add_argument("--runtime-cam", default="", help="also average edgekit's CamHead on this emotion model")
    parser.add_argument("--limit", type=int, default=0, help="at most this many faces (0: all)")
    args = parser.parse_args(argv)
    t0 = time.time()
    from converters.emotion.aligned import aligned_set
    from converters.emotion.data import load_ferplus_split
    from converters.emotion.evaluate import classification_metrics, runtime_inputs

    model = load_model(args.model)
    val = aligned_set(load_ferplus_split(args.data / "FER2013Valid", progress=False), args.input_size, progress=False)
    labels = val.majority()
    keep = np.flatnonzero(labels >= 0)
    if args.limit:
        keep = keep[:args.limit]
    labels = labels[keep]
    pixels = runtime_inputs(val.images[keep], args.input_size)
    maps, logits = grad_cam(gradcam_model(model), pixels.astype(np.float32), labels)
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    metrics = classification_metrics(labels, exp / exp.sum(axis=1, keepdims=True))
    means = class_means(maps, labels)
    mean_faces = np.stack([val.images[keep][labels == c].mean(axis=0) if (labels == c).any()
                           else np.zeros(val.images.shape[1:]) for c in range(len(EMOTIONS))])
    regions = template_regions(args.input_size)
    h, w = maps.shape[1:]
    argv_shown = argv if argv is not None else sys.argv[1:]
    report: Dict[str, Any] = {
        "command": "python -m converters.emotion.gradcam " + " ".join(str(a) for a in argv_shown),
        "model": str(args.model), "input_size": args.input_size, "faces": int(len(labels)),
        "feature_map": f"{h} x {w}", "cell_px": args.input_size // h,
        "float_accuracy": float(metrics["accuracy"]), "float_macro_f1": float(metrics["macro_f1"]),
        "normalisation": "each face's map / its maximum, then the mean per true class",
        "classes": {e: {"faces": int((labels == c).sum()), "mean_map": np.round(means[c], 4).tolist(),
                        "top_regions": top_regions(means[c], regions)} for c, e in enumerate(EMOTIONS)},
    }
    rows = {"Grad-CAM (float Keras)": means}
    if args.runtime_cam:
        cams, info = runtime_cam_maps(args.runtime_cam, pixels, labels)
        rmeans = class_means(cams, labels)
        flat = lambda m: m.reshape(len(m), -1)  # noqa: E731
        per_face_same = float(np.mean(flat(maps).argmax(1) == flat(cams).argmax(1)))
        classes = {}
        for c, e in enumerate(EMOTIONS):
            a, b = means[c].ravel(), rmeans[c].ravel()
            classes[e] = {"mean_map": np.round(rmeans[c], 4).tolist(), "top_regions": top_regions(rmeans[c], regions),
                          "r_with_gradcam": float(np.corrcoef(a, b)[0, 1]),
                          "same_top_cell": bool(a.argmax() == b.argmax())}
        report["runtime_cam"] = {**info, "classes": classes, "same_top_cell_per_face": per_face_same,
                                 "r_mean": float(np.nanmean([v["r_with_gradcam"] for v in classes.values()]))}
        rows["runtime CAM (INT8)"] = rmeans
    args.report_dir.mkdir(parents=True, exist_ok=True)
    plot_page(mean_faces, rows, [report["classes"][e]["faces"] for e in EMOTIONS], args.report_dir / "gradcam.png",
              f"FER2013Valid ({len(labels)} majority faces): mean Grad-CAM of the true class per class "
              f"(each face scaled to its max), over the class's mean aligned face; {h} x {w} cells")
    report["seconds"] = round(time.time() - t0, 1)
    (args.report_dir / "gradcam.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    replace_marked_section(args.report_dir / "README.md", "gradcam", markdown(report))
    shown = {k: v for k, v in report.items() if k != "classes"}
    if "runtime_cam" in shown:
        shown["runtime_cam"] = {k: v for k, v in shown["runtime_cam"].items() if k != "classes"}
    print(json.dumps(shown, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
