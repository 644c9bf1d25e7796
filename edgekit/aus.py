"""Facial action units (AUs) read from the 468-point face mesh.

What this computes (``docs/action_units.md`` has the full table):

1. **Pose out.** A 3-D similarity fitted on landmarks that expressions barely move
   (:data:`edgekit.transfer.geometry.RIGID`: forehead, nose bridge, eye corners, temples) maps
   the face's mesh onto the neutral reference face (``edgekit/assets/neutral_face_mesh.npy``).
   In that frame (``x`` towards the image right, ``y`` down, ``z`` away from the camera; the
   rigid landmarks have unit RMS radius, the outer eye corners are ~1.67 units apart) head
   rotation, position and scale are gone; what is left is how the face's parts moved.
2. **Raw measures.** Every AU has a geometric measure per side of the face (subject's right /
   left): a linear function of the aligned landmark coordinates (heights of brows above the eye
   corners, lip-corner displacement along a direction, lip gap...). :data:`AU_DEFINITIONS`
   lists them; :func:`feature_matrix` turns them into one ``(features, 468*3)`` matrix, so
   all measures cost one matrix product.
3. **Activations.** ``activation = clip((raw - baseline - floor) / (span - floor), 0, 1)`` per
   side, averaged over the two sides. ``baseline`` is the population neutral (median over FER+ training faces
   most annotators labelled neutral), a person's own neutral photo, or, in a video and only when
   asked (``PipelineOptions.au_stream_neutral``), the running median of that face track
   (OpenFace's per-person median, :class:`StreamBaseline`; it hurt on the validation video, and
   an enrolled neutral photo always wins over it).
   ``span`` is the movement that only 5% of a class-balanced sample of FER+ training faces
   exceed; ``floor`` the movement 25% of neutral faces exceed (measurement noise: a neutral face
   reads 0 on most AUs). Both come from ``python -m converters.aus.calibrate`` (``edgekit/_au_calibration.py``).

Activations are 0..1 *activations of a geometric measure*, not FACS intensities (A-E) and not
probabilities. AUs marked in :data:`LOW_CONFIDENCE` are read poorly from geometry alone
(wrinkles, depth, small movements): treat them as hints.

Bad input: a mesh whose face-presence score is low, or whose rigid landmarks do not fit the
reference (residual above :data:`MAX_RIGID_RESIDUAL`), gives ``activations=None`` with a
``reason``; a head turned more than :data:`MAX_YAW_DEG` / :data:`MAX_PITCH_DEG` too (flag
``"profile"``); a face whose outer eye corners are less than :data:`MIN_EYE_DISTANCE_PX`
pixels apart is measured but flagged ``"small_face"``.
"""
from __future__ import annotations

import functools
import math
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Deque, Dict, List, Mapping, Optional, Sequence, Tuple

import cv2
import numpy as np

from .errors import ConfigError, ModelError, NoFaceError
from .facemesh import EYE_CORNERS, MIN_PRESENCE, NUM_LANDMARKS
from .options import CreateFromOptions, options_from
from .task_options import ActionUnitReaderOptions
from .validate import check, integer

#: Largest head yaw (left/right turn) at which AUs are reported (degrees). Beyond it one half of
#: the face is hidden and the mesh model guesses it: activations None, flag "profile".
MAX_YAW_DEG = 35.0
#: Largest head pitch (nodding up/down) at which AUs are reported (degrees).
MAX_PITCH_DEG = 30.0
#: Yaw above which the reading is kept but flagged "turned" (the far side is foreshortened).
TURNED_YAW_DEG = 20.0
#: Outer eye corners closer than this (image pixels) flag the face "small_face": the mesh then
#: sees fewer pixels per landmark than in a 48x48 FER+ crop (~24 px), and movements shrink
#: towards the mesh model's mean face.
MIN_EYE_DISTANCE_PX = 24.0
#: RMS distance (reference units) of the rigid landmarks from the reference after the pose fit
#: above which the mesh is taken as not fitting a face (measured: <= 0.06 on FER+ and LFW faces).
MAX_RIGID_RESIDUAL = 0.15
#: Activation from which an AU gives a plain-language cue.
CUE_THRESHOLD = 0.5

SIDES = ("right", "left")  # the subject's right (image left) and left
#: Per-AU activations of the two sides, in :data:`SIDES` order.
SidePairs = Dict[str, Tuple[float, float]]


@dataclass(frozen=True)
class AUDefinition:
    """One action unit: its FACS name, what the measure is, and the landmark terms per side.

    ``terms[side]`` is a list of ``(landmarks, axis, weight)``: ``weight * mean(aligned[landmarks, axis])``
    summed (axis 0 = x, 1 = y down, 2 = z away from the camera)."""

    name: str
    facs: str
    measure: str
    terms: Dict[str, Tuple[Tuple[Tuple[int, ...], int, float], ...]]
    low_confidence: bool = False


# Landmark groups (subject's right side first, left side second: MediaPipe's mirrored indices).
INNER_BROW = ((107, 66, 55, 65), (336, 296, 285, 295))
MID_BROW = ((105, 52), (334, 282))
OUTER_BROW = ((70, 63, 46, 53), (300, 293, 276, 283))
INNER_EYE_CORNER = ((133,), (362,))
OUTER_EYE_CORNER = ((33,), (263,))
UPPER_LID = ((159, 158, 160), (386, 385, 387))
LOWER_LID = ((145, 144, 153), (374, 373, 380))
CHEEK = ((117, 118, 50, 101, 205), (346, 347, 280, 330, 425))
NOSE_WING = ((98, 129, 64), (327, 358, 294))
UPPER_LIP = ((0, 37, 39), (0, 267, 269))
LIP_CORNER = ((61, 78), (291, 308))
#: Lip red at one side of the centre: upper outer, upper inner, lower inner, lower outer.
LIP_PROFILE = ((37, 82, 87, 84), (267, 312, 317, 314))
INNER_UPPER_LIP = ((82, 13), (312, 13))
INNER_LOWER_LIP = ((87, 14), (317, 14))
CHIN = ((152, 175, 148), (152, 175, 377))

X, Y, Z = 0, 1, 2
#: Outward direction along x for each side (the subject's right is on the image left).
OUTWARD = {"right": -1.0, "left": 1.0}


def _side(groups: Tuple[Tuple[int, ...], Tuple[int, ...]], side: str) -> Tuple[int, ...]:
    return groups[SIDES.index(side)]


def _defs() -> Tuple[AUDefinition, ...]:
    def per_side(build):
        return {side: tuple(build(side)) for side in SIDES}

    s = _side
    corner_line = lambda side: [(s(OUTER_EYE_CORNER, side), Y, 0.5), (s(INNER_EYE_CORNER, side), Y, 0.5)]  # noqa: E731
    # Lip corner displacement directions (the zygomatic pull is up and out, ~53 degrees above
    # horizontal; the risorius/platysma stretch is out and slightly down).
    up_out = lambda side: [(s(LIP_CORNER, side), Y, -0.8), (s(LIP_CORNER, side), X, 0.6 * OUTWARD[side])]  # noqa: E731
    out_down = lambda side: [(s(LIP_CORNER, side), X, 0.8 * OUTWARD[side]), (s(LIP_CORNER, side), Y, 0.6)]  # noqa: E731
    lip_mid = ((13, 14), (13, 14))
    return (
        AUDefinition("AU1", "inner brow raiser",
                     "height of the inner brow (4 landmarks) above the inner eye corner, plus half its rise over the "
                     "outer brow (the oblique brow)",
                     per_side(lambda d: [(s(INNER_BROW, d), Y, -1.5), (s(OUTER_BROW, d), Y, 0.5),
                                         (s(INNER_EYE_CORNER, d), Y, 1.0)])),
        AUDefinition("AU2", "outer brow raiser", "height of the outer brow (4 landmarks) above the outer eye corner",
                     per_side(lambda d: [(s(OUTER_BROW, d), Y, -1.0), (s(OUTER_EYE_CORNER, d), Y, 1.0)])),
        AUDefinition("AU4", "brow lowerer",
                     "lowering of the inner brow (4 landmarks) plus half that of the middle brow (2), plus half the "
                     "inner brow's move towards the midline",
                     per_side(lambda d: [(s(INNER_BROW, d), Y, 1.0), (s(MID_BROW, d), Y, 0.5),
                                         (s(INNER_BROW, d), X, -0.5 * OUTWARD[d])]), low_confidence=True),
        AUDefinition("AU5", "upper lid raiser",
                     "height of the upper lid centre (3 landmarks) above the eye-corner line",
                     per_side(lambda d: [(s(UPPER_LID, d), Y, -1.0), *corner_line(d)])),
        AUDefinition("AU6", "cheek raiser", "rise of the cheek below the eye (5 landmarks)",
                     per_side(lambda d: [(s(CHEEK, d), Y, -1.0)]), low_confidence=True),
        AUDefinition("AU7", "lid tightener", "rise of the lower lid centre (3 landmarks) towards the eye-corner line",
                     per_side(lambda d: [(s(LOWER_LID, d), Y, -1.0), *corner_line(d)]), low_confidence=True),
        AUDefinition("AU9", "nose wrinkler", "rise of the nose wing (3 landmarks)",
                     per_side(lambda d: [(s(NOSE_WING, d), Y, -1.0)]), low_confidence=True),
        AUDefinition("AU10", "upper lip raiser", "rise of the upper lip (centre and 2 landmarks on that side)",
                     per_side(lambda d: [(s(UPPER_LIP, d), Y, -1.0)])),
        AUDefinition("AU12", "lip corner puller",
                     "lip corner (2 landmarks) displacement along up-and-out (0.8 up + 0.6 out)",
                     per_side(up_out)),
        AUDefinition("AU14", "dimpler", "lip corner (2 landmarks) moving back, away from the camera (depth)",
                     per_side(lambda d: [(s(LIP_CORNER, d), Z, 1.0)]), low_confidence=True),
        AUDefinition("AU15", "lip corner depressor",
                     "lip corner (2 landmarks) below the midpoint of the inner lip centres",
                     per_side(lambda d: [(s(LIP_CORNER, d), Y, 1.0), (s(lip_mid, d), Y, -1.0)])),
        AUDefinition("AU20", "lip stretcher",
                     "lip corner (2 landmarks) displacement along out-and-down (0.8 out + 0.6 down)",
                     per_side(out_down)),
        AUDefinition("AU23", "lip tightener", "thinning of the lip red (upper plus lower lip height beside the centre)",
                     per_side(lambda d: [(s(LIP_PROFILE, d)[:1], Y, 1.0), (s(LIP_PROFILE, d)[1:2], Y, -1.0),
                                         (s(LIP_PROFILE, d)[2:3], Y, 1.0), (s(LIP_PROFILE, d)[3:], Y, -1.0)]),
                     low_confidence=True),
        AUDefinition("AU25", "lips part", "gap between the inner lips (centre and beside it)",
                     per_side(lambda d: [(s(INNER_LOWER_LIP, d), Y, 1.0), (s(INNER_UPPER_LIP, d), Y, -1.0)])),
        AUDefinition("AU26", "jaw drop", "drop of the chin (3 landmarks) below the skull (the rigid frame)",
                     per_side(lambda d: [(s(CHIN, d), Y, 1.0)])),
        AUDefinition("AU43", "eyes closed (AU43; AU45 when brief)",
                     "loss of eye aperture: upper lid centre minus lower lid centre height",
                     per_side(lambda d: [(s(UPPER_LID, d), Y, 1.0), (s(LOWER_LID, d), Y, -1.0)]), low_confidence=True),
    )


#: Every action unit read, in output order.
AU_DEFINITIONS: Tuple[AUDefinition, ...] = _defs()
AU_NAMES: Tuple[str, ...] = tuple(d.name for d in AU_DEFINITIONS)
#: AUs geometry reads poorly: FACS reads them from texture or depth (AU6, AU7, AU9, AU14, AU23),
#: or a +-10% move of the face box changes them by 0.4 or more of their spread between faces
#: (AU4, AU43; reports/action_units): hints only.
LOW_CONFIDENCE: Tuple[str, ...] = tuple(d.name for d in AU_DEFINITIONS if d.low_confidence)
#: Raw feature names: ``"<AU>_<side>"``, AU_NAMES order, right side first.
FEATURE_NAMES: Tuple[str, ...] = tuple(f"{name}_{side}" for name in AU_NAMES for side in SIDES)
#: AUs whose left-right difference is reported (contempt is a one-sided AU12 + AU14).
ASYMMETRY_AUS = ("AU12", "AU14")


@functools.lru_cache(maxsize=1)
def feature_matrix() -> np.ndarray:
    """``(len(FEATURE_NAMES), 468 * 3)`` matrix: ``matrix @ aligned.reshape(-1)`` is every raw
    measure (reference units) of an aligned mesh."""
    matrix = np.zeros((len(FEATURE_NAMES), NUM_LANDMARKS * 3))
    row = 0
    for definition in AU_DEFINITIONS:
        for side in SIDES:
            for landmarks, axis, weight in definition.terms[side]:
                for index in landmarks:
                    matrix[row, index * 3 + axis] += weight / len(landmarks)
            row += 1
    matrix.flags.writeable = False
    return matrix


def raw_features(aligned: np.ndarray) -> np.ndarray:
    """Raw measures (``FEATURE_NAMES`` order) of a mesh already in the reference frame."""
    return feature_matrix() @ np.asarray(aligned, np.float64).reshape(-1)


@dataclass(frozen=True, eq=False)
class Calibration:
    """Population baseline (neutral median of each raw feature) and span of each AU."""

    base: np.ndarray  # (len(FEATURE_NAMES),)
    span: np.ndarray  # (len(AU_NAMES),)
    floor: np.ndarray  # (len(AU_NAMES),)
    source: str = ""

    @functools.cached_property
    def per_side(self) -> Tuple[np.ndarray, np.ndarray]:
        """(floor, span - floor) repeated per side (``FEATURE_NAMES`` order)."""
        floor = np.repeat(self.floor, len(SIDES))
        return floor, np.repeat(self.span, len(SIDES)) - floor


@functools.lru_cache(maxsize=1)
def population_calibration() -> Calibration:
    """The constants written by ``python -m converters.aus.calibrate`` (``edgekit/_au_calibration.py``)."""
    try:
        from . import _au_calibration as constants
    except ImportError:
        raise ModelError("action-unit calibration is missing", "edgekit/_au_calibration.py",
                         "reinstall edgekit, or rebuild it with `python -m converters.aus.calibrate`") from None
    try:
        base = np.array([constants.BASE[name] for name in FEATURE_NAMES], np.float64)
        span = np.array([constants.SPAN[name] for name in AU_NAMES], np.float64)
        floor = np.array([constants.FLOOR[name] for name in AU_NAMES], np.float64)
    except KeyError as exc:
        raise ModelError(f"action-unit calibration has no value for {exc.args[0]}", "edgekit/_au_calibration.py",
                         "rebuild it with `python -m converters.aus.calibrate`") from None
    if not (np.isfinite(base).all() and np.isfinite(floor).all() and np.isfinite(span).all()
            and (floor >= 0).all() and (span > floor).all()):
        raise ModelError("action-unit calibration holds non-finite or non-positive values",
                         "edgekit/_au_calibration.py",
                         "rebuild it with `python -m converters.aus.calibrate`")
    base.flags.writeable = span.flags.writeable = floor.flags.writeable = False
    return Calibration(base, span, floor, getattr(constants, "SOURCE", ""))


@dataclass(frozen=True)
class Pose:
    """Head rotation against the (frontal) neutral reference, in degrees (``pose_deg`` in JSON).

    Signs, for the subject as photographed (an unmirrored image):

    - ``yaw > 0``: the head turned towards the subject's right (the nose moves towards the image left);
    - ``pitch > 0``: chin up (the nose rises in the image);
    - ``roll > 0``: the head tilted towards the subject's right shoulder (their right eye lower in the image).
    """

    yaw: float
    pitch: float
    roll: float

    def to_dict(self) -> Dict[str, float]:
        return {"yaw": round(self.yaw, 1), "pitch": round(self.pitch, 1), "roll": round(self.roll, 1)}


def pose_from_rotation(rotation: np.ndarray) -> Pose:
    """Yaw/pitch/roll (degrees) of the rotation that takes a face's mesh onto the reference."""
    r = np.asarray(rotation, np.float64)
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, float(r[2, 0])))))
    pitch = math.degrees(math.atan2(float(r[2, 1]), float(r[2, 2])))
    roll = math.degrees(math.atan2(float(r[1, 0]), float(r[0, 0])))
    return Pose(yaw, pitch, roll)


#: Plain-language cues, most specific first: (AUs that must all reach CUE_THRESHOLD, AUs that
#: must not, English, Chinese). A cue's AUs are not repeated by later cues. A smile (AU12)
#: stretches and lifts the lips and cheeks on its own, so the lip and nose cues it would cause
#: geometrically are left out while it is on.
CUES: Tuple[Tuple[Tuple[str, ...], Tuple[str, ...], str, str], ...] = (
    (("AU1", "AU2"), (), "brows raised", "眉毛上扬"),
    (("AU1", "AU4"), (), "inner brows raised and drawn together", "眉头紧锁上挑"),
    (("AU1",), (), "inner brows raised", "眉头上挑"),
    (("AU4",), (), "brows lowered", "皱眉"),
    (("AU5",), (), "eyes wide open", "睁大眼睛"),
    (("AU43",), (), "eyes closed", "闭眼"),
    (("AU6", "AU12"), (), "smiling with the eyes", "眼睛在笑"),
    (("AU12",), (), "lip corners pulled up", "嘴角上扬"),
    (("AU26",), (), "jaw dropped", "张大嘴"),
    (("AU15",), ("AU12",), "lip corners turned down", "嘴角下垂"),
    (("AU20",), ("AU12",), "lips stretched", "嘴唇横拉"),
    (("AU9",), ("AU12",), "nose wrinkled", "皱鼻子"),
    (("AU10",), ("AU12",), "upper lip raised", "上唇上提"),
    (("AU6",), (), "cheeks raised", "脸颊上提"),
    (("AU7",), (), "eyelids tightened", "眯眼"),
    (("AU23",), ("AU12", "AU20", "AU25"), "lips tightened", "嘴唇收紧"),
    (("AU14",), ("AU12",), "lip corners tucked in", "抿嘴角"),
    (("AU25",), ("AU26",), "lips parted", "嘴唇微张"),
)
#: Most cues given for one face (the strongest).
MAX_CUES = 3
ONE_SIDED_CUE = ("one-sided smile", "一边嘴角上扬")
#: Left-right difference of AU12 (activation units) from which a smile counts as one-sided.
ONE_SIDED_THRESHOLD = 0.4


@dataclass(frozen=True)
class ActionUnits:
    """Action units of one face.

    Attributes:
        activations: AU name -> activation in [0, 1] (mean of the two sides); None when the mesh
            could not be read (see ``reason``).
        reason: why ``activations`` is None (else None).
        flags: reading conditions: ``"profile"`` (turned beyond the mesh's range: no
            activations), ``"turned"`` (yaw over :data:`TURNED_YAW_DEG`), ``"small_face"``
            (outer eye corners < :data:`MIN_EYE_DISTANCE_PX` px apart).
        asymmetry: AU name -> left minus right activation (the subject's sides), in [-1, 1],
            for :data:`ASYMMETRY_AUS`.
        sides: AU name -> (right, left) activations.
        pose: head rotation against the frontal reference (None when the mesh failed); signs in
            :class:`Pose` (yaw > 0: turned towards the subject's right).
        calibration: which neutral the activations are measured from: ``"population"``,
            ``"neutral_photo"`` (a person's enrolled neutral) or ``"stream"`` (running median
            of a face track).
        eye_distance_px: outer eye corner distance in image pixels.
        raw: raw measures (``FEATURE_NAMES`` order, reference units) for calibration; not serialised.
    """

    activations: Optional[Dict[str, float]]
    reason: Optional[str] = None
    flags: Tuple[str, ...] = ()
    asymmetry: Optional[Dict[str, float]] = None
    sides: Optional[Dict[str, Tuple[float, float]]] = None
    pose: Optional[Pose] = None
    calibration: str = "population"
    eye_distance_px: Optional[float] = None
    raw: Optional[np.ndarray] = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.activations is not None

    def cues(self, lang: str = "en") -> List[str]:
        """Up to :data:`MAX_CUES` plain-language cues ("brows raised", "jaw dropped"), strongest first;
        ``lang`` "en" or "zh". Empty when nothing reaches :data:`CUE_THRESHOLD` or AUs failed."""
        return describe(self, lang)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "activations": None if self.activations is None else {k: round(v, 3) for k, v in self.activations.items()},
            "reason": self.reason,
            "flags": list(self.flags),
            "asymmetry": None if self.asymmetry is None else {k: round(v, 3) for k, v in self.asymmetry.items()},
            "pose_deg": self.pose.to_dict() if self.pose else None,
            "calibration": self.calibration,
            "eye_distance_px": None if self.eye_distance_px is None else round(self.eye_distance_px, 1),
            "low_confidence": list(LOW_CONFIDENCE),
            "cues": self.cues(),
        }


def describe(aus: ActionUnits, lang: str = "en") -> List[str]:
    """Plain-language cues of ``aus`` (see :attr:`ActionUnits.cues`)."""
    if lang not in ("en", "zh"):
        raise ConfigError(f"unknown cue language {lang!r}", hint="use 'en' or 'zh'")
    if aus.activations is None:
        return []
    act = aus.activations
    on = {name for name, value in act.items() if value >= CUE_THRESHOLD}
    used: set = set()
    found: List[Tuple[float, str]] = []
    for needs, excludes, en, zh in CUES:
        if set(needs) <= on and not set(needs) & used and not set(excludes) & on:
            used |= set(needs)
            found.append((min(act[n] for n in needs), en if lang == "en" else zh))
    out = [text for _, text in sorted(found, key=lambda item: -item[0])]
    if aus.asymmetry and abs(aus.asymmetry.get("AU12", 0.0)) >= ONE_SIDED_THRESHOLD:
        out.insert(0, ONE_SIDED_CUE[0] if lang == "en" else ONE_SIDED_CUE[1])
    return out[:MAX_CUES]


def _failed(reason: str, flags: Sequence[str] = (), pose: Optional[Pose] = None,
            eye_distance_px: Optional[float] = None, calibration: str = "population") -> ActionUnits:
    return ActionUnits(None, reason=reason, flags=tuple(flags), pose=pose, calibration=calibration,
                       eye_distance_px=eye_distance_px)


@functools.lru_cache(maxsize=1)
def _reference_rigid() -> Tuple[np.ndarray, np.ndarray]:
    """(rigid landmark indices, their reference points), contiguous for OpenCV."""
    from .transfer.geometry import RIGID, load_neutral_mesh

    index = np.array(RIGID)
    return index, np.ascontiguousarray(load_neutral_mesh()[index])


def fit_pose(points: np.ndarray) -> Tuple[np.ndarray, float, np.ndarray]:
    """Least-squares 3-D similarity (Umeyama, ``cv2.estimateAffine3D``) taking the rigid landmarks
    of ``points`` onto the reference's: ``(rotation, scale, translation)``; the fit of
    :func:`edgekit.transfer.geometry.fit_similarity` without its per-call copies."""
    index, dst = _reference_rigid()
    matrix, scale = cv2.estimateAffine3D(np.ascontiguousarray(points[index]), dst, force_rotation=True)
    return matrix[:, :3], float(scale), matrix[:, 3]


def measure(points: np.ndarray) -> Tuple[np.ndarray, Pose, float]:
    """Raw measures of image landmarks ``(468, 3)``: (raw features, pose, rigid-fit residual).

    Raises:
        ValueError: ``points`` is not a finite ``(468, 3)`` array.
    """
    pts = np.asarray(points, np.float64)
    if pts.shape != (NUM_LANDMARKS, 3) or not np.isfinite(pts).all():
        raise ValueError(f"landmarks must be a finite ({NUM_LANDMARKS}, 3) array, got shape {pts.shape}")
    rotation, scale, translation = fit_pose(pts)
    aligned = scale * pts @ rotation.T + translation
    index, dst = _reference_rigid()
    residual = float(np.sqrt(((aligned[index] - dst) ** 2).sum(axis=1).mean()))
    return feature_matrix() @ aligned.reshape(-1), pose_from_rotation(rotation), residual


def activations_from_raw(raw: np.ndarray, baseline: Optional[np.ndarray] = None,
                         calibration: Optional[Calibration] = None) -> Tuple[Dict[str, float], SidePairs]:
    """(mean activations, per-side activations) of raw features against ``baseline`` (default:
    the population neutral)."""
    cal = calibration or population_calibration()
    base = cal.base if baseline is None else np.asarray(baseline, np.float64)
    floor, width = cal.per_side
    per_side = np.clip((np.asarray(raw, np.float64) - base - floor) / width, 0.0, 1.0)
    pairs = per_side.reshape(len(AU_NAMES), len(SIDES)).tolist()
    return ({name: (r + l) / 2.0 for name, (r, l) in zip(AU_NAMES, pairs)},
            {name: (r, l) for name, (r, l) in zip(AU_NAMES, pairs)})


def action_units(points: np.ndarray, *, presence: Optional[float] = None, baseline: Optional[np.ndarray] = None,
                 calibration_kind: Optional[str] = None, min_presence: float = MIN_PRESENCE) -> ActionUnits:
    """Action units of one face from its image landmarks (``(468, 3)``, e.g. ``FaceLandmarks.points``).

    Args:
        points: landmarks in image pixels (``z`` in the same unit).
        presence: the mesh model's face-presence score (None: not checked).
        baseline: a person's neutral raw features (``ActionUnits.raw`` of their neutral face,
            or a :class:`StreamBaseline` median); None: the population neutral.
        calibration_kind: what ``baseline`` is (``"neutral_photo"``, ``"stream"``); recorded in the result.
        min_presence: presence below which the mesh counts as not fitting a face.
    """
    kind = calibration_kind or ("population" if baseline is None else "neutral_photo")
    pts = np.asarray(points, np.float64) if isinstance(points, np.ndarray) else None
    if pts is None or pts.shape != (NUM_LANDMARKS, 3):
        return _failed(f"no face mesh (expected {NUM_LANDMARKS}x3 landmarks)", calibration=kind)
    if not np.isfinite(pts).all():
        return _failed("the face mesh has non-finite landmarks", calibration=kind)
    a, b = EYE_CORNERS
    eye_px = float(np.linalg.norm(pts[a, :2] - pts[b, :2]))
    if presence is not None and not presence >= min_presence:
        return _failed(f"the face mesh did not fit (face presence {presence:.2f} < {min_presence:g})",
                       eye_distance_px=eye_px, calibration=kind)
    if eye_px < 1.0:
        return _failed("the face mesh collapsed (eye corners < 1 px apart)", eye_distance_px=eye_px, calibration=kind)
    raw, pose, residual = measure(pts)
    flags = []
    if eye_px < MIN_EYE_DISTANCE_PX:
        flags.append("small_face")
    if residual > MAX_RIGID_RESIDUAL:
        return _failed(f"the face mesh does not fit a face (rigid residual {residual:.2f} > {MAX_RIGID_RESIDUAL:g})",
                       flags, pose, eye_px, kind)
    if abs(pose.yaw) > MAX_YAW_DEG or abs(pose.pitch) > MAX_PITCH_DEG:
        flags.append("profile")
        return _failed(f"head turned beyond the mesh's range (yaw {pose.yaw:+.0f}, pitch {pose.pitch:+.0f} degrees; "
                       f"limits {MAX_YAW_DEG:g}, {MAX_PITCH_DEG:g})", flags, pose, eye_px, kind)
    if abs(pose.yaw) > TURNED_YAW_DEG:
        flags.append("turned")
    means, sides = activations_from_raw(raw, baseline)
    asym = {name: sides[name][1] - sides[name][0] for name in ASYMMETRY_AUS}
    return ActionUnits(means, flags=tuple(flags), asymmetry=asym, sides=sides, pose=pose, calibration=kind,
                       eye_distance_px=eye_px, raw=raw)


def usable_for_baseline(aus: ActionUnits) -> bool:
    """Whether a reading may feed a neutral baseline (measured, frontal enough, not tiny)."""
    return aus.ok and aus.raw is not None and not ({"turned", "small_face"} & set(aus.flags))


#: ``StreamBaseline(window=)``: most recent readings kept per face track.
STREAM_WINDOW = integer(1, hint="readings kept per track, e.g. window=900 (30 s at 30 fps)")


class StreamBaseline:
    """Per-person neutral from a stream: the running median of a face track's raw measures
    (OpenFace subtracts each person's median the same way; it assumes the person is neutral
    more often than not).

    Args:
        window: most recent readings kept per track (default 900: 30 s at 30 fps).
        min_samples: readings a track needs before its median replaces the fallback baseline.
    """

    def __init__(self, window: int = 900, min_samples: int = 30) -> None:
        check("window", window, STREAM_WINDOW)
        check("min_samples", min_samples,
              integer(1, window, hint=f"readings before a track's median is used, at most window={window}"))
        self.window, self.min_samples = window, min_samples
        self._tracks: Dict[Any, Deque[np.ndarray]] = {}
        self._lock = threading.Lock()

    def add(self, track: Any, raw: np.ndarray) -> None:
        with self._lock:
            self._tracks.setdefault(track, deque(maxlen=self.window)).append(np.asarray(raw, np.float64))

    def baseline(self, track: Any) -> Optional[np.ndarray]:
        """The track's median raw measures, or None while it has fewer than ``min_samples``."""
        with self._lock:
            history = self._tracks.get(track)
            if history is None or len(history) < self.min_samples:
                return None
            return np.median(np.stack(history), axis=0)

    def samples(self, track: Any) -> int:
        with self._lock:
            return len(self._tracks.get(track, ()))

    def forget(self, keep: Sequence[Any]) -> None:
        """Drop every track not in ``keep``."""
        with self._lock:
            for track in [t for t in self._tracks if t not in set(keep)]:
                del self._tracks[track]

    def reset(self) -> None:
        with self._lock:
            self._tracks.clear()


class ActionUnitReader(CreateFromOptions):
    """Face mesh + action units for faces already found by a detector (what the pipeline uses),
    or for whole photos (:meth:`process`).

    ``ActionUnitReader(options)``, ``ActionUnitReader(**fields)``, ``ActionUnitReader(options,
    **overrides)`` or ``ActionUnitReader.create_from_options(options)``; the fields (``num_threads``,
    ``neutral``: a person's neutral photo, ``stream``: a :class:`StreamBaseline` for videos,
    ``detector``, ``min_confidence``, ``min_presence``) are :class:`ActionUnitReaderOptions`'.
    ``num_threads``, ``neutral``, ``stream`` and ``detector`` may also be given positionally, in
    that order (``ActionUnitReader(2)``).
    """

    OPTIONS = ActionUnitReaderOptions

    def __init__(self, options: Optional[ActionUnitReaderOptions] = None, *positional: Any, **kwargs: Any) -> None:
        from .facemesh import FaceMesh

        self.options = opts = options_from(ActionUnitReaderOptions, options, kwargs, positional)
        population_calibration()  # a missing calibration fails now, not on the first face
        self.mesh = FaceMesh(opts.mesh_options)
        self.stream: Optional[StreamBaseline] = opts.stream
        self.neutral: Optional[np.ndarray] = None
        if opts.neutral is not None:
            try:
                self.neutral = self.neutral_baseline(opts.neutral)
            except BaseException:
                self.mesh.close()
                raise

    def neutral_baseline(self, image: Any) -> np.ndarray:
        """Raw measures of the largest face of a neutral photo (a person's enrolled neutral).

        Raises:
            NoFaceError: no face, or its AUs cannot be read (the reason is given).
        """
        subject = image if isinstance(image, (str, bytes)) or hasattr(image, "__fspath__") else "neutral photo"
        faces = self.mesh.process(image)
        if not faces:
            raise NoFaceError("no face found in the neutral photo", subject,
                              "use a frontal photo of the person with a relaxed face")
        face = faces[0]
        aus = action_units(face.points, presence=face.presence)
        if not usable_for_baseline(aus):
            why = aus.reason or f"flagged {', '.join(aus.flags)}"
            raise NoFaceError(f"the neutral photo's face cannot serve as a baseline ({why})", subject,
                              "use a frontal, well-lit photo with the eyes at least "
                              f"{MIN_EYE_DISTANCE_PX:g} px apart")
        assert aus.raw is not None
        return aus.raw

    def read(self, image_bgr: np.ndarray, detection: Any, track: Any = None) -> ActionUnits:
        """AUs of the face found by ``detection`` in ``image_bgr``; ``track`` (video) selects and
        feeds the stream baseline."""
        face = self.mesh.landmarks(image_bgr, detection)
        return self.from_landmarks(face.points, face.presence, track)

    def from_landmarks(self, points: np.ndarray, presence: Optional[float] = None, track: Any = None) -> ActionUnits:
        baseline, kind = self.neutral, ("neutral_photo" if self.neutral is not None else None)
        # an enrolled neutral photo always wins over the running median
        streaming = self.stream is not None and track is not None and self.neutral is None
        if streaming:
            assert self.stream is not None
            streamed = self.stream.baseline(track)
            if streamed is not None:
                baseline, kind = streamed, "stream"
        aus = action_units(points, presence=presence, baseline=baseline, calibration_kind=kind,
                           min_presence=self.mesh.options.min_presence)
        if streaming and usable_for_baseline(aus):
            assert self.stream is not None
            assert aus.raw is not None
            self.stream.add(track, aus.raw)
        return aus

    def process(self, image: Any) -> List[Tuple[Any, ActionUnits]]:
        """``(FaceLandmarks, ActionUnits)`` of every face of a photo, largest first."""
        from .imageio import load_image

        bgr = load_image(image)
        detections = sorted(self.mesh.detector._detect_checked(bgr), key=lambda d: -d.box.area)
        out = []
        for det in detections:
            face = self.mesh.landmarks(bgr, det)
            out.append((face, self.from_landmarks(face.points, face.presence)))
        return out

    def close(self) -> None:
        self.mesh.close()

    def __enter__(self) -> "ActionUnitReader":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def definitions_table() -> List[Mapping[str, Any]]:
    """One row per AU: name, FACS name, measure, confidence, span (reference units)."""
    try:
        span = dict(zip(AU_NAMES, population_calibration().span))
    except ModelError:
        span = {}
    return [{"au": d.name, "facs": d.facs, "measure": d.measure, "confidence": "low" if d.low_confidence else "normal",
             "span": round(float(span[d.name]), 4) if d.name in span else None} for d in AU_DEFINITIONS]


__all__ = ["ActionUnits", "ActionUnitReader", "ActionUnitReaderOptions", "AUDefinition", "AU_DEFINITIONS", "AU_NAMES",
           "LOW_CONFIDENCE", "FEATURE_NAMES", "MAX_YAW_DEG", "MAX_PITCH_DEG", "MIN_EYE_DISTANCE_PX", "Pose",
           "StreamBaseline", "action_units", "activations_from_raw", "describe", "measure", "population_calibration",
           "raw_features"]
