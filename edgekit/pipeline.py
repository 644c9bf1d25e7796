"""``Pipeline``: detect -> align -> classify every face of an image or video frame.

The API follows MediaPipe Tasks: a :class:`PipelineOptions` dataclass with a ``running_mode``,
``Pipeline.create_from_options(options)``, ``process(image)`` for images and
``process(frame, timestamp_ms)`` for video frames, ``process_async`` for live streams.
The frame is validated once, where it enters (``imageio.load_image``); the stages after it take
the array as it is, and each :class:`FrameResult` is built once, after the last stage.

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
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Optional, Tuple, Union

import numpy as np

from .alignment import FaceAligner
from .detection import FaceDetector
from .emotion import EmotionClassifier
from .errors import ConfigError, InputError
from .imageio import ImageSource, load_image
from .options import CreateFromOptions, options_from
from .results import Detection, EmotionResult, FaceResult, FrameResult, IdentityResult, StageTimings
from .task_options import RUNNING_MODES, PipelineOptions
from .tracking import DEFAULT_FRAME_INTERVAL_MS, IouTracker
from .video import VideoFrame, VideoReader, VideoSource

if TYPE_CHECKING:
    from .aus import ActionUnits

#: ``result_callback(result, image, timestamp_ms)`` of the live-stream mode.
ResultCallback = Callable[[FrameResult, np.ndarray, float], None]
#: The running modes each method serves (MediaPipe's detect / detect_for_video / detect_async
#: contract); any other mode raises ConfigError. ``reset`` and ``close`` serve every mode.
METHOD_MODES: Dict[str, Tuple[str, ...]] = {
    "process": ("image", "video"),
    "decode_and_process": ("image", "video"),
    "stream_video": ("image", "video"),
    "process_video": ("image", "video"),
    "process_async": ("live_stream",),
}
_CALL_IN_MODE = {"image": "process(image)", "video": "process(frame, timestamp_ms) or process_video(source)",
                 "live_stream": "process_async(frame, timestamp_ms)"}


class Pipeline(CreateFromOptions):
    """Face detection + alignment + emotion classification.

    ``Pipeline(options)``, ``Pipeline(**fields)``, ``Pipeline(options, **overrides)`` and
    ``Pipeline.create_from_options(options)`` (see :class:`PipelineOptions`). Loads the models
    once; use it as a context manager or call :meth:`close`. Each method checks the running mode
    (:data:`METHOD_MODES`). Calls are serialised with a lock, so a pipeline may be shared between
    threads (one frame at a time); create one pipeline per thread for parallelism.
    """

    OPTIONS = PipelineOptions

    def __init__(self, options: Optional[PipelineOptions] = None, **kwargs: Any) -> None:
        self.options = opts = options_from(PipelineOptions, options, kwargs)
        self.detector = FaceDetector(opts.detector_options)
        self.classifier: Optional[EmotionClassifier] = None
        self.aligner: Optional[FaceAligner] = None
        if opts.emotion_options is not None:
            self.classifier = EmotionClassifier(opts.emotion_options)
            self.aligner = FaceAligner.for_classifier(self.classifier)
        self.identifier = None
        if opts.identify:
            from .identity import FaceIdentifier

            self.identifier = FaceIdentifier(opts.identifier_options)
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
                self.au_reader = ActionUnitReader(num_threads=opts.num_threads, neutral=opts.au_neutral, stream=stream,
                                                  detector=opts.detector)
            except BaseException:
                self._close_models()
                raise
        self._lock = threading.Lock()
        self._closed = False
        self._tracker = self._new_tracker() if opts.running_mode != "image" else None
        self._last_ts: Optional[float] = None
        self._live = _LiveStream(self, opts.result_callback) if opts.result_callback else None

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
        self._check_mode("process")
        return self._process(image, timestamp_ms)[1]

    def decode_and_process(self, image: ImageSource, timestamp_ms: Optional[float] = None
                           ) -> Tuple[np.ndarray, FrameResult]:
        """Like :meth:`process`, also returning the BGR pixels it analysed: a file is decoded once,
        for the analysis and, say, an annotated copy (as :meth:`stream_video` yields each frame)."""
        self._check_mode("decode_and_process")
        return self._process(image, timestamp_ms)

    def process_async(self, image: ImageSource, timestamp_ms: float) -> None:
        """Live-stream mode: queue ``image`` for the worker thread and return immediately."""
        self._check_mode("process_async")
        started = time.perf_counter()
        bgr = np.array(load_image(image), copy=True)  # validated here, once; the caller may reuse its buffer
        decode_ms = (time.perf_counter() - started) * 1e3
        with self._lock:
            self._check_open()
            ts = self._advance_clock(timestamp_ms)
        assert self._live is not None  # live_stream mode always has its worker
        self._live.submit(_Frame(bgr, ts, decode_ms))

    def stream_video(self, source: Union[VideoSource, VideoReader], *, max_frames: Optional[int] = None
                     ) -> Iterator[Tuple[VideoFrame, FrameResult]]:
        """Decode ``source`` (video path, camera index or an open :class:`VideoReader`) frame by
        frame and yield ``(frame, result)`` pairs (``max_frames`` caps a path or camera; a reader
        keeps its own). Every video gets fresh tracks and smoothing (video semantics in image mode
        too); frames are never all held in memory."""
        self._check_mode("stream_video")
        return self._stream(source, max_frames)

    def process_video(self, source: Union[VideoSource, VideoReader], *, max_frames: Optional[int] = None
                      ) -> Iterator[FrameResult]:
        """Like :meth:`stream_video`, yielding only the :class:`FrameResult` of each frame."""
        self._check_mode("process_video")
        return (result for _, result in self._stream(source, max_frames))

    def _stream(self, source: Union[VideoSource, VideoReader], max_frames: Optional[int]
                ) -> Iterator[Tuple[VideoFrame, FrameResult]]:
        tracker = self._new_tracker()
        reader = source if isinstance(source, VideoReader) else VideoReader(source, max_frames=max_frames)
        with reader:
            for frame in reader:
                with self._lock:
                    self._check_open()
                    _, result = self._load_and_analyze(frame.image, frame.timestamp_ms, tracker, reader.name,
                                                       frame.index)
                yield frame, result

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

    def _check_mode(self, method: str) -> None:
        """ConfigError unless ``method`` serves this pipeline's running mode (:data:`METHOD_MODES`)."""
        mode, modes = self.options.running_mode, METHOD_MODES[method]
        if mode not in modes:
            raise ConfigError(f"{method}() is not available in {mode} mode (it serves {' and '.join(modes)})",
                              f"running_mode={mode!r}",
                              f"call {_CALL_IN_MODE[mode]}, or create the pipeline with running_mode={modes[0]!r}")

    def _check_open(self) -> None:
        if self._closed:
            raise ConfigError("the pipeline is closed",
                              hint="create a new Pipeline (or use it inside its `with` block)")

    def __enter__(self) -> "Pipeline":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Pipeline({self.options!r})"

    # ------------------------------------------------------------------------------ internals

    def _new_tracker(self) -> IouTracker:
        return IouTracker(self.options.tracker_options)

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

    def _process(self, image: ImageSource, timestamp_ms: Optional[float]) -> Tuple[np.ndarray, FrameResult]:
        with self._lock:
            self._check_open()
            ts = timestamp_ms if self._tracker is None else self._advance_clock(timestamp_ms)
            return self._load_and_analyze(image, ts, self._tracker)

    def _load_and_analyze(self, image: ImageSource, timestamp_ms: Optional[float], tracker: Optional[IouTracker],
                          source: Optional[str] = None, frame_index: Optional[int] = None
                          ) -> Tuple[np.ndarray, FrameResult]:
        """The public boundary of a frame: :func:`load_image` validates (or decodes) it, once; every
        stage after it takes the array as it is."""
        started = time.perf_counter()
        bgr = load_image(image)
        decode_ms = (time.perf_counter() - started) * 1e3
        if source is None and isinstance(image, (str, os.PathLike)):
            source = os.fspath(image)
        return bgr, self._analyze(_Frame(bgr, timestamp_ms, decode_ms, source, frame_index), tracker)

    def _analyze(self, frame: _Frame, tracker: Optional[IouTracker]) -> FrameResult:
        """Every stage on a validated frame; the results are built once, at the end."""
        bgr, ts = frame.image, frame.timestamp_ms
        stages = _Stopwatch()
        pairs = stages.run("detect", self.detector._detect_pairs, bgr)
        detections = [refined for _, refined in pairs]  # reported, and what emotion is classified on
        first_pass = [found for found, _ in pairs]  # identity and AUs: the keypoints they were calibrated on
        raw, align_ms, classify_ms = self._classify(bgr, detections)
        track_ids: List[Optional[int]] = [None] * len(detections)
        emotions = raw
        if tracker is not None:
            track_ids, emotions = stages.run("track", self._track, detections, raw, tracker, ts)
        none: List[Any] = [None] * len(detections)
        identities = none if self.identifier is None else stages.run(
            "identify", self._identify, bgr, first_pass, track_ids, tracker, ts)
        aus = none if self.au_reader is None else stages.run("aus", self._read_aus, bgr, first_pass, track_ids, tracker)
        faces = [FaceResult(det, emotion, track_id=track_id, raw_emotion=raw_emotion, identity=identity, aus=au)
                 for det, emotion, track_id, raw_emotion, identity, au in zip(detections, emotions, track_ids, raw,
                                                                              identities, aus)]
        timings = StageTimings(decode_ms=frame.decode_ms, align_ms=align_ms, classify_ms=classify_ms,
                               total_ms=frame.decode_ms + stages.elapsed_ms(), **stages.ms)
        return FrameResult(faces, timings, source=frame.source, frame_index=frame.frame_index, timestamp_ms=ts,
                           image_size=(int(bgr.shape[1]), int(bgr.shape[0])))

    def _classify(self, bgr: np.ndarray, detections: List[Detection]
                  ) -> Tuple[List[Optional[EmotionResult]], float, float]:
        """The emotion of every face (None without a classifier), and the ms spent aligning and classifying."""
        if self.classifier is None or self.aligner is None:
            return [None] * len(detections), 0.0, 0.0
        emotions: List[Optional[EmotionResult]] = []
        align_s = classify_s = 0.0
        for det in detections:
            t0 = time.perf_counter()
            crop = self.aligner._align_checked(bgr, det).image
            t1 = time.perf_counter()
            emotions.append(self.classifier.predict_aligned(crop))
            align_s, classify_s = align_s + t1 - t0, classify_s + time.perf_counter() - t1
        return emotions, align_s * 1e3, classify_s * 1e3

    def _track(self, detections: List[Detection], raw: List[Optional[EmotionResult]], tracker: IouTracker,
               timestamp_ms: float) -> Tuple[List[Optional[int]], List[Optional[EmotionResult]]]:
        """Track ids, and each face's probability vector smoothed over its track."""
        tracks = tracker.update(detections, timestamp_ms)
        smoothed = [None if emo is None else EmotionResult(emo.labels, track.smooth(emo.vector, timestamp_ms))
                    for emo, track in zip(raw, tracks)]
        return [track.track_id for track in tracks], smoothed

    def _identify(self, bgr: np.ndarray, detections: List[Detection], track_ids: List[Optional[int]],
                  tracker: Optional[IouTracker], timestamp_ms: Optional[float]) -> List[IdentityResult]:
        """Identity of every face; tracked faces reuse their track's identity until it is
        ``identity_refresh_ms`` old."""
        identifier = self.identifier
        assert identifier is not None
        if tracker is not self._identity_tracker:
            self._identity_tracker, self._track_identities = tracker, {}
        cache = self._track_identities if tracker is not None else None
        now = float(timestamp_ms or 0.0)
        identities = []
        for det, track_id in zip(detections, track_ids):
            cached = cache.get(track_id) if cache is not None else None
            if cached is not None and now - cached[1] < self.options.identity_refresh_ms:
                identities.append(cached[0])
                continue
            identity = identifier.identify_embedding(identifier._embed_checked(bgr, det))
            if cache is not None:
                cache[track_id] = (identity, now)
            identities.append(identity)
        if cache is not None and len(cache) > 64:  # forget tracks not seen for a while
            for track_id in [k for k, (_, ts) in cache.items() if now - ts > 10 * max(self.options.identity_refresh_ms,
                                                                                      1.0)]:
                del cache[track_id]
        return identities

    def _read_aus(self, bgr: np.ndarray, detections: List[Detection], track_ids: List[Optional[int]],
                  tracker: Optional[IouTracker]) -> List["ActionUnits"]:
        """Action units of every face; with ``au_stream_neutral`` tracked faces feed and use their
        track's running median."""
        reader = self.au_reader
        assert reader is not None
        if reader.stream is not None and tracker is not self._au_tracker:
            self._au_tracker = tracker  # a new video: new people, new baselines
            reader.stream.reset()
        aus = [reader.read(bgr, det, track_id) for det, track_id in zip(detections, track_ids)]
        if reader.stream is not None and tracker is not None:
            reader.stream.forget([t.track_id for t in tracker.tracks])
        return aus


@dataclass(frozen=True)
class _Frame:
    """A validated frame on its way through the stages, with what its result records."""

    image: np.ndarray
    timestamp_ms: Optional[float]
    decode_ms: float = 0.0
    source: Optional[str] = None
    frame_index: Optional[int] = None


class _Stopwatch:
    """Milliseconds per stage (``ms``: ``"<stage>_ms"`` -> time) and since it started."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.ms: Dict[str, float] = {}

    def run(self, stage: str, fn: Callable[..., Any], *args: Any) -> Any:
        t0 = time.perf_counter()
        out = fn(*args)
        self.ms[f"{stage}_ms"] = (time.perf_counter() - t0) * 1e3
        return out

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1e3


class _LiveStream:
    """Worker thread of the live-stream mode: processes the newest submitted frame."""

    def __init__(self, pipeline: Pipeline, callback: ResultCallback) -> None:
        self._pipeline, self._callback = pipeline, callback
        self._cond = threading.Condition()
        self._pending: Optional[_Frame] = None
        self._closed = False
        self._error: Optional[BaseException] = None
        #: Frames replaced by a newer one before the worker got to them.
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="edgekit-live-stream", daemon=True)
        self._thread.start()

    def submit(self, frame: _Frame) -> None:
        with self._cond:
            self._raise_pending_error()
            if self._closed:
                raise ConfigError("the pipeline is closed", hint="create a new Pipeline")
            self.dropped += self._pending is not None
            self._pending = frame
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._closed:
                    self._cond.wait()
                if self._pending is None:
                    return
                frame, self._pending = self._pending, None
            try:
                p = self._pipeline
                with p._lock:
                    result = p._analyze(frame, p._tracker)
                self._callback(result, frame.image, frame.timestamp_ms)
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


__all__ = ["Pipeline", "PipelineOptions", "analyze", "clear_cache", "METHOD_MODES", "RUNNING_MODES"]
