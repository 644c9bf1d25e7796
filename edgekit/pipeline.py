"""``Pipeline``: detect -> align -> classify every face of an image or video frame.

The API follows MediaPipe Tasks: a :class:`PipelineOptions` dataclass with a ``running_mode``,
``Pipeline.create_from_options(options)``, ``process(image)`` for images and
``process(frame, timestamp_ms)`` for video frames, ``process_async`` for live streams.

- ``"image"``: every call is independent; no track ids, no smoothing.
- ``"video"``: faces keep a track id from frame to frame and their probabilities are smoothed
  over time (EMA with a time constant, see :mod:`edgekit.tracking`); timestamps must increase.
- ``"live_stream"``: ``process_async(frame, timestamp_ms)`` hands the frame to a worker thread
  and returns at once; results (with video-mode tracking) arrive in ``result_callback``. When
  frames come faster than they are processed, only the newest waiting frame is kept.

:func:`analyze` is the one-call API on a cached image-mode pipeline.
"""
from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, fields, replace
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, Union

import numpy as np

from .alignment import FaceAligner
from .detection import FaceDetector, FaceDetectorOptions
from .emotion import EmotionClassifier
from .errors import ConfigError, InputError
from .imageio import ImageSource, load_image
from .results import Detection, EmotionResult, FaceResult, FrameResult, IdentityResult, StageTimings
from .tracking import DEFAULT_FRAME_INTERVAL_MS, IouTracker
from .video import VideoFrame, VideoReader, VideoSource

RUNNING_MODES = ("image", "video", "live_stream")
#: ``result_callback(result, image, timestamp_ms)`` of the live-stream mode.
ResultCallback = Callable[[FrameResult, np.ndarray, float], None]


@dataclass(frozen=True)
class PipelineOptions:
    """Options of :class:`Pipeline` (validated when the pipeline is created).

    Attributes:
        running_mode: ``"image"``, ``"video"`` or ``"live_stream"`` (see the module docstring).
        detector_model: BlazeFace variant, ``"short_range"`` (selfie distance) or ``"full_range"``.
            In image mode a photo without a face found whole is searched again in overlapping
            windows for small faces (``FaceDetectorOptions.small_faces``); video and live-stream
            modes skip that second look to keep the cost per frame bounded.
        min_confidence: minimum face detection score in [0, 1].
        max_faces: analyse at most this many faces per frame (best scores first); None: all.
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

    running_mode: str = "image"
    detector_model: str = "short_range"
    min_confidence: float = 0.5
    max_faces: Optional[int] = None
    num_threads: int = 1
    emotion_model: Optional[Union[str, "os.PathLike[str]"]] = "emotion"
    flip_average: bool = True
    smoothing_ms: float = 300.0
    tracker_iou: float = 0.3
    max_missed_frames: int = 5
    result_callback: Optional[ResultCallback] = None
    identify: bool = False
    identity_model: Union[str, "os.PathLike[str]"] = "identity"
    gallery_path: Optional[Union[str, "os.PathLike[str]"]] = None
    identity_refresh_ms: float = 1000.0
    action_units: bool = False
    au_neutral: Optional[Union[str, "os.PathLike[str]"]] = None
    au_stream_neutral: bool = False

    def __post_init__(self) -> None:
        if self.running_mode not in RUNNING_MODES:
            raise ConfigError(f"unknown running_mode {self.running_mode!r} (valid: {', '.join(RUNNING_MODES)})",
                              hint="use image for photos, video for frames with timestamps")
        if (self.running_mode == "live_stream") != (self.result_callback is not None):
            raise ConfigError("result_callback must be set in live_stream mode and only there",
                              f"running_mode={self.running_mode!r}",
                              "pass result_callback=fn(result, image, timestamp_ms) with running_mode='live_stream'")
        if self.result_callback is not None and not callable(self.result_callback):
            raise ConfigError("result_callback must be callable", f"result_callback={self.result_callback!r}",
                              "pass a function fn(result, image, timestamp_ms)")
        if not isinstance(self.identify, bool):
            raise ConfigError(f"identify must be True or False, got {self.identify!r}", hint="use identify=True")
        refresh = self.identity_refresh_ms
        if isinstance(refresh, bool) or not isinstance(refresh, (int, float)) or not 0 <= refresh < float("inf"):
            raise ConfigError(f"identity_refresh_ms must be a finite number >= 0, got {refresh!r}", hint="e.g. 1000")
        if not isinstance(self.action_units, bool):
            raise ConfigError(f"action_units must be True or False, got {self.action_units!r}", hint="use action_units=True")
        if self.au_neutral is not None and not self.action_units:
            raise ConfigError("au_neutral needs action_units=True", f"au_neutral={self.au_neutral!r}",
                              "pass action_units=True as well, or leave au_neutral out")
        if self.au_neutral is not None and not isinstance(self.au_neutral, (str, os.PathLike)):
            raise ConfigError(f"au_neutral must be a photo path, got {type(self.au_neutral).__name__}",
                              hint="pass the path of a neutral photo of the person")
        if not isinstance(self.au_stream_neutral, bool):
            raise ConfigError(f"au_stream_neutral must be True or False, got {self.au_stream_neutral!r}",
                              hint="use au_stream_neutral=True")
        if self.au_stream_neutral and not self.action_units:
            raise ConfigError("au_stream_neutral needs action_units=True", "au_stream_neutral=True",
                              "pass action_units=True as well, or leave au_stream_neutral out")

    @classmethod
    def from_kwargs(cls, base: Optional["PipelineOptions"] = None, **kwargs: Any) -> "PipelineOptions":
        """``base`` (default options) with ``kwargs`` replaced; unknown names raise ConfigError."""
        unknown = sorted(set(kwargs) - {f.name for f in fields(cls)})
        if unknown:
            raise ConfigError(f"unknown pipeline option(s) {', '.join(unknown)}",
                              hint=f"valid options: {', '.join(f.name for f in fields(cls))}")
        return replace(base or cls(), **kwargs)


class Pipeline:
    """Face detection + alignment + emotion classification.

    ``Pipeline(options)``, ``Pipeline(**option_kwargs)`` and ``Pipeline(options, **overrides)``
    are all accepted. Loads the models once; use it as a context manager or call :meth:`close`.
    Calls are serialised with a lock, so a pipeline may be shared between threads (one frame at
    a time); create one pipeline per thread for parallelism.
    """

    def __init__(self, options: Optional[PipelineOptions] = None, **kwargs: Any) -> None:
        if options is not None and not isinstance(options, PipelineOptions):
            raise ConfigError(f"options must be a PipelineOptions, got {type(options).__name__}",
                              hint="or pass the options as keyword arguments")
        self.options = opts = PipelineOptions.from_kwargs(options, **kwargs)
        self._new_tracker()  # validates the tracking options before any model is loaded
        # photos get the small-face second look; a stream keeps a bounded cost per frame
        self.detector = FaceDetector(FaceDetectorOptions(
            model=opts.detector_model, min_confidence=opts.min_confidence, max_faces=opts.max_faces,
            num_threads=opts.num_threads, small_faces=opts.running_mode == "image"))
        self.classifier: Optional[EmotionClassifier] = None
        self.aligner: Optional[FaceAligner] = None
        if opts.emotion_model is not None:
            self.classifier = EmotionClassifier(opts.emotion_model, num_threads=opts.num_threads, flip_average=opts.flip_average)
            self.aligner = FaceAligner.for_classifier(self.classifier)
        self.identifier = None
        if opts.identify:
            from .identity import FaceIdentifier

            self.identifier = FaceIdentifier(opts.identity_model, gallery_path=opts.gallery_path, num_threads=opts.num_threads)
        # Identity per track id of the tracker last seen (a new video brings a new tracker).
        self._identity_tracker: Optional[IouTracker] = None
        self._track_identities: Dict[Optional[int], Tuple[IdentityResult, float]] = {}
        self.au_reader = None
        self._au_tracker: Optional[IouTracker] = None
        if opts.action_units:
            from .aus import ActionUnitReader, StreamBaseline

            # the running median is opt-in, and an enrolled neutral photo always wins over it
            stream = (StreamBaseline() if opts.au_stream_neutral and opts.running_mode != "image"
                      and opts.au_neutral is None else None)
            try:
                self.au_reader = ActionUnitReader(opts.num_threads, neutral=opts.au_neutral, stream=stream,
                                                  detector_model=opts.detector_model)
            except BaseException:
                self._close_models()
                raise
        self._lock = threading.Lock()
        self._closed = False
        self._tracker = self._new_tracker() if opts.running_mode != "image" else None
        self._last_ts: Optional[float] = None
        self._live = _LiveStream(self, opts.result_callback) if opts.result_callback else None

    @classmethod
    def create_from_options(cls, options: PipelineOptions) -> "Pipeline":
        """MediaPipe-Tasks-style constructor."""
        return cls(options)

    @property
    def labels(self) -> Tuple[str, ...]:
        """Emotion labels of the classifier (empty without one)."""
        return self.classifier.labels if self.classifier else ()

    # ------------------------------------------------------------------------------ public API

    def process(self, image: ImageSource, timestamp_ms: Optional[float] = None) -> FrameResult:
        """Analyse one image (path or BGR array, see :func:`edgekit.load_image`).

        In video mode ``timestamp_ms`` must increase from call to call (default: previous + 1/30 s);
        in image mode it is only recorded in the result.
        """
        if self._live is not None:
            raise ConfigError("process() is not available in live_stream mode", "running_mode='live_stream'",
                              "call process_async(image, timestamp_ms)")
        with self._lock:
            self._check_open()
            if self._tracker is None:
                return self._analyze(image, timestamp_ms, None)
            return self._analyze(image, self._advance_clock(timestamp_ms), self._tracker)

    def process_async(self, image: ImageSource, timestamp_ms: float) -> None:
        """Live-stream mode: queue ``image`` for the worker thread and return immediately."""
        if self._live is None:
            raise ConfigError("process_async() needs running_mode='live_stream'",
                              f"running_mode={self.options.running_mode!r}", "use process() or process_video()")
        bgr = np.array(load_image(image), copy=True)  # the caller may reuse its buffer
        with self._lock:
            self._check_open()
            ts = self._advance_clock(timestamp_ms)
        self._live.submit(bgr, ts)

    def stream_video(self, source: Union[VideoSource, VideoReader], *, max_frames: Optional[int] = None
                     ) -> Iterator[Tuple[VideoFrame, FrameResult]]:
        """Decode ``source`` (video path, camera index or an open :class:`VideoReader`) frame by
        frame and yield ``(frame, result)`` pairs (``max_frames`` caps a path or camera; a reader
        keeps its own). Every video gets fresh tracks and smoothing (video semantics whatever
        ``running_mode`` is); frames are never all held in memory."""
        if self._live is not None:
            raise ConfigError("process_video() is not available in live_stream mode", "running_mode='live_stream'",
                              "call process_async() for each frame")
        tracker = self._new_tracker()
        reader = source if isinstance(source, VideoReader) else VideoReader(source, max_frames=max_frames)
        with reader:
            for frame in reader:
                with self._lock:
                    self._check_open()
                    result = self._analyze(frame.image, frame.timestamp_ms, tracker)
                result.source, result.frame_index = reader.name, frame.index
                yield frame, result

    def process_video(self, source: Union[VideoSource, VideoReader], *, max_frames: Optional[int] = None
                      ) -> Iterator[FrameResult]:
        """Like :meth:`stream_video`, yielding only the :class:`FrameResult` of each frame."""
        for _, result in self.stream_video(source, max_frames=max_frames):
            yield result

    def reset(self) -> None:
        """Video mode: forget tracks, smoothing state and the last timestamp (before a new video;
        track ids start again at 1, as in every :meth:`process_video` call)."""
        with self._lock:
            self._tracker = self._new_tracker() if self._tracker is not None else None
            self._last_ts = None

    def close(self) -> None:
        """Stop the live-stream worker (after it finishes queued frames) and free the models.

        Safe while other threads are in :meth:`process`: it waits for the frame in progress; their
        later calls raise ConfigError ("the pipeline is closed"). Closing twice is harmless."""
        if self._live is not None:
            self._live.close()
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._close_models()
            if self.au_reader is not None:
                self.au_reader.close()

    def _close_models(self) -> None:
        self.detector.close()
        if self.classifier is not None:
            self.classifier.close()
        if self.identifier is not None:
            self.identifier.close()

    def _check_open(self) -> None:
        if self._closed:
            raise ConfigError("the pipeline is closed", hint="create a new Pipeline (or use it inside its `with` block)")

    def __enter__(self) -> "Pipeline":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Pipeline({self.options!r})"

    # ------------------------------------------------------------------------------ internals

    def _new_tracker(self) -> IouTracker:
        o = self.options
        return IouTracker(iou_threshold=o.tracker_iou, max_missed_frames=o.max_missed_frames,
                          time_constant_ms=o.smoothing_ms)

    def _advance_clock(self, timestamp_ms: Optional[float]) -> float:
        if timestamp_ms is None:
            ts = 0.0 if self._last_ts is None else self._last_ts + DEFAULT_FRAME_INTERVAL_MS
        else:
            try:
                ts = float(timestamp_ms)
            except (TypeError, ValueError):
                ts = float("nan")  # reported below like any other unusable timestamp
            if not np.isfinite(ts) or (self._last_ts is not None and ts <= self._last_ts):
                raise InputError(f"must be a finite number greater than the previous frame's ({self._last_ts})",
                                 f"timestamp_ms={timestamp_ms!r}",
                                 "pass increasing timestamps, or call reset() before a new video")
        self._last_ts = ts
        return ts

    def _analyze(self, image: ImageSource, timestamp_ms: Optional[float],
                 tracker: Optional[IouTracker]) -> FrameResult:
        timings = StageTimings()
        t0 = time.perf_counter()
        bgr = load_image(image)
        t1 = time.perf_counter()
        detections = self.detector.detect(bgr)
        t2 = time.perf_counter()
        timings.decode_ms, timings.detect_ms = (t1 - t0) * 1e3, (t2 - t1) * 1e3
        emotions = [self._classify(bgr, det, timings) for det in detections]
        faces = [FaceResult(det, emo, raw_emotion=emo) for det, emo in zip(detections, emotions)]
        if tracker is not None:
            t3 = time.perf_counter()
            self._track(faces, tracker, timestamp_ms)
            timings.track_ms = (time.perf_counter() - t3) * 1e3
        if self.identifier is not None:
            t4 = time.perf_counter()
            self._identify(bgr, faces, tracker, timestamp_ms)
            timings.identify_ms = (time.perf_counter() - t4) * 1e3
        if self.au_reader is not None:
            t5 = time.perf_counter()
            self._read_aus(bgr, faces, tracker)
            timings.aus_ms = (time.perf_counter() - t5) * 1e3
        timings.total_ms = (time.perf_counter() - t0) * 1e3
        source = os.fspath(image) if isinstance(image, (str, os.PathLike)) else None
        return FrameResult(faces, timings, source=source, timestamp_ms=timestamp_ms,
                           image_size=(int(bgr.shape[1]), int(bgr.shape[0])))

    def _classify(self, bgr: np.ndarray, det: Detection, timings: StageTimings) -> Optional[EmotionResult]:
        if self.classifier is None or self.aligner is None:
            return None
        t0 = time.perf_counter()
        crop = self.aligner.align(bgr, det).image
        t1 = time.perf_counter()
        emotion = self.classifier.predict_aligned(crop)
        timings.align_ms += (t1 - t0) * 1e3
        timings.classify_ms += (time.perf_counter() - t1) * 1e3
        return emotion

    def _identify(self, bgr: np.ndarray, faces: List[FaceResult], tracker: Optional[IouTracker],
                  timestamp_ms: Optional[float]) -> None:
        """Identity of every face; tracked faces reuse their track's identity until it is
        ``identity_refresh_ms`` old."""
        identifier = self.identifier
        if identifier is None:
            return
        if tracker is not self._identity_tracker:
            self._identity_tracker, self._track_identities = tracker, {}
        cache = self._track_identities if tracker is not None else None
        now = float(timestamp_ms or 0.0)
        for face in faces:
            cached = cache.get(face.track_id) if cache is not None else None
            if cached is not None and now - cached[1] < self.options.identity_refresh_ms:
                face.identity = cached[0]
                continue
            face.identity = identifier.identify_embedding(identifier.embed_detection(bgr, face.detection))
            if cache is not None:
                cache[face.track_id] = (face.identity, now)
        if cache is not None and len(cache) > 64:  # forget tracks not seen for a while
            for track_id in [k for k, (_, ts) in cache.items() if now - ts > 10 * max(self.options.identity_refresh_ms, 1.0)]:
                del cache[track_id]

    def _read_aus(self, bgr: np.ndarray, faces: List[FaceResult], tracker: Optional[IouTracker]) -> None:
        """Action units of every face; with ``au_stream_neutral`` tracked faces feed and use their
        track's running median."""
        reader = self.au_reader
        if reader is None:
            return
        if reader.stream is not None and tracker is not self._au_tracker:
            self._au_tracker = tracker  # a new video: new people, new baselines
            reader.stream.reset()
        for face in faces:
            face.aus = reader.read(bgr, face.detection, face.track_id if tracker is not None else None)
        if reader.stream is not None and tracker is not None:
            reader.stream.forget([t.track_id for t in tracker.tracks])

    def _track(self, faces: List[FaceResult], tracker: IouTracker, timestamp_ms: float) -> None:
        tracks = tracker.update([f.detection for f in faces], timestamp_ms)
        labels = self.labels
        for face, track in zip(faces, tracks):
            face.track_id = track.track_id
            if face.raw_emotion is not None:
                raw = np.array([face.raw_emotion.probs[label] for label in labels])
                face.emotion = EmotionResult.from_probs(labels, track.smooth(raw, timestamp_ms))


class _LiveStream:
    """Worker thread of the live-stream mode: processes the newest submitted frame."""

    def __init__(self, pipeline: Pipeline, callback: ResultCallback) -> None:
        self._pipeline, self._callback = pipeline, callback
        self._cond = threading.Condition()
        self._pending: Optional[Tuple[np.ndarray, float]] = None
        self._closed = False
        self._error: Optional[BaseException] = None
        #: Frames replaced by a newer one before the worker got to them.
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="edgekit-live-stream", daemon=True)
        self._thread.start()

    def submit(self, image: np.ndarray, timestamp_ms: float) -> None:
        with self._cond:
            self._raise_pending_error()
            if self._closed:
                raise ConfigError("the pipeline is closed", hint="create a new Pipeline")
            self.dropped += self._pending is not None
            self._pending = (image, timestamp_ms)
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._closed:
                    self._cond.wait()
                if self._pending is None:
                    return
                (image, ts), self._pending = self._pending, None
            try:
                p = self._pipeline
                with p._lock:
                    result = p._analyze(image, ts, p._tracker)
                self._callback(result, image, ts)
            except BaseException as exc:  # surfaced in the caller's thread by the next call
                with self._cond:
                    self._error = self._error or exc

    def _raise_pending_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join()
        with self._cond:
            self._raise_pending_error()


# ------------------------------------------------------------------------------------ analyze()

_DEFAULT_PIPELINES: "OrderedDict[tuple, Pipeline]" = OrderedDict()
_DEFAULT_LOCK = threading.Lock()
_MAX_CACHED = 4


def analyze(image: ImageSource, **options: Any) -> List[FaceResult]:
    """Faces in ``image`` (path or BGR array) with their emotions; ``[]`` when there is none.

    ``options`` are :class:`PipelineOptions` fields (image mode). The pipeline built for a set
    of options is cached, so repeated calls load the models once.
    """
    if options.get("running_mode", "image") != "image":
        raise ConfigError("analyze() runs in image mode", f"running_mode={options['running_mode']!r}",
                          "use Pipeline(running_mode=...) for video or live streams")
    opts = PipelineOptions.from_kwargs(**options)
    # Keyed by value *and* type: False == 0 and 1.0 == 1, but only the int is a valid option, so
    # a cached pipeline must never stand in for options that Pipeline() would refuse.
    key = tuple((f.name, type(getattr(opts, f.name)), getattr(opts, f.name)) for f in fields(opts))
    try:
        hash(key)
    except TypeError:  # an option value such as a list cannot key the cache: Pipeline() reports it
        with Pipeline(opts) as pipe:
            return pipe.process(image).faces
    with _DEFAULT_LOCK:
        pipe = _DEFAULT_PIPELINES.pop(key, None) or Pipeline(opts)
        _DEFAULT_PIPELINES[key] = pipe  # most recently used last
        while len(_DEFAULT_PIPELINES) > _MAX_CACHED:  # evicted pipelines are freed once no call uses them
            _DEFAULT_PIPELINES.popitem(last=False)
    return pipe.process(image).faces


def clear_cache() -> None:
    """Forget the pipelines cached by :func:`analyze` (their models are freed once unused)."""
    with _DEFAULT_LOCK:
        _DEFAULT_PIPELINES.clear()


__all__ = ["Pipeline", "PipelineOptions", "analyze", "clear_cache", "RUNNING_MODES"]
