"""The options of every edgekit task, in one module that imports only the standard library, so
the command line derives its flags and defaults from these fields without loading numpy, OpenCV
or LiteRT. Each class is re-exported by the module of its task (``edgekit.detection``,
``edgekit.pipeline``, ...). The pattern itself is described in :mod:`edgekit.options`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Optional, Union

from .errors import ConfigError
from .options import ModelOptions, Options, like, num_threads_option, option, renamed
from .validate import Check, boolean, callable_, choice, integer, model_ref, number, optional, path

PathLike = Union[str, "os.PathLike[str]"]

#: BlazeFace variants (:data:`edgekit.detection.blazeface.CONFIGS` has one config for each).
DETECTOR_MODELS = ("short_range", "full_range")
NMS_METHODS = ("weighted", "hard")
#: What the detector is fed (``FaceDetectorOptions.input_color``): the RGB pixels, or their luma
#: (BT.601 gray) replicated to 3 channels.
INPUT_COLORS = ("rgb", "luma")
RUNNING_MODES = ("image", "video", "live_stream")
#: Face-presence score below which the landmark model's output is not a face (MediaPipe: 0.5).
MIN_PRESENCE = 0.5
#: A cosine similarity (a same-person threshold).
SIMILARITY = number(-1, 1, hint="e.g. 0.35")
#: How far the best match's similarity must beat the runner-up's.
MARGIN = number(0, 2, hint="e.g. 0.05")
#: A sampling seed (captions, memes).
SEED = optional(integer(0, hint="pass e.g. seed=42 for reproducible captions"), "fresh randomness")
#: Where the identity gallery is kept when no ``gallery_path`` is given.
GALLERY_DEFAULT = "identity_gallery.json in the edgekit user data dir"
#: A smoothing time constant in milliseconds (also :class:`edgekit.tracking.ProbabilityEma`'s).
SMOOTHING_MS = number(0, hint="use 0 to turn smoothing off")


# ----------------------------------------------------------------------------- perception


@dataclass(frozen=True)
class FaceDetectorOptions(ModelOptions):
    """Options of :class:`edgekit.FaceDetector`.

    Attributes:
        model: ``"short_range"`` (faces within ~2 m of the camera, 128x128 input) or
            ``"full_range"`` (up to ~5 m, sparse 192x192 model; slower).
        num_threads: LiteRT CPU threads.
        min_confidence: minimum face score in [0, 1]. MediaPipe's own graphs use 0.5 for short
            range and 0.6 for full range (its Python solution ignores min_detection_confidence).
        max_faces: keep at most this many faces (highest scores first); None keeps all.
        nms_iou: IoU above which overlapping boxes are merged (MediaPipe uses 0.3).
        nms: ``"weighted"`` (MediaPipe's: overlapping boxes are score-averaged) or ``"hard"``
            (``cv2.dnn.NMSBoxes``); see ``reports/detection/`` for the comparison.
        small_faces: when the whole frame holds no face, look again in 9 overlapping half-size
            windows (faces smaller than about a fifth of the frame, which the 128 px short-range
            model misses when the frame is scaled down whole). Up to 9 more detector runs, only on
            frames (at least 256 px a side) where nothing was found; ``reports/emotion_robustness``
            measures it.
        close_up: run the detector once more on a square crop twice the size of each face that
            fills under 40% of the frame's longer side, and take that face's keypoints from the
            close-up (the box and score stay those of the whole-frame pass). The whole-frame pass
            sees a small face at a few dozen model pixels, so its eye points are coarse (4-6x
            steadier with the close-up). Off by default: on FER2013Valid faces in 4x canvases it
            gains 0.6 points of emotion accuracy and 0.3 of framing stability
            (``reports/emotion_robustness``) for one more detector run per small face (about
            +50% pipeline time per frame here).
        input_color: ``"rgb"`` feeds BlazeFace the RGB pixels (MediaPipe's input); ``"luma"``
            feeds it their gray (BT.601 luma, as ``cv2.COLOR_BGR2GRAY``) in all 3 channels, so a
            colour photo and its gray version give identical detections. Off by default: on LFW
            colour photos luma finds 3% fewer faces (mostly low-scored background faces), scores
            0.017 lower (median) and eye points slightly less steady under small shifts
            (``reports/detection/luma_vs_rgb.md``); emotion effects in ``reports/emotion_robustness``.
    """

    model: str = option("short_range", choice(DETECTOR_MODELS, "use short_range or full_range"), metavar="MODEL",
                        help="face detector: short_range (faces within ~2 m) or full_range (~5 m)")
    min_confidence: float = option(0.5, number(0, 1, hint="pass a detection score between 0 and 1"), metavar="P",
                                   help="minimum face detection score in [0, 1]")
    max_faces: Optional[int] = option(None, optional(integer(1), "all"), metavar="N",
                                      help="keep at most N faces, best first")
    nms_iou: float = option(0.3, number(0, 1, lo_open=True), help="IoU above which overlapping boxes are merged")
    nms: str = option("weighted", choice(NMS_METHODS, "use weighted (MediaPipe's) or hard"),
                      help="non-maximum suppression")
    small_faces: bool = option(True, boolean("use small_faces=False to skip the second look"),
                               help="look again for small faces in windows of a frame without a face")
    close_up: bool = option(False, boolean("use close_up=True for close-up keypoints of small faces"),
                            help="re-detect each small face in a close-up crop for precise keypoints")
    input_color: str = option("rgb", choice(INPUT_COLORS, "use rgb (the model's own input) or luma (gray pixels)"),
                              metavar="COLOR",
                              help="detector input: rgb, or luma (gray: colour and gray photos detect alike)")


class _DetectsFaces:
    """Options that run their own face detector from ``detector``/``min_confidence``/``num_threads``."""

    @property
    def detector_options(self) -> FaceDetectorOptions:
        return FaceDetectorOptions(model=self.detector, min_confidence=self.min_confidence,  # type: ignore[attr-defined]
                                   num_threads=self.num_threads)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class TrackerOptions(Options):
    """Options of :class:`edgekit.tracking.IouTracker`.

    Attributes:
        iou_threshold: minimum box IoU for a detection to continue a track.
        max_missed_frames: a track survives this many consecutive frames without a match,
            then expires (its id is never reused).
        time_constant_ms: time constant of each track's probability smoothing (0: off).
        keypoint_gate: a detection whose keypoints lie on average within this fraction of the
            track's box width from the track's keypoints continues it even below
            ``iou_threshold`` (fast motion); 0 disables the fallback.
    """

    iou_threshold: float = option(0.3, number(0, 1, lo_open=True, hint="0.3 is a good default"),
                                  help="minimum box IoU for a face to keep its track id")
    max_missed_frames: int = option(5, integer(0, hint="5 is a good default"),
                                    help="a track not matched for more consecutive frames expires")
    time_constant_ms: float = option(300.0, SMOOTHING_MS, metavar="MS", help="time constant of the smoothing, 0 = off")
    keypoint_gate: float = option(0.35, number(0, hint="0 disables the fallback"),
                                  help="keypoint distance (in box widths) that continues a track below the IoU")


@dataclass(frozen=True)
class EmotionClassifierOptions(ModelOptions):
    """Options of :class:`edgekit.EmotionClassifier`.

    Attributes:
        model: a manifest name (default ``"emotion"``, sha256-checked) or a ``.tflite`` path.
        num_threads: LiteRT CPU threads.
        flip_average: test-time augmentation: the mean of the probabilities of the crop and of its
            mirror image (twice the invoke time). Off here, so the classifier returns the model's
            own output; :class:`PipelineOptions` turns it on by default (+1.1 points on
            FER2013Valid, ``reports/emotion_robustness``).
    """

    model: PathLike = like(ModelOptions, "model", default="emotion")
    flip_average: bool = option(False, boolean("use flip_average=True"),
                                help="average the probabilities of the crop and its mirror image")


@dataclass(frozen=True)
class FaceEmbedderOptions(ModelOptions):
    """Options of :class:`edgekit.identity.FaceEmbedder`.

    Attributes:
        model: manifest name (default ``"identity"``, sha256-checked) or a ``.tflite`` path.
        num_threads: LiteRT CPU threads.
        threshold: same-person cosine similarity threshold; None: the manifest's.
    """

    model: PathLike = like(ModelOptions, "model", default="identity")
    threshold: Optional[float] = option(None, optional(SIMILARITY, "the model's"),
                                        help="same-person cosine similarity")


@renamed(detector_model="detector")
@dataclass(frozen=True)
class FaceIdentifierOptions(_DetectsFaces, FaceEmbedderOptions):
    """Options of :class:`edgekit.FaceIdentifier` (the embedder's, plus):

    Attributes:
        gallery_path: gallery file (default: ``identity_gallery.json`` in :func:`edgekit.userdata.data_dir`).
        margin: how far the closest enrolled person must beat the runner-up for ``identify`` to name
            them (default: the model's, measured on held-out people; 0 for models without one).
        detector, min_confidence: BlazeFace settings used for photos (``detector_model`` is the
            old name of ``detector``).
    """

    gallery_path: Optional[PathLike] = option(None, optional(path(), GALLERY_DEFAULT), metavar="FILE",
                                              help="gallery file")
    margin: Optional[float] = option(None, optional(MARGIN, "the model's"),
                                     help="how far the best match must beat the runner-up")
    detector: str = like(FaceDetectorOptions, "model")
    min_confidence: float = like(FaceDetectorOptions, "min_confidence")

    @property
    def embedder_options(self) -> FaceEmbedderOptions:
        return FaceEmbedderOptions(model=self.model, num_threads=self.num_threads, threshold=self.threshold)



@renamed(detector_model="detector")
@dataclass(frozen=True)
class FaceMeshOptions(_DetectsFaces, Options):
    """Options of :class:`edgekit.FaceMesh`.

    Attributes:
        detector: BlazeFace variant that finds the faces (``"short_range"``/``"full_range"``;
            ``detector_model`` is its old name).
        min_confidence: minimum face detection score in [0, 1].
        min_presence: minimum face-presence score of the landmark model (MediaPipe: 0.5).
        max_faces: mesh at most this many faces (largest first); None: all.
        num_threads: LiteRT CPU threads of each model.
    """

    detector: str = like(FaceDetectorOptions, "model")
    min_confidence: float = like(FaceDetectorOptions, "min_confidence")
    min_presence: float = option(MIN_PRESENCE, number(0, 1, hint="MediaPipe uses 0.5"),
                                 help="minimum face-presence score of the landmark model")
    max_faces: Optional[int] = like(FaceDetectorOptions, "max_faces", help="mesh at most N faces, largest first")
    num_threads: int = num_threads_option()



def _photo(value: Any) -> bool:
    """A path, or an image array (anything with a shape and a dtype: checked when it is read)."""
    if isinstance(value, (str, os.PathLike)):
        return bool(os.fspath(value))
    return hasattr(value, "shape") and hasattr(value, "dtype")


def _stream_baseline(value: Any) -> bool:
    """What :class:`edgekit.aus.StreamBaseline` does: ``baseline(track)`` and ``add(track, raw)``."""
    return callable(getattr(value, "baseline", None)) and callable(getattr(value, "add", None))


#: A person's neutral photo: a path or a BGR image array.
NEUTRAL_PHOTO = Check("a photo path or a BGR image array", _photo,
                      "pass the path (or the image) of a frontal photo of the person with a relaxed face")
#: A per-track running-median neutral (:class:`edgekit.aus.StreamBaseline`).
STREAM_BASELINE = Check("a StreamBaseline", _stream_baseline, "pass edgekit.aus.StreamBaseline()", parse=None)


@renamed(detector_model="detector")
@dataclass(frozen=True)
class ActionUnitReaderOptions(_DetectsFaces, Options):
    """Options of :class:`edgekit.aus.ActionUnitReader`.

    Attributes:
        num_threads: LiteRT CPU threads of the face mesh (and its detector); the one field, with
            ``neutral``, ``stream`` and ``detector`` after it, a constructor also takes positionally
            (``ActionUnitReader(2)``).
        neutral: a person's neutral photo (path or BGR array; its largest face is used): every face
            is measured against it instead of the population neutral.
        stream: a :class:`edgekit.aus.StreamBaseline` for videos (per-track running medians; opt-in
            in the pipeline, ``PipelineOptions.au_stream_neutral``); with a neutral photo as well
            the photo always wins (the stream is neither used nor fed).
        detector: BlazeFace variant that finds the faces of whole photos (``detector_model`` is its
            old name).
        min_confidence: minimum face detection score in [0, 1].
        min_presence: minimum face-presence score of the landmark model (MediaPipe: 0.5).
    """

    POSITIONAL = ("num_threads", "neutral", "stream", "detector")

    num_threads: int = num_threads_option()
    neutral: Optional[Any] = option(None, optional(NEUTRAL_PHOTO, "the population neutral"), metavar="PHOTO",
                                    help="a neutral photo of the person: action units are measured against it")
    stream: Optional[Any] = option(None, optional(STREAM_BASELINE, "no per-track neutral"),
                                   help="videos: a StreamBaseline (each face track's running median as its neutral)")
    detector: str = like(FaceDetectorOptions, "model")
    min_confidence: float = like(FaceDetectorOptions, "min_confidence")
    min_presence: float = like(FaceMeshOptions, "min_presence")

    @property
    def mesh_options(self) -> FaceMeshOptions:
        """The face mesh's options (all faces: the reader asks for the ones it needs)."""
        return FaceMeshOptions(detector=self.detector, min_confidence=self.min_confidence,
                               min_presence=self.min_presence, num_threads=self.num_threads)


@renamed(detector_model="detector")
@dataclass(frozen=True)
class ExplainerOptions(ModelOptions):
    """Options of :class:`edgekit.explain.Explainer`.

    Attributes:
        model: emotion model name or ``.tflite`` path (default: the shipped INT8 model).
        num_threads: LiteRT threads of each model.
        flip_average: explain the flip-averaged probabilities (what the pipeline reports by default).
        detector: BlazeFace variant (``detector_model`` is its old name).
    """

    model: PathLike = like(EmotionClassifierOptions, "model", help="emotion model: a bundled name or a .tflite path")
    flip_average: bool = like(EmotionClassifierOptions, "flip_average", default=True)
    detector: str = like(FaceDetectorOptions, "model")


# ----------------------------------------------------------------------------- the pipeline


@renamed(detector_model="detector")
@dataclass(frozen=True)
class PipelineOptions(Options):
    """Options of :class:`edgekit.Pipeline`, complete and valid once created. It composes the
    options of its parts: its detector and tracker fields are declared as (and validated like)
    those of :class:`FaceDetectorOptions` and :class:`TrackerOptions`, and :attr:`detector_options`,
    :attr:`tracker_options`, :attr:`emotion_options` and :attr:`identifier_options` build them.
    Field names are the command line's flags (``detector`` is ``--detector``).

    Attributes:
        running_mode: ``"image"``, ``"video"`` or ``"live_stream"`` (see :mod:`edgekit.pipeline`);
            each Pipeline method checks it.
        detector: BlazeFace variant, ``"short_range"`` (selfie distance) or ``"full_range"``
            (``detector_model`` is its old name). In image mode a photo without a face found whole
            is searched again in overlapping windows for small faces
            (``FaceDetectorOptions.small_faces``); video and live-stream modes skip that second
            look to keep the cost per frame bounded.
        min_confidence: minimum face detection score in [0, 1].
        max_faces: analyse at most this many faces per frame (best scores first); None: all.
        close_up: keypoints of small faces from a second, close-up detection
            (``FaceDetectorOptions.close_up``; off by default, see there for its measured cost and gain).
        input_color: what the detector sees, ``"rgb"`` (default) or ``"luma"``
            (``FaceDetectorOptions.input_color``).
        num_threads: LiteRT CPU threads of each model.
        emotion_model: bundled model name or ``.tflite`` path; None skips emotion
            classification (faces are returned with ``emotion=None``).
        flip_average: emotion probabilities are the mean of the aligned crop's and its mirror
            image's (one more classifier invoke per face; +1.1 points on FER2013Valid and fewer
            label flips between near-identical crops, ``reports/emotion_robustness``); False: one
            view, the model's own output (what ``EmotionClassifier`` returns by default).
        smoothing_ms: time constant of the probability smoothing in video/live-stream mode,
            in milliseconds; 0 turns smoothing off.
        tracker_iou: minimum box IoU for a face to keep its track id from one frame to the next.
        max_missed_frames: a track whose face is not found for more consecutive frames expires.
        result_callback: live-stream mode only: called as ``callback(result, image, timestamp_ms)``
            from the worker thread.
        identify: also tell who each face is (``FaceResult.identity``) with the gallery of
            :class:`edgekit.FaceIdentifier`; off by default.
        identity_model: identity model name or ``.tflite`` path (with ``identify``).
        gallery_path: gallery file (default: the one in the user data dir).
        identity_refresh_ms: video/live-stream: a tracked face is identified when its track
            starts and again at most this often (identity rarely changes within a track).
        action_units: also read facial action units from the face mesh (``FaceResult.aus``,
            :mod:`edgekit.aus`); off by default (the mesh costs ~2 ms per face). Activations are
            measured against the population neutral unless ``au_neutral`` or
            ``au_stream_neutral`` says otherwise.
        au_neutral: a neutral photo of the person (path): action units are measured against
            its face instead of the population neutral (with ``action_units``). It always wins
            over ``au_stream_neutral``.
        au_stream_neutral: video/live-stream: measure each face track against its own running
            median (per-person neutral, :class:`edgekit.aus.StreamBaseline`) once it has 30
            readings; off by default because it hurt on the validation video
            (``reports/action_units``: neutral-frame activation 0.058 -> 0.089, AU12 on smiling
            frames 0.66 -> 0.36: the median drifts towards whatever the person does most).
            Ignored in image mode and when ``au_neutral`` is given (with ``action_units``).
    """

    running_mode: str = option("image", choice(RUNNING_MODES, "use image for photos, video for frames with timestamps"))
    detector: str = like(FaceDetectorOptions, "model")
    min_confidence: float = like(FaceDetectorOptions, "min_confidence")
    max_faces: Optional[int] = like(FaceDetectorOptions, "max_faces",
                                    help="analyse at most N faces per image, best first")
    close_up: bool = like(FaceDetectorOptions, "close_up")
    input_color: str = like(FaceDetectorOptions, "input_color")
    num_threads: int = num_threads_option()
    emotion_model: Optional[PathLike] = option(
        "emotion", optional(model_ref(), "no emotion classification"), metavar="NAME|PATH",
        help="emotion model: a bundled model name (see `edgekit models`) or a .tflite path")
    flip_average: bool = like(EmotionClassifierOptions, "flip_average", default=True)
    smoothing_ms: float = like(TrackerOptions, "time_constant_ms",
                               help="videos: time constant of the emotion smoothing, 0 = off")
    tracker_iou: float = like(TrackerOptions, "iou_threshold")
    max_missed_frames: int = like(TrackerOptions, "max_missed_frames")
    result_callback: Optional[Callable[..., Any]] = option(
        None, optional(callable_("pass a function fn(result, image, timestamp_ms)")))
    identify: bool = option(False, boolean("use identify=True"),
                            help="also tell who each face is, from the gallery of `edgekit enroll`")
    identity_model: PathLike = like(FaceEmbedderOptions, "model", help="identity model: bundled name or .tflite path")
    gallery_path: Optional[PathLike] = like(FaceIdentifierOptions, "gallery_path")
    identity_refresh_ms: float = option(1000.0, number(0, hint="e.g. 1000"), metavar="MS",
                                        help="videos: identify a tracked face again at most this often")
    action_units: bool = option(False, boolean("use action_units=True"),
                                help="also read facial action units from the face mesh (about 2 ms per face)")
    au_neutral: Optional[PathLike] = option(
        None, optional(path("pass the path of a neutral photo of the person")), metavar="PHOTO",
        help="a neutral photo of the person: action units are measured against it (needs --action-units)")
    au_stream_neutral: bool = option(
        False, boolean("use au_stream_neutral=True"),
        help="videos: measure each face track against its own running median once it has 30 readings (off by default: "
             "it drifts when people smile a lot; an --au-neutral photo wins over it; needs --action-units)")

    def _check_together(self) -> None:
        if (self.running_mode == "live_stream") != (self.result_callback is not None):
            raise ConfigError("result_callback must be set in live_stream mode and only there",
                              f"running_mode={self.running_mode!r}",
                              "pass result_callback=fn(result, image, timestamp_ms) with running_mode='live_stream'")
        for name in ("au_neutral", "au_stream_neutral"):
            value = getattr(self, name)
            if value not in (None, False) and not self.action_units:
                raise ConfigError(f"{name} needs action_units=True", f"{name}={value!r}",
                                  f"pass action_units=True as well, or leave {name} out")

    @property
    def detector_options(self) -> FaceDetectorOptions:
        """The detector's options: photos get the small-face second look, a stream keeps a
        bounded cost per frame."""
        return FaceDetectorOptions(model=self.detector, min_confidence=self.min_confidence, max_faces=self.max_faces,
                                   num_threads=self.num_threads, small_faces=self.running_mode == "image",
                                   close_up=self.close_up, input_color=self.input_color)

    @property
    def tracker_options(self) -> TrackerOptions:
        return TrackerOptions(iou_threshold=self.tracker_iou, max_missed_frames=self.max_missed_frames,
                              time_constant_ms=self.smoothing_ms)

    @property
    def emotion_options(self) -> Optional[EmotionClassifierOptions]:
        """The classifier's options; None without an emotion model."""
        if self.emotion_model is None:
            return None
        return EmotionClassifierOptions(model=self.emotion_model, num_threads=self.num_threads,
                                        flip_average=self.flip_average)

    @property
    def identifier_options(self) -> FaceIdentifierOptions:
        return FaceIdentifierOptions(model=self.identity_model, gallery_path=self.gallery_path,
                                     num_threads=self.num_threads)


# ----------------------------------------------------------------------------- captions


def _ngram(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value in (0, *range(2, 9))


@dataclass(frozen=True)
class SamplingOptions(Options):
    """How the next token is drawn. ``temperature == 0`` means greedy (argmax).

    Repetition is controlled by ``no_repeat_ngram`` (a token that would repeat an n-gram already
    generated is never drawn). The per-token ``repetition_penalty`` is off by default: on a
    character-level vocabulary it penalises the second half of every doubled word, so 平平无奇
    came out as 平无奇 (issue #25).
    """

    temperature: float = option(0.9, number(0, 5), metavar="T", help="sampling temperature, 0 = greedy")
    top_k: int = option(40, integer(0), help="top-k sampling, 0 = off")
    top_p: float = option(0.95, number(0, 1, lo_open=True), help="nucleus sampling mass")
    repetition_penalty: float = option(1.0, number(1, 5), metavar="X",
                                       help="per-token penalty, 1 = off: above 1 it splits Chinese doubled words")
    max_new_tokens: int = option(48, integer(1, 64), metavar="N", help="max new tokens per caption")
    no_repeat_ngram: int = option(3, Check("0 (off) or an integer in [2, 8]", _ngram, parse=int), metavar="N",
                                  help="never repeat an n-gram of this size, 0 = off")


@dataclass(frozen=True)
class CaptionerOptions(Options):
    """Options of :class:`edgekit.captioning.Captioner`; it composes :class:`SamplingOptions`
    (its sampling fields are declared as those, :attr:`sampling` builds them).

    Attributes:
        model_path, tokenizer_path: caption ``.tflite`` and tokenizer file (default: the bundled,
            sha256-verified pair); the only fields a constructor also takes positionally.
        library_path, blocklist_path, voices_path: caption library TSV, blocklist and restyle
            voices (default: bundled).
        num_threads: LiteRT threads.
        seed: seed of the sampler (same seed + same calls = same captions).
        temperature, top_k, top_p, repetition_penalty, max_new_tokens, no_repeat_ngram: see
            :class:`SamplingOptions`.
        recent: how many recent outputs a new caption must differ from.
        max_attempts: model samples tried per caption before the library fallback.
    """

    POSITIONAL = ("model_path", "tokenizer_path")

    model_path: Optional[PathLike] = option(None, optional(path(), "bundled"), help="caption .tflite")
    tokenizer_path: Optional[PathLike] = option(None, optional(path(), "bundled"), help="caption tokenizer")
    library_path: Optional[PathLike] = option(None, optional(path(), "bundled"), help="caption library TSV")
    blocklist_path: Optional[PathLike] = option(None, optional(path(), "bundled"), help="blocklist")
    voices_path: Optional[PathLike] = option(None, optional(path(), "bundled"), help="restyle voices TSV")
    num_threads: int = num_threads_option()
    seed: Optional[int] = option(None, SEED, metavar="N", help="sampling seed (same seed, same captions)")
    temperature: float = like(SamplingOptions, "temperature")
    top_k: int = like(SamplingOptions, "top_k")
    top_p: float = like(SamplingOptions, "top_p")
    repetition_penalty: float = like(SamplingOptions, "repetition_penalty")
    max_new_tokens: int = like(SamplingOptions, "max_new_tokens")
    no_repeat_ngram: int = like(SamplingOptions, "no_repeat_ngram")
    recent: int = option(64, integer(1, 10_000), help="how many recent outputs a new caption must differ from")
    max_attempts: int = option(8, integer(1, 10), help="model samples tried per caption before the library fallback")

    def _check_together(self) -> None:
        if (self.model_path is None) != (self.tokenizer_path is None):
            raise ConfigError("pass both model_path and tokenizer_path, or neither (bundled model)",
                              f"model_path={self.model_path!r}, tokenizer_path={self.tokenizer_path!r}")

    @property
    def sampling(self) -> SamplingOptions:
        return SamplingOptions(self.temperature, self.top_k, self.top_p, self.repetition_penalty, self.max_new_tokens,
                               self.no_repeat_ngram)


__all__ = ["ActionUnitReaderOptions", "CaptionerOptions", "DETECTOR_MODELS", "EmotionClassifierOptions",
           "ExplainerOptions", "FaceDetectorOptions", "FaceEmbedderOptions", "FaceIdentifierOptions", "FaceMeshOptions",
           "MARGIN", "MIN_PRESENCE", "NEUTRAL_PHOTO", "NMS_METHODS", "PipelineOptions", "RUNNING_MODES", "SEED",
           "SIMILARITY", "SMOOTHING_MS", "STREAM_BASELINE", "SamplingOptions", "TrackerOptions"]
