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
probability hardly moves). 8 x 8 positions on the model's crop plus the whole crop: 65
evaluations (with flip averaging, each one batch-2 invoke of the crop and its mirror image).

Method ``"cam"`` (fast, coarse): the class logit decomposed over the cells of the model's last
feature map (:class:`CamHead`: Grad-CAM's weights times the map; the cells' mean plus a
constant gives the INT8 model's class logit within 0.15 logit). For ``emotion`` the map comes
from the manifest's ``"cam"`` companion file, the same INT8 graph exported with the feature map
(and the hidden layer) as extra outputs (``python -m converters.emotion.cam_model``; its probabilities equal the
shipped model's on all 3,417 FER2013Valid faces), so XNNPACK runs it and its two invokes (crop
and mirror) give both the probabilities and the map. A companion that does not fit its model
(built for other model bytes, another input shape or labels, probabilities not the model's) is
refused with a :class:`CamCompanionWarning` and the built-in path runs. Models without a companion
(``emotion-fast``, a ``.tflite`` path) are read through LiteRT's built-in kernels, which keep
intermediate tensors (about 3x slower). How coarse: cells of 32 px, 4 x 4 on the shipped model's
128-px crop (3 x 3 on ``emotion-fast``'s 96 px), each with a receptive field spanning most of the face.
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


@dataclass(frozen=True)
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


@dataclass
class CamRun:
    """One crop through :class:`CamHead`: the feature map ``(h, w, c)``, the hidden layer's
    pre-activation (from a companion that outputs the hidden layer: its value after the ReLU, which
    has the same sign pattern), and (companion model only) the model's probabilities for the crop."""

    feature: np.ndarray
    pre: np.ndarray
    probs: Optional[np.ndarray] = None


class CamHead:
    """Class activation maps from the emotion model's last feature map.

    The emotion model ends in global average pooling -> fully connected + ReLU -> fully connected ->
    softmax. Given the hidden layer's ReLU pattern the class logit is linear in the pooled
    feature, and the pooling is a mean over the last feature map's cells, so

        logit_k = mean over cells of  W2[k] . (mask * (W1 @ f_cell))  +  W2[k] . (mask * b1) + b2[k]

    in the dequantized arithmetic; each cell's term is its contribution to the logit (what Grad-CAM
    computes for this piecewise-linear head: its gradient weights times the feature map). Against
    the INT8 model's own logit (its hidden layer is rounded to INT8) the sum agrees within 0.15
    logit (``tests/features/test_explain.py``), not exactly. The map has the last feature map's
    resolution (cells of 32 px: 4 x 4 on a 128-px crop, 3 x 3 on a 96-px one).

    Two ways to read the feature map:

    - ``feature_model`` given (the manifest's ``"cam"`` companion of the model, written by
      ``python -m converters.emotion.cam_model``): the same INT8 graph with the feature map as a
      second output (and the hidden layer after its ReLU as a third: its zeros give the mask without a
      matrix product), so **XNNPACK** runs it and its first output is the model's probabilities
      (checked equal to the one-output model's on every FER2013Valid face, and here on a probe
      crop: :attr:`probs_exact`). The weights are read once from its graph.
    - otherwise: the one-output model through an interpreter that keeps intermediate tensors,
      which XNNPACK cannot do, so LiteRT's **built-in kernels** run it (about 3x slower).

    :attr:`xnnpack` says which one runs.

    Raises:
        ConfigError: the model's graph does not end in that head (CAM unavailable for it).
    """

    def __init__(self, model: Any, num_threads: int = 1, feature_model: Any = None) -> None:
        from . import litert

        module = litert.interpreter_module()
        inspected = model if feature_model is None else feature_model
        content = inspected if isinstance(inspected, (bytes, bytearray)) else getattr(inspected, "content", None)
        if content is None:
            content = litert.read_tflite(inspected)
        subject = getattr(model, "path", model)
        try:
            self._it = module.Interpreter(
                model_content=bytes(content), num_threads=num_threads, experimental_preserve_all_tensors=True,
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
        self.w1, self.w2 = self._read(fc1["inputs"][1]), self._read(fc2["inputs"][1])
        # a bias the converter dropped (all zero) is the optional tensor -1
        self.b1, self.b2 = (self._read(op["inputs"][2]) if op["inputs"][2] >= 0 else np.zeros(w.shape[0])
                            for op, w in ((fc1, self.w1), (fc2, self.w2)))
        self._input = self._it.get_input_details()[0]
        _, self.height, self.width, _ = (int(v) for v in self._input["shape"])
        self._last: Optional[CamRun] = None
        #: True when XNNPACK runs the CAM (the two-output companion model).
        self.xnnpack = False
        self.relu = self._probe_relu()
        #: (companion only) its probabilities equal the one-output model's on a probe crop.
        self.probs_exact = False
        if feature_model is not None:
            self._use_companion(model, content, num_threads, subject)

    def _use_companion(self, model: Any, content: bytes, num_threads: int, subject: Any) -> None:
        """Run the two-output companion on XNNPACK from now on (the inspector is dropped)."""
        from . import litert

        pooled, hidden = self._details[self._pooled], self._details[self._hidden]
        self._pooled_q = (float(pooled["quantization"][0]), int(pooled["quantization"][1]), pooled["dtype"])
        self._hidden_q = (float(hidden["quantization"][0]), int(hidden["quantization"][1]), hidden["dtype"])
        feature_shape = tuple(int(v) for v in self._details[self._feature]["shape"])
        runner = litert.allocate(content, num_threads, delegates=True)
        outputs = litert.output_specs(runner)
        maps = [o for o in outputs if tuple(o.shape) == feature_shape]
        probs = [o for o in outputs if len(o.shape) == 2 and o.shape[1] == self.w2.shape[0]]
        hidden_out = [o for o in outputs if len(o.shape) == 2 and o.shape[1] == self.w1.shape[0]]
        if len(outputs) != 2 + len(hidden_out[:1]) or not maps or not probs:
            raise ConfigError(f"the CAM model's outputs {[list(o.shape) for o in outputs]} are not "
                              f"[1, classes], the feature map {list(feature_shape)} and optionally the hidden layer",
                              subject, "re-export it with python -m converters.emotion.cam_model")
        self._it, self._details = runner, {}
        self._input_spec = litert.input_specs(runner)[0]
        self._map_out, self._probs_out = maps[0], probs[0]
        #: the hidden layer after its ReLU, when the companion outputs it: its zeros are the mask,
        #: exactly as the INT8 graph has them, and no matrix-vector product is needed to find them
        self._hidden_out = hidden_out[0] if hidden_out else None
        # float32 copies for the per-crop arithmetic (float64 gains nothing over INT8 inputs)
        self._w1_32 = np.ascontiguousarray(self.w1, np.float32)
        scale, zero, dtype = self._pooled_q
        bounds = np.iinfo(dtype) if scale else None
        self._pooled_grid = (scale, zero, bounds.min if bounds else 0, bounds.max if bounds else 0)
        self._cells = int(np.prod(feature_shape[1:3]))
        self._b1_32 = self.b1.astype(np.float32)
        self.xnnpack = True
        self.probs_exact = self._probe_probs(model)

    def _probe_probs(self, model: Any) -> bool:
        """Whether the companion's probabilities are the one-output model's, on a probe crop."""
        from . import litert

        one = litert.allocate(bytes(model.content) if hasattr(model, "content") else litert.read_tflite(model), 1)
        spec_in, spec_out = litert.input_specs(one)[0], litert.output_specs(one)[0]
        crop = np.random.default_rng(1).integers(0, 256, (self.height, self.width, 3), dtype=np.uint8)
        if (spec_in.dtype != np.uint8 or self._input_spec.dtype != np.uint8
                or tuple(spec_in.shape) != tuple(self._input_spec.shape)
                or tuple(spec_out.shape[-1:]) != tuple(self._probs_out.shape[-1:])):
            return False  # another input or class count: not this model's companion
        one.set_tensor(spec_in.index, crop[None])
        one.invoke()
        expected = litert.dequantize(one.get_tensor(spec_out.index), spec_out).reshape(-1)
        return bool(np.array_equal(self.run(crop).probs, expected))

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

    @staticmethod
    def _requantize(values: np.ndarray, q: Tuple[float, int, Any]) -> np.ndarray:
        """``values`` rounded to a tensor's INT8 grid (what the INT8 graph holds there), dequantized."""
        scale, zero, dtype = q
        if not scale:
            return values
        info = np.iinfo(dtype)
        return (np.clip(np.rint(values / scale) + zero, info.min, info.max) - zero) * scale

    def run(self, crop: np.ndarray) -> CamRun:
        """Feature map, hidden pre-activation (and with the companion the probabilities) of one crop."""
        from . import litert

        x = crop[None]
        if self.xnnpack:
            if self._input_spec.dtype != np.uint8:
                x = litert.quantize(x.astype(np.float32), self._input_spec)
            self._it.set_tensor(self._input_spec.index, np.ascontiguousarray(x))
            self._it.invoke()
            feature = litert.dequantize(self._it.get_tensor(self._map_out.index), self._map_out)[0]
            probs = litert.dequantize(self._it.get_tensor(self._probs_out.index), self._probs_out).reshape(-1)
            if self._hidden_out is not None:  # the INT8 graph's own hidden layer (after the ReLU)
                hidden = litert.dequantize(self._it.get_tensor(self._hidden_out.index), self._hidden_out).reshape(-1)
                self._last = CamRun(feature, hidden, probs)
                return self._last
            # the pooled vector as the INT8 graph holds it (its MEAN output is rounded to INT8); matrix-
            # vector products only, on one float32 copy of W1 (a matrix product would start BLAS threads)
            scale, zero, lo, hi = self._pooled_grid
            pooled = np.add.reduce(feature.reshape(-1, feature.shape[-1]), axis=0) * np.float32(1.0 / self._cells)
            if scale:
                pooled = (np.clip(np.rint(pooled * np.float32(1.0 / scale)), lo - zero, hi - zero)
                          * np.float32(scale))
            self._last = CamRun(feature, self._w1_32 @ pooled + self._b1_32, probs)
            return self._last
        if self._input["dtype"] != np.uint8:
            x = litert.quantize(x.astype(np.float32), litert.TensorSpec.from_detail(self._input))
        self._it.set_tensor(self._input["index"], np.ascontiguousarray(x))
        self._it.invoke()
        feature = self._read(self._feature)[0]
        pooled = self._read(self._pooled).reshape(-1)
        self._last = CamRun(feature, pooled @ self.w1.T + self.b1)
        return self._last

    def _run(self, crop: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """(feature map ``(h, w, c)``, hidden pre-activation ``(units,)``) of one crop."""
        r = self.run(crop)
        return r.feature, r.pre

    def _probe_relu(self) -> bool:
        """Whether the hidden layer has a fused ReLU: compare the stored hidden tensor with both readings."""
        rng = np.random.default_rng(0)
        self._run(rng.integers(0, 256, (self.height, self.width, 3), dtype=np.uint8))
        pooled = self._read(self._pooled).reshape(-1)
        stored = self._read(self._hidden).reshape(-1)
        pre = pooled @ self.w1.T + self.b1
        return float(np.abs(np.maximum(pre, 0) - stored).max()) <= float(np.abs(pre - stored).max())

    def cells(self, run: CamRun, k: int) -> Tuple[np.ndarray, float]:
        """(per-cell contribution to class ``k``'s logit ``(h, w)``, the rest of the logit) of a
        :meth:`run`: the cells' mean plus the rest is the logit."""
        h, w, c = run.feature.shape
        mask = (run.pre > 0) if self.relu else np.ones_like(run.pre, bool)
        w1 = self._w1_32 if self.xnnpack else self.w1
        weights = (self.w2[k] * mask).astype(w1.dtype) @ w1  # (c,): the gradient of logit k w.r.t. the pooled feature
        cells = run.feature.reshape(-1, c) @ weights
        rest = float((self.w2[k] * mask) @ self.b1 + self.b2[k])
        return cells.reshape(h, w), rest

    def contributions(self, crop: np.ndarray, k: int) -> Tuple[np.ndarray, float]:
        """:meth:`cells` of class ``k`` for ``crop`` (one invoke)."""
        return self.cells(self.run(crop), k)

    def logits(self) -> np.ndarray:
        """The class logits of the last run: read from the model on the built-in kernels; with the
        companion, computed from its feature map as the INT8 head computes them (pooled and hidden
        layers rounded to their INT8 grids)."""
        if not self.xnnpack:
            return self._read(self._logits).reshape(-1)
        if self._last is None:
            raise ConfigError("no crop has run through the CAM head yet", hint="call run() or contributions() first")
        hidden = np.maximum(self._last.pre, 0) if self.relu else self._last.pre
        return self._requantize(hidden, self._hidden_q) @ self.w2.T + self.b2

    @classmethod
    def for_model(cls, model: Union[str, "os.PathLike[str]"], num_threads: int = 1,
                  companion: bool = True, manifest_path: Optional[Union[str, "os.PathLike[str]"]] = None) -> "CamHead":
        """The CAM head of an emotion model name or path: with ``companion`` and a ``"cam"`` file in
        its manifest entry that fits the model (:func:`companion_problem`: same input shape and
        labels, built for these model bytes, probabilities equal to the model's on a probe crop:
        :attr:`probs_exact`), the XNNPACK path; otherwise the built-in-kernel path. A companion
        that does not fit is refused with a :class:`CamCompanionWarning` (once per companion file
        and model) rather than explaining another model's feature map."""
        from . import registry

        loaded = registry.load_model(model, manifest_path)
        if not (companion and loaded.info is not None
                and "cam" in registry.companion_files(loaded.info.name, manifest_path)):
            return cls(loaded, num_threads)
        name = loaded.info.name
        entry = registry.companion_files(name, manifest_path)["cam"]
        problem = None
        if entry.get("model_sha256") not in (None, loaded.sha256):
            problem = f"it was built for the model with sha256 {entry['model_sha256']}, not {loaded.sha256}"
        else:
            feature = registry.load_companion(name, "cam", manifest_path)[1]
            problem = companion_problem(loaded, feature)
            if problem is None:
                try:
                    head = cls(loaded, num_threads, feature_model=feature)
                except (ConfigError, ValueError, RuntimeError) as exc:
                    problem = f"CamHead cannot read it ({exc})"
                else:
                    if head.probs_exact:
                        return head
                    head.close()
                    problem = "its probabilities differ from the model's on a probe crop (probs_exact is False)"
        _warn_companion_once((name, loaded.sha256, str(entry.get("sha256"))),
                             f"{name}: the manifest's \"cam\" companion ({entry.get('file')}) does not fit the "
                             f"model: {problem}; the CAM runs on LiteRT's built-in kernels instead (about 3x slower). "
                             "Rebuild it: python -m converters.emotion.cam_model ... --ship")
        return cls(loaded, num_threads)

    def close(self) -> None:
        self._it = None


class CamCompanionWarning(RuntimeWarning):
    """The manifest's ``"cam"`` companion does not fit its model, so the CAM runs on the built-in kernels."""


_COMPANION_WARNED: set = set()
_COMPANION_WARNED_LOCK = threading.Lock()


def _warn_companion_once(key: Tuple[str, str, str], message: str) -> None:
    """Warn about a refused companion once per (model name, model sha256, companion sha256) and process."""
    import warnings

    with _COMPANION_WARNED_LOCK:
        if key in _COMPANION_WARNED:
            return
        _COMPANION_WARNED.add(key)
    warnings.warn(message, CamCompanionWarning, stacklevel=3)


def companion_problem(model: Any, feature: bytes) -> Optional[str]:
    """Why the CAM companion ``feature`` (bytes) cannot stand in for the one-output ``model`` (a
    :class:`edgekit.registry.ModelFile`), or None: its input tensor must have the model's shape and
    dtype, it must output ``[1, classes]`` for the model's classes, and labels in its metadata (when
    it has any) must be the model's."""
    from types import SimpleNamespace

    from . import litert

    try:
        one, cam = litert.allocate(bytes(model.content), 1, False), litert.allocate(bytes(feature), 1, False)
    except (ValueError, RuntimeError) as exc:
        return f"LiteRT cannot load it ({litert.first_line(exc)})"
    (one_in, *_), (cam_in, *_) = litert.input_specs(one), litert.input_specs(cam)
    if (one_in.shape, one_in.dtype) != (cam_in.shape, cam_in.dtype):
        return (f"its input is {list(cam_in.shape)} {cam_in.dtype.name}, the model's "
                f"{list(one_in.shape)} {one_in.dtype.name}")
    classes = int(litert.output_specs(one)[0].shape[-1])
    info = getattr(model, "info", None)
    labels = list(info.labels) if info is not None and info.labels else litert.find_labels(model, classes)
    if labels and len(labels) != classes:
        return f"the model has {classes} outputs but {len(labels)} labels"
    if not any(len(o.shape) == 2 and o.shape[-1] == classes for o in litert.output_specs(cam)):
        return f"it has no [1, {classes}] probabilities output"
    cam_labels = litert.find_labels(SimpleNamespace(content=bytes(feature), path="cam"), classes)
    if cam_labels and labels and list(cam_labels) != list(labels):
        return f"its labels {cam_labels} are not the model's {list(labels)}"
    return None


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
        # a photo, as edgekit.analyze sees it: its keypoint refinements for the emotion crop
        self.detector = FaceDetector(model=opts.detector, num_threads=opts.num_threads, small_faces=True,
                                     close_up=True, luma_keypoints=True)
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
        pairs = left_to_right(self.detector._detect_pairs(bgr), lambda p: p[1].box)
        if not pairs:
            raise NoFaceError("no face found", source or "photo", "use a photo with a clearly visible face")
        index = pick_face(pairs, face, lambda p: p[1].box, source)
        assert index is not None
        first_pass, det = pairs[index]  # the mesh and AUs on the first pass's keypoints, as the pipeline
        aligned = self.aligner._align_checked(bgr, det)
        crop = aligned.image
        t1 = time.perf_counter()
        runs: List[CamRun] = []
        if method == "cam":  # CPU time from here: the CAM's own invokes give the probabilities too
            c1 = time.thread_time()
            probs, runs = self._cam_runs(crop)
        else:
            probs = self.classifier.predict_probs(crop)
            c1 = time.thread_time()
        predicted = labels[int(np.argmax(probs))]
        target = emotion or predicted
        k = labels.index(target)
        if method == "cam":
            heat, evaluations, patch = self._cam(runs, crop.shape[:2], k)
            stride = patch
        else:
            size = min(crop.shape[:2])
            patch = max(1, int(round(size * PATCH_FRACTION)))
            stride = max(1, int(round(size * STRIDE_FRACTION)))
            heat, evaluations = occlusion_map(crop, lambda x: log_odds(float(self.classifier.predict_probs(x)[k])),
                                              patch=patch, stride=stride)
        c2, t2 = time.thread_time(), time.perf_counter()
        landmarks = self.aus.mesh.landmarks(bgr, first_pass)
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

    def cam_head(self) -> CamHead:
        """The CAM head, loaded on first use: XNNPACK on the model's ``"cam"`` companion when its
        manifest entry has one, else the built-in-kernel path (:class:`CamHead`)."""
        if self._cam_head is None:
            self._cam_head = CamHead.for_model(self._model, self._threads)
        return self._cam_head

    def _cam_runs(self, crop: np.ndarray) -> Tuple[np.ndarray, List[CamRun]]:
        """(the probabilities the pipeline reports for ``crop``, the CAM runs: the crop, then with
        flip averaging the mirrored crop). With the companion model, whose probabilities are the
        shipped model's (:attr:`CamHead.probs_exact`), its two invokes give both; otherwise the
        classifier runs too."""
        head = self.cam_head()
        runs = [head.run(crop)]
        if self.classifier.flip_average:
            runs.append(head.run(np.ascontiguousarray(crop[:, ::-1])))
        if head.xnnpack and head.probs_exact:
            if len(runs) == 2:  # the classifier's arithmetic: (a + b) * 0.5 in float32
                return (runs[0].probs + runs[1].probs) * np.float32(0.5), runs
            return runs[0].probs, runs
        return self.classifier.predict_probs(crop), runs

    def _cam(self, runs: List[CamRun], size: Tuple[int, int], k: int) -> Tuple[np.ndarray, int, int]:
        """(heat in logit units per crop pixel, invokes, cell size in px) of the CAM method."""
        head = self.cam_head()
        cells, _ = head.cells(runs[0], k)
        # with flip averaging the pipeline reports the mean of the two views' *probabilities*; the
        # CAM explains the mean of the two views' logit contributions (the mirrored view's map
        # flipped back), an approximation of that: close when both views agree
        if len(runs) == 2:
            mirrored, _ = head.cells(runs[1], k)
            cells = (cells + mirrored[:, ::-1]) / 2.0
        h, w = size
        per_cell = (cells / cells.size).astype(np.float32)  # each cell's share of the logit
        heat = cv2.resize(per_cell, (w, h), interpolation=cv2.INTER_NEAREST)
        return heat, len(runs), int(round(h / cells.shape[0]))

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


__all__ = ["CamCompanionWarning", "CamHead", "CamRun", "Explainer", "ExplainerOptions", "Explanation", "METHODS",
           "REGIONS", "companion_problem", "explain",
           "occlusion_map", "rank_regions", "region_map"]
