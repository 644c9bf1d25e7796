"""See why: which parts of a face made the emotion model say what it said.

:func:`explain` (and ``edgekit explain PHOTO -o out/``) returns, for one face of a photo and the
predicted emotion (or a chosen one):

- a heat map over the face, overlaid on the photo (PNG): how much the emotion's probability
  drops when that part of the face is hidden;
- JSON: the emotion probabilities, the face regions (brows, eyes, nose, cheeks, mouth, chin,
  forehead) ranked by that drop, and the face's action units with their plain-language cues
  (:mod:`edgekit.aus`).

Method ``"occlusion"`` (default, occlusion sensitivity): a square occluder (1/6 of the aligned
crop's side, filled with the crop's mean colour) slides over the crop in steps of 1/8; every
position is classified by the shipped INT8 model exactly as the pipeline runs it (flip
averaging included), so the map explains the model users run, not a float stand-in. A pixel's
value is the mean drop of the emotion's log-odds ``log(p / (1 - p))`` over the occluder
positions covering it (log-odds, because a confident face sits at p = 255/256 where a
probability hardly moves). 8 x 8 positions on the model's crop, two invokes each with flip
averaging (129 invokes).

Method ``"cam"`` (fast, coarse): the class logit decomposed over the cells of the model's last
feature map (:class:`CamHead`: Grad-CAM's weights times the map; the cells' mean plus a
constant gives the INT8 model's class logit within 0.15 logit), read from the INT8 model itself without a
re-export; cells of 32 px (4 x 4 on the shipped model's 128-px crop, 3 x 3 on ``emotion-fast``'s 96 px).
It runs on LiteRT's built-in kernels (XNNPACK cannot keep intermediate tensors); an export
that adds the feature map as a second output would let XNNPACK run it.
"""
from __future__ import annotations

import functools
import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from .errors import ConfigError, InputError, NoFaceError
from .facemesh import FACE_OVAL, LEFT_EYE, LEFT_EYEBROW, LIPS_INNER, LIPS_OUTER, RIGHT_EYE, RIGHT_EYEBROW
from .imageio import ImageSource, load_image
from .options import CreateFromOptions, options_from
from .results import BoundingBox, Detection
from .task_options import ExplainerOptions

METHODS = ("occlusion", "cam")
#: What a heat-map value is, per method.
HEAT_UNITS = {"occlusion": "drop of the emotion's log-odds when hidden",
              "cam": "contribution to the emotion's logit (feature-map cell)"}
#: Occluder side and step as fractions of the aligned crop's side.
PATCH_FRACTION = 1.0 / 6.0
STRIDE_FRACTION = 1.0 / 8.0
#: Probabilities are clipped to [EPS, 1 - EPS] before taking log-odds (the INT8 output moves in
#: steps of 1/256, so a saturated 255/256 still changes visibly in log-odds).
EPS = 1.0 / 512.0
#: Regions ranked in the JSON's ``top_regions``.
TOP_REGIONS = 3
OUTSIDE = "outside the face"

#: Seed landmarks of each named region (the subject's right / left, as MediaPipe names them);
#: every other landmark joins the region of the nearest seed on the neutral reference mesh.
REGION_SEEDS: Dict[str, Tuple[int, ...]] = {
    "forehead": (10, 151, 9, 109, 67, 103, 338, 297, 332, 108, 337, 69, 299),
    "right brow": RIGHT_EYEBROW[0] + RIGHT_EYEBROW[1],
    "left brow": LEFT_EYEBROW[0] + LEFT_EYEBROW[1],
    "right eye": RIGHT_EYE,
    "left eye": LEFT_EYE,
    "nose": (168, 6, 197, 195, 5, 4, 1, 19, 94, 2, 98, 327, 129, 358, 64, 294, 48, 278, 45, 275, 220, 440),
    "right cheek": (117, 118, 50, 101, 205, 187, 123, 116, 36, 206, 147, 213, 192),
    "left cheek": (346, 347, 280, 330, 425, 411, 352, 345, 266, 426, 376, 433, 416),
    "mouth": LIPS_OUTER + LIPS_INNER,
    "chin": (152, 148, 176, 149, 377, 400, 378, 175, 199, 200, 18, 83, 313, 201, 421, 208, 428),
}
REGIONS: Tuple[str, ...] = tuple(REGION_SEEDS)


@functools.lru_cache(maxsize=1)
def landmark_regions() -> np.ndarray:
    """Region index (into :data:`REGIONS`) of every mesh landmark."""
    from .transfer.geometry import load_neutral_mesh

    reference = load_neutral_mesh()[:, :2]
    seeds = [(i, k) for k, name in enumerate(REGIONS) for i in REGION_SEEDS[name]]
    seed_xy = reference[[i for i, _ in seeds]]
    nearest = np.linalg.norm(reference[:, None] - seed_xy[None], axis=2).argmin(axis=1)
    labels = np.array([seeds[n][1] for n in nearest], np.int32)
    for i, k in seeds:  # a seed listed in one region stays there
        labels[i] = k
    labels.flags.writeable = False
    return labels


def region_map(crop_points: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """Per crop pixel: region index (``len(REGIONS)`` = outside the face oval), from landmarks
    already mapped into the crop (``(468, 2)``, pixel-edge convention)."""
    w, h = size
    step = 2 if min(w, h) >= 48 else 1  # nearest landmark on a coarser grid, then upsampled
    ys, xs = np.mgrid[0:h:step, 0:w:step]
    pixels = np.stack([xs.ravel() + step / 2.0, ys.ravel() + step / 2.0], axis=1).astype(np.float32)
    pts = np.asarray(crop_points, np.float32)
    d2 = (pixels[:, None, 0] - pts[None, :, 0]) ** 2 + (pixels[:, None, 1] - pts[None, :, 1]) ** 2
    coarse = landmark_regions()[d2.argmin(axis=1)].reshape(xs.shape)
    labels = np.repeat(np.repeat(coarse, step, axis=0), step, axis=1)[:h, :w]
    oval = np.zeros((h, w), np.uint8)
    cv2.fillPoly(oval, [np.round(pts[list(FACE_OVAL)] - 0.5).astype(np.int32)], 1)
    return np.where(oval > 0, labels, len(REGIONS)).astype(np.int32)


def occluder_positions(size: int, patch: int, stride: int) -> List[int]:
    """Top-left offsets along one axis: every ``stride`` pixels, the last one flush with the edge."""
    starts = list(range(0, max(size - patch, 0) + 1, stride))
    if starts[-1] != max(size - patch, 0):
        starts.append(max(size - patch, 0))
    return starts


def occlusion_map(crop: np.ndarray, score: Callable[[np.ndarray], float], *, patch: int, stride: int,
                  fill: Optional[Sequence[float]] = None) -> Tuple[np.ndarray, int]:
    """Occlusion sensitivity of ``score`` on ``crop`` (HxW[xC] uint8).

    Returns ``(heat, evaluations)``: ``heat[y, x]`` is the mean of ``score(crop) - score(occluded)``
    over the occluder positions covering pixel (x, y) (positive: the pixel supports the score);
    ``fill`` is the occluder's colour (default: the crop's mean colour)."""
    if crop.ndim not in (2, 3) or crop.dtype != np.uint8 or min(crop.shape[:2]) < 1:
        raise InputError("crop must be a non-empty HxW or HxWxC uint8 array", f"crop {crop.shape} {crop.dtype}")
    if not (isinstance(patch, int) and isinstance(stride, int) and 1 <= stride and 1 <= patch <= min(crop.shape[:2])):
        raise ConfigError(f"patch must be in [1, {min(crop.shape[:2])}] and stride >= 1 (integers), "
                          f"got {patch!r}, {stride!r}")
    h, w = crop.shape[:2]
    colour = np.asarray(crop.reshape(h * w, -1).mean(axis=0) if fill is None else fill, np.float64)
    colour = np.clip(np.rint(colour), 0, 255).astype(np.uint8)
    base = float(score(crop))
    total = np.zeros((h, w), np.float64)
    count = np.zeros((h, w), np.float64)
    work = crop.copy()
    n = 1
    for y in occluder_positions(h, patch, stride):
        for x in occluder_positions(w, patch, stride):
            work[y:y + patch, x:x + patch] = colour
            drop = base - float(score(work))
            work[y:y + patch, x:x + patch] = crop[y:y + patch, x:x + patch]
            total[y:y + patch, x:x + patch] += drop
            count[y:y + patch, x:x + patch] += 1
            n += 1
    return (total / np.maximum(count, 1)).astype(np.float32), n


@dataclass
class Explanation:
    """What :func:`explain` found for one face (see the module docstring).

    Attributes:
        emotion: the explained emotion; ``predicted``: the model's top-1.
        probs: the model's probabilities for the face (as the pipeline computes them).
        method: ``"occlusion"`` or ``"cam"``.
        heatmap: ``(H, W)`` float32 over the aligned crop. Occlusion: drop of the emotion's
            log-odds when that pixel is hidden (mean over the occluder positions covering it).
            CAM: the contribution of the pixel's feature-map cell to the emotion's logit.
        crop: the aligned crop the model saw (model colour order).
        matrix: 2x3 frame -> crop transform (OpenCV pixel-centre coordinates).
        regions: every face region with its mean heat and share of the positive heat, largest first.
        aus: the face's action units (None when the mesh could not read them; see ``aus_reason``).
        overlay: the photo (BGR) with the heat map drawn over the face.
    """

    emotion: str
    predicted: str
    probs: Dict[str, float]
    method: str
    heatmap: np.ndarray
    crop: np.ndarray
    matrix: np.ndarray
    box: BoundingBox
    face: int
    regions: List[Dict[str, Any]]
    aus: Any
    overlay: np.ndarray
    patch_px: int
    stride_px: int
    evaluations: int
    flip_average: bool
    landmarks_from: str
    timings_ms: Dict[str, float] = field(default_factory=dict)
    source: Optional[str] = None

    @property
    def top_regions(self) -> List[Dict[str, Any]]:
        return [r for r in self.regions if r["region"] != OUTSIDE][:TOP_REGIONS]

    def cues(self, lang: str = "en") -> List[str]:
        return self.aus.cues(lang) if self.aus is not None else []

    def to_dict(self) -> Dict[str, Any]:
        return {
            "source": self.source, "face": self.face, "box": {k: round(float(v), 2) for k, v in vars(self.box).items()},
            "emotion": self.emotion, "predicted": self.predicted,
            "probs": {k: round(float(v), 4) for k, v in self.probs.items()},
            "method": self.method, "patch_px": self.patch_px, "stride_px": self.stride_px,
            "crop_size": [int(self.crop.shape[1]), int(self.crop.shape[0])], "evaluations": self.evaluations,
            "flip_average": self.flip_average, "landmarks_from": self.landmarks_from,
            "heat_units": HEAT_UNITS[self.method], "max_heat": round(float(self.heatmap.max()), 4),
            "top_regions": self.top_regions, "regions": self.regions,
            "aus": self.aus.to_dict() if self.aus is not None else None, "cues": self.cues(),
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
        }

    def save(self, out_dir: Union[str, "os.PathLike[str]"], stem: str = "face") -> Dict[str, Path]:
        """Write ``<stem>_explain.png`` (the overlay) and ``<stem>_explain.json`` into ``out_dir``
        (atomically, never over the source photo); returns the paths."""
        from .paths import output_folder, write_output

        folder = output_folder(out_dir)
        inputs = [self.source] if self.source else []
        png, js = folder / f"{stem}_explain.png", folder / f"{stem}_explain.json"

        def write_png(tmp: Path) -> None:
            ok, buf = cv2.imencode(".png", self.overlay)
            if not ok:
                raise InputError("PNG encoding failed", png)
            tmp.write_bytes(buf.tobytes())

        write_output(png, write_png, inputs)
        data = dict(self.to_dict(), overlay=png.name)
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        write_output(js, lambda tmp: tmp.write_text(text, encoding="utf-8"), inputs)
        return {"overlay": png, "json": js}


def heat_overlay(image: np.ndarray, heat: np.ndarray, matrix: np.ndarray, *, alpha: float = 0.55) -> np.ndarray:
    """``image`` (BGR) with the positive part of ``heat`` (crop coordinates; ``matrix`` maps
    frame -> crop) drawn as a colour map over the face."""
    h, w = image.shape[:2]
    positive = np.clip(heat, 0, None)
    peak = float(positive.max())
    norm = (positive / peak if peak > 0 else positive).astype(np.float32)
    frame_heat = cv2.warpAffine(norm, matrix, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    colours = cv2.applyColorMap(np.clip(frame_heat * 255, 0, 255).astype(np.uint8), cv2.COLORMAP_JET)
    weight = (alpha * np.clip(frame_heat * 1.5, 0, 1))[..., None]
    return np.clip(image * (1 - weight) + colours * weight, 0, 255).astype(np.uint8)


class CamHead:
    """Class activation maps from the shipped model as it is, without a re-export.

    The emotion model ends in global average pooling -> fully connected + ReLU -> fully connected ->
    softmax. Given the hidden layer's ReLU pattern the class logit is linear in the pooled
    feature, and the pooling is a mean over the last feature map's cells, so

        logit_k = mean over cells of  W2[k] . (mask * (W1 @ f_cell))  +  W2[k] . (mask * b1) + b2[k]

    in the dequantized arithmetic; each cell's term is its contribution to the logit (what Grad-CAM
    computes for this piecewise-linear head: its gradient weights times the feature map). Against
    the INT8 model's own logit (its hidden layer is rounded to INT8) the sum agrees within 0.15
    logit (``tests/features/test_explain.py``), not exactly. The feature map, the
    hidden layer and the weights are read from the INT8 model itself (dequantized) through an
    interpreter that keeps intermediate tensors, which XNNPACK cannot do: this path runs LiteRT's
    built-in kernels. The map has the last feature map's resolution (cells of 32 px: 4 x 4 on a
    128-px crop). An export that adds the feature map as a second output would let XNNPACK
    run it instead.

    Raises:
        ConfigError: the model's graph does not end in that head (CAM unavailable for it).
    """

    def __init__(self, model: Any, num_threads: int = 1) -> None:
        from . import litert

        module = litert.interpreter_module()
        content = getattr(model, "content", None)
        if content is None:
            content = litert.read_tflite(model)
        subject = getattr(model, "path", model)
        try:
            self._it = module.Interpreter(
                model_content=content, num_threads=num_threads, experimental_preserve_all_tensors=True,
                experimental_op_resolver_type=module.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
            self._it.allocate_tensors()
            ops = self._it._get_ops_details()  # LiteRT's op list (name, input and output tensors)
        except (AttributeError, TypeError, ValueError, RuntimeError) as exc:
            raise ConfigError(f"this LiteRT cannot expose the model's intermediate tensors ({exc})", subject,
                              "use method='occlusion'") from None
        self._details = {d["index"]: d for d in self._it.get_tensor_details()}
        means = [o for o in ops if o["op_name"] == "MEAN" and len(self._details[o["inputs"][0]]["shape"]) == 4]
        head = None
        if means:
            pooled = means[-1]["outputs"][0]
            fc1 = [o for o in ops if o["op_name"] == "FULLY_CONNECTED" and o["inputs"][0] == pooled]
            fc2 = [o for o in ops
                   if fc1 and o["op_name"] == "FULLY_CONNECTED" and o["inputs"][0] == fc1[0]["outputs"][0]]
            if fc1 and fc2 and len(fc1[0]["inputs"]) >= 3 and len(fc2[0]["inputs"]) >= 3:
                head = (means[-1]["inputs"][0], pooled, fc1[0], fc2[0])
        if head is None:
            raise ConfigError("the model does not end in average pooling -> dense -> dense, so this CAM cannot read it",
                              subject, "use method='occlusion'")
        self._feature, self._pooled, fc1, fc2 = head
        self._hidden, self._logits = fc1["outputs"][0], fc2["outputs"][0]
        self.w1, self.b1 = self._read(fc1["inputs"][1]), self._read(fc1["inputs"][2])
        self.w2, self.b2 = self._read(fc2["inputs"][1]), self._read(fc2["inputs"][2])
        self._input = self._it.get_input_details()[0]
        _, self.height, self.width, _ = (int(v) for v in self._input["shape"])
        self.relu = self._probe_relu()

    def _read(self, index: int) -> np.ndarray:
        """A tensor of the last run (or a constant), dequantized with its own (per-channel) parameters."""
        detail = self._details[index]
        values = np.asarray(self._it.get_tensor(index), np.float64)
        q = detail.get("quantization_parameters") or {}
        scales, zeros = np.asarray(q.get("scales", ())), np.asarray(q.get("zero_points", ()))
        if scales.size == 0:
            return values
        shape = [1] * values.ndim
        if scales.size > 1:
            shape[int(q.get("quantized_dimension", 0))] = scales.size
        return (values - zeros.reshape(shape)) * scales.reshape(shape)

    def _run(self, crop: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """(feature map ``(h, w, c)``, hidden pre-activation ``(units,)``) of one crop."""
        x = crop[None]
        if self._input["dtype"] != np.uint8:
            from . import litert

            x = litert.quantize(x.astype(np.float32), litert.TensorSpec.from_detail(self._input))
        self._it.set_tensor(self._input["index"], np.ascontiguousarray(x))
        self._it.invoke()
        feature = self._read(self._feature)[0]
        pooled = self._read(self._pooled).reshape(-1)
        return feature, pooled @ self.w1.T + self.b1

    def _probe_relu(self) -> bool:
        """Whether the hidden layer has a fused ReLU: compare the stored hidden tensor with both readings."""
        rng = np.random.default_rng(0)
        self._run(rng.integers(0, 256, (self.height, self.width, 3), dtype=np.uint8))
        pooled = self._read(self._pooled).reshape(-1)
        stored = self._read(self._hidden).reshape(-1)
        pre = pooled @ self.w1.T + self.b1
        return float(np.abs(np.maximum(pre, 0) - stored).max()) <= float(np.abs(pre - stored).max())

    def contributions(self, crop: np.ndarray, k: int) -> Tuple[np.ndarray, float]:
        """(per-cell contribution to class ``k``'s logit ``(h, w)``, the rest of the logit): the cells'
        mean plus the rest is the logit."""
        feature, pre = self._run(crop)
        h, w, c = feature.shape
        mask = (pre > 0) if self.relu else np.ones_like(pre, bool)
        weights = (self.w2[k] * mask) @ self.w1  # (c,): the gradient of logit k w.r.t. the pooled feature
        cells = feature.reshape(-1, c) @ weights
        rest = float((self.w2[k] * mask) @ self.b1 + self.b2[k])
        return cells.reshape(h, w), rest

    def logits(self) -> np.ndarray:
        """The class logits of the last :meth:`contributions` run (dequantized from the model)."""
        return self._read(self._logits).reshape(-1)

    def close(self) -> None:
        self._it = None


class Explainer(CreateFromOptions):
    """Detector, aligner, emotion model and face mesh loaded once for many :meth:`explain` calls.

    ``Explainer(options)``, ``Explainer(**fields)`` or ``Explainer("emotion model name or path",
    **fields)``; the fields (``model``, ``num_threads``, ``flip_average``: explain the
    flip-averaged probabilities, what the pipeline reports; ``detector``) are
    :class:`ExplainerOptions`'.
    """

    OPTIONS = ExplainerOptions

    def __init__(self, options: Union[ExplainerOptions, str, "os.PathLike[str]", None] = None, **kwargs: Any) -> None:
        from .alignment import FaceAligner
        from .aus import ActionUnitReader
        from .detection import FaceDetector
        from .emotion import EmotionClassifier

        self.options = opts = options_from(ExplainerOptions, options, kwargs)
        self.classifier = EmotionClassifier(opts.model, num_threads=opts.num_threads, flip_average=opts.flip_average)
        self.aligner = FaceAligner.for_classifier(self.classifier)
        self.detector = FaceDetector(model=opts.detector, num_threads=opts.num_threads, small_faces=True)
        self.aus = ActionUnitReader(opts.num_threads, detector_model=opts.detector)
        self._model, self._threads = opts.model, opts.num_threads
        self._cam_head: Optional[CamHead] = None

    def explain(self, image: ImageSource, *, face: Optional[int] = None, emotion: Optional[str] = None,
                method: str = "occlusion") -> Explanation:
        """Explain the emotion of face number ``face`` (left to right from 0; default: the
        largest) of ``image``: ``emotion`` (default: the predicted one).

        Raises:
            NoFaceError: no face in the photo.
            ConfigError: unknown method or emotion; ``method="cam"`` on a model whose head CamHead cannot read.
            InputError: no face number ``face``.
        """
        from .faces import left_to_right, pick_face

        if method not in METHODS:
            raise ConfigError(f"unknown explanation method {method!r} (valid: {', '.join(METHODS)})",
                              hint="use 'occlusion'")
        labels = self.classifier.labels
        if emotion is not None and emotion not in labels:
            raise ConfigError(f"unknown emotion {emotion!r} (valid: {', '.join(labels)})",
                              hint="or leave it out to explain the predicted one")
        timings: Dict[str, float] = {}
        t0 = time.perf_counter()
        bgr = load_image(image)
        source = os.fspath(image) if isinstance(image, (str, os.PathLike)) else None
        detections = left_to_right(self.detector._detect_checked(bgr), lambda d: d.box)
        if not detections:
            raise NoFaceError("no face found", source or "photo", "use a photo with a clearly visible face")
        index = pick_face(detections, face, lambda d: d.box, source)
        assert index is not None
        det = detections[index]
        aligned = self.aligner._align_checked(bgr, det)
        crop = aligned.image
        t1 = time.perf_counter()
        probs = self.classifier.predict_probs(crop)
        predicted = labels[int(np.argmax(probs))]
        target = emotion or predicted
        k = labels.index(target)
        c1 = time.thread_time()
        if method == "cam":
            heat, evaluations, patch = self._cam(crop, k)
            stride = patch
        else:
            size = min(crop.shape[:2])
            patch = max(1, int(round(size * PATCH_FRACTION)))
            stride = max(1, int(round(size * STRIDE_FRACTION)))
            heat, evaluations = occlusion_map(crop, lambda x: log_odds(float(self.classifier.predict_probs(x)[k])),
                                              patch=patch, stride=stride)
        c2, t2 = time.thread_time(), time.perf_counter()
        landmarks = self.aus.mesh.landmarks(bgr, det)
        aus = self.aus.from_landmarks(landmarks.points, landmarks.presence)
        points, source_of_points = landmarks.xy, "face mesh"
        if landmarks.presence < self.aus.mesh.options.min_presence:
            points, source_of_points = template_landmarks(det), "reference mesh placed on the eyes"
        regions = rank_regions(heat, region_map(aligned.to_crop(points), (crop.shape[1], crop.shape[0])))
        t3 = time.perf_counter()
        overlay = heat_overlay(bgr, heat, aligned.matrix)
        box = det.box
        cv2.rectangle(overlay, (int(box.x), int(box.y)), (int(box.x + box.width), int(box.y + box.height)),
                      (255, 255, 255), 1)
        timings.update({method: (t2 - t1) * 1e3, f"{method}_cpu": (c2 - c1) * 1e3, "mesh_and_regions": (t3 - t2) * 1e3,
                        "total": (time.perf_counter() - t0) * 1e3})
        return Explanation(target, predicted, dict(zip(labels, map(float, probs))), method, heat, crop, aligned.matrix,
                           box, index, regions, aus, overlay, patch, stride, evaluations, self.classifier.flip_average,
                           source_of_points, timings, source)

    def _cam(self, crop: np.ndarray, k: int) -> Tuple[np.ndarray, int, int]:
        """(heat in logit units per crop pixel, invokes, cell size in px) of the CAM method."""
        if self._cam_head is None:
            from . import registry

            self._cam_head = CamHead(registry.load_model(self._model), self._threads)
        head = self._cam_head
        cells, _ = head.contributions(crop, k)
        invokes = 1
        # with flip averaging the pipeline reports the mean of the two views' *probabilities*; the
        # CAM explains the mean of the two views' logit contributions (the mirrored view's map
        # flipped back), an approximation of that: close when both views agree
        if self.classifier.flip_average:
            mirrored, _ = head.contributions(np.ascontiguousarray(crop[:, ::-1]), k)
            cells, invokes = (cells + mirrored[:, ::-1]) / 2.0, 2
        h, w = crop.shape[:2]
        per_cell = (cells / cells.size).astype(np.float32)  # each cell's share of the logit
        heat = cv2.resize(per_cell, (w, h), interpolation=cv2.INTER_NEAREST)
        return heat, invokes, int(round(h / cells.shape[0]))

    def close(self) -> None:
        self.classifier.close()
        self.detector.close()
        self.aus.close()
        if self._cam_head is not None:
            self._cam_head.close()

    def __enter__(self) -> "Explainer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def log_odds(p: float) -> float:
    """``log(p / (1 - p))`` with ``p`` clipped to [EPS, 1 - EPS]."""
    q = min(max(p, EPS), 1.0 - EPS)
    return float(np.log(q / (1.0 - q)))


def template_landmarks(det: Detection) -> np.ndarray:
    """The reference mesh placed on a detection's eye keypoints (when the face mesh fails)."""
    from .transfer.geometry import load_neutral_mesh

    ref = load_neutral_mesh()[:, :2]
    src = np.array([ref[list(RIGHT_EYE)].mean(axis=0), ref[list(LEFT_EYE)].mean(axis=0)])
    dst = np.array([det.keypoints[0], det.keypoints[1]], np.float64)
    a, b = src[1] - src[0], dst[1] - dst[0]
    scale = np.linalg.norm(b) / max(np.linalg.norm(a), 1e-9)
    angle = np.arctan2(b[1], b[0]) - np.arctan2(a[1], a[0])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return (ref - src[0]) @ rot.T + dst[0]


def rank_regions(heat: np.ndarray, regions: np.ndarray) -> List[Dict[str, Any]]:
    """Each region's mean heat and share of the total positive heat, largest mean first."""
    positive = np.clip(heat, 0, None)
    total = float(positive.sum()) or 1.0
    out = []
    for k, name in enumerate((*REGIONS, OUTSIDE)):
        mask = regions == k
        if mask.any():
            out.append({"region": name, "mean_heat": round(float(heat[mask].mean()), 4),
                        "share": round(float(positive[mask].sum()) / total, 4), "pixels": int(mask.sum())})
    return sorted(out, key=lambda r: -r["mean_heat"])


_DEFAULT: Dict[tuple, Explainer] = {}
_DEFAULT_LOCK = threading.Lock()


def explain(image: ImageSource, *, out_dir: Optional[Union[str, "os.PathLike[str]"]] = None, face: Optional[int] = None,
            emotion: Optional[str] = None, method: str = "occlusion", model: Union[str, "os.PathLike[str]"] = "emotion",
            flip_average: bool = True, num_threads: int = 1) -> Explanation:
    """One-call :meth:`Explainer.explain` (the models are loaded once per set of options);
    with ``out_dir`` the overlay PNG and the JSON are written there too."""
    key = (os.fspath(model), flip_average, num_threads)
    with _DEFAULT_LOCK:
        explainer = _DEFAULT.get(key)
        if explainer is None:
            explainer = Explainer(model, flip_average=flip_average, num_threads=num_threads)
            _DEFAULT.clear()  # one cached explainer: its models are freed when replaced
            _DEFAULT[key] = explainer
    result = explainer.explain(image, face=face, emotion=emotion, method=method)
    if out_dir is not None:
        stem = Path(os.fspath(image)).stem if isinstance(image, (str, os.PathLike)) else "face"
        result.save(out_dir, stem)
    return result


__all__ = ["CamHead", "Explainer", "ExplainerOptions", "Explanation", "METHODS", "REGIONS", "explain", "occlusion_map",
           "rank_regions", "region_map"]
