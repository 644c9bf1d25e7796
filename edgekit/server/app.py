"""The FastAPI application (:func:`create_app`). FastAPI is imported inside :func:`create_app`
only, so this module imports without the ``server`` extra.

Requests carry an image either as the raw body (``Content-Type: image/*`` or
``application/octet-stream``, options in the query string) or as ``multipart/form-data`` (an
``image`` file field, options as form fields). Every edgekit error becomes a 4xx JSON body
``{"error": {"type": ..., "message": ...}}`` whose message is the line the CLI prints; anything
else is a 500 with a request id and no traceback (the traceback goes to the server log).
"""
# no "from __future__ import annotations": FastAPI reads the endpoint annotations (Request) at run time

import asyncio
import concurrent.futures
import contextlib
import contextvars
import hashlib
import hmac
import json
import logging
import math
import secrets
import threading
import time
from collections import OrderedDict
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Dict, List, Optional, Tuple

from .._version import __version__
from ..errors import (ConcurrentUseError, ConfigError, EdgekitError, FontError, ImageReadError, ModelError,
                      NoFaceError)
from ..task_options import CAPTION_SOURCE, CaptionerOptions, check_caption_source
from ..validate import check, integer
from .config import ServerConfig
from .metrics import Metrics, resident_bytes

log = logging.getLogger("edgekit.server")

#: Options of the image endpoints: name -> type (query string or form fields).
PIPELINE_FIELDS: Dict[str, type] = {"detector": str, "min_confidence": float, "max_faces": int}
ANALYZE_FIELDS: Dict[str, type] = {**PIPELINE_FIELDS, "name": str, "aus": bool}
MEME_FIELDS: Dict[str, type] = {**PIPELINE_FIELDS, "name": str, "text": str, "style": str, "scene": str, "lang": str,
                                "face": int, "seed": int, "placement": str, "format": str, "styles": int,
                                "caption_source": str}
CAPTION_FIELDS = ("emotion", "style", "scene", "lang", "n", "seed", "styles", "source")
SUGGEST_FIELDS: Dict[str, type] = {"chat": str, "n": int, "lang": str, "scene": str, "seed": int, "face": int,
                                   "name": str}
BATCH_FIELDS = ("task", "folder", "paths", "options")
BATCH_OPTIONS: Dict[str, type] = {**PIPELINE_FIELDS, "text": str, "style": str, "scene": str, "lang": str, "face": int,
                                  "seed": int, "placement": str, "styles": int, "animated": str, "aus": bool,
                                  "caption_source": str}
#: What the options of the image endpoints mean (OpenAPI parameter descriptions); the rest are
#: the library's keyword arguments of the same name.
FIELD_HELP: Dict[str, str] = {
    "aus": "true: each face also gets its facial action units (`aus`: AU intensities as `activations`, "
           "flags, head pose, cues; the record `edgekit analyze --aus` writes). About 2 ms per face; default false",
    "name": "how the answer and errors name the photo (default: `request body`)",
    "detector": "short_range (default) or full_range",
    "caption_source": "where generated captions come from: library (default, authored lines) or model (the caption "
                      "model), as `source` in /v1/captions; ignored with `text`. The answer's `caption_source` says "
                      "who wrote the caption (library, model or user)",
}
#: Spellings of a boolean option in a query string or form field.
TRUE_WORDS, FALSE_WORDS = ("true", "1", "yes", "on"), ("false", "0", "no", "off")
MAX_CAPTIONS = 20
#: ``/v1/analyze`` of an image up to this many pixels runs on the event loop itself when it is the
#: only request in flight and its connection the only one open: no hand-off to a worker thread and
#: back, which cost 1.2 ms at the median (3.5 ms at p75) on the loaded 2-core test machine, against
#: 0.45 ms for the rest of the request (benchmarks/results/server.md, addendum). A request arriving
#: meanwhile waits for at most that one analysis (10-20 ms at 1 MP); larger images and any
#: concurrency use the thread pool. "Only one connection" matters: while the loop computes it reads
#: no socket, so the other clients' requests are not in flight yet, and without that check every
#: request ran inline at concurrency 4 too, one at a time on one core
#: (benchmarks/results/server_latency.md).
INLINE_MAX_PIXELS = 1_000_000
MAX_CHAT_CHARS = 10_000
#: Photo sizes (width, height) of the warm-up rounds (:func:`warm_up_requests`), one round each:
#: images of varied sizes, as traffic sends, so that each thread's malloc arena is shaped by
#: varied buffer sizes before ``/readyz`` turns ready, and the caption font is loaded at the sizes
#: such photos use. Measured on the 2-core machine (docs/server.md, "Start-up and memory"): one
#: size repeated left most of the first minute's RSS step after ready.
WARMUP_SIZES = tuple((s, s * 3 // 4) if i % 2 else (s * 3 // 4, s) for i, s in enumerate(range(384, 672, 32)))
#: Shortest side of a warm-up photo when ``--max-pixels`` is small (:func:`warmup_sizes`): the
#: astronaut's face is still found at 64x48, so the memes of the warm-up have a face to caption.
WARMUP_MIN_SIDE = 64
#: The requests sent at once in each warm-up round: JPEG analyses and memes mixed, more at once
#: than ``--max-concurrent`` (default 2), as under load, so every pool thread computes both. They
#: wait for compute turns like traffic but bypass the admission count (``--max-queued``).
WARMUP_MIX = ("/v1/analyze?name=warm-up", "/v1/meme?lang=en", "/v1/analyze?name=warm-up", "/v1/meme?lang=zh")
#: True inside the warm-up's own requests: they may run before ``/readyz`` turns ready, are not
#: counted against the admission limit (``--max-concurrent`` + ``--max-queued``), the body limits
#: or ``--max-pixels`` (their photos are sized within it where they can be: :func:`warmup_sizes`),
#: and are left out of the metrics and the result cache.
WARMING: "contextvars.ContextVar[bool]" = contextvars.ContextVar("edgekit_server_warming", default=False)
#: The answer to a synchronous request before ``/readyz`` turns ready or while draining (503).
NOT_READY_MESSAGE = "the server is starting (models loading) or stopping; retry shortly"


def warmup_sizes(max_pixels: int) -> Tuple[Tuple[int, int], ...]:
    """The photo sizes of the warm-up rounds for a server accepting ``max_pixels``: the
    :data:`WARMUP_SIZES` scaled down together (aspect ratios and variety kept) until the largest
    fits ``max_pixels``, traffic's own limit; never below :data:`WARMUP_MIN_SIDE` on the short side
    (a server with an even smaller cap gets those photos anyway: the cap is not applied to the
    warm-up's own requests, :data:`WARMING`)."""
    largest = max(w * h for w, h in WARMUP_SIZES)
    scale = min(1.0, math.sqrt(max_pixels / largest))
    if scale == 1.0:
        return tuple(WARMUP_SIZES)
    out = []
    for w, h in WARMUP_SIZES:
        f = max(scale, WARMUP_MIN_SIDE / min(w, h))
        out.append((max(WARMUP_MIN_SIDE, math.floor(w * f)), max(WARMUP_MIN_SIDE, math.floor(h * f))))
    return tuple(out)


# ------------------------------------------------------------------------------------- errors

class HTTPError(Exception):
    """An error answered with ``status`` and a one-line message (not an edgekit error)."""

    def __init__(self, status: int, message: str, kind: str = "RequestError",
                 headers: Optional[Dict[str, str]] = None) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.headers = status, message, kind, headers or {}


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


def status_of(exc: EdgekitError) -> int:
    """HTTP status of an edgekit error."""
    from .media import TooLarge

    if isinstance(exc, TooLarge) or (isinstance(exc, ImageReadError) and "too large" in exc.reason):
        return 413
    if isinstance(exc, (NoFaceError, FontError)):
        return 422
    if isinstance(exc, (ConcurrentUseError, ModelError)):
        return 503
    return 400


def error_body(kind: str, message: str) -> Dict[str, Any]:
    from ..cli._common import one_line

    return {"error": {"type": kind, "message": one_line(message)}}


# ------------------------------------------------------------------------------------- options

def parse_fields(values: List[Tuple[str, str]], schema: Dict[str, type], where: str) -> Dict[str, Any]:
    """Typed options from ``(name, text)`` pairs; unknown names, repeats and bad values -> ConfigError."""
    out: Dict[str, Any] = {}
    unknown = sorted({k for k, _ in values} - set(schema))
    if unknown:
        raise ConfigError(f"unknown option(s) {', '.join(unknown)}", where,
                          f"valid options: {', '.join(sorted(schema))}")
    for name, text in values:
        if name in out:
            raise ConfigError("given more than once", f"{name}", "pass each option once")
        out[name] = _typed(name, text, schema[name])
    return out


def _typed(name: str, value: Any, kind: type) -> Any:
    if kind is bool:
        word = value.strip().lower() if isinstance(value, str) else value
        if word in TRUE_WORDS or value is True:
            return True
        if word in FALSE_WORDS or value is False:
            return False
        raise ConfigError("must be true or false", f"{name}={value!r}")
    if kind is str:
        if not isinstance(value, str):
            raise ConfigError("must be a string", f"{name}={value!r}")
        return value
    if isinstance(value, bool) or (not isinstance(value, (str, int, float))):
        raise ConfigError(f"must be {'an integer' if kind is int else 'a number'}", f"{name}={value!r}")
    try:
        if kind is int:
            if isinstance(value, float):
                raise ValueError
            return int(value)
        number = float(value)
        if number != number or number in (float("inf"), float("-inf")):
            raise ValueError
        return number
    except ValueError:
        raise ConfigError(f"must be {'an integer' if kind is int else 'a finite number'}",
                          f"{name}={value!r}") from None


def pipeline_kwargs(options: Dict[str, Any], threads: int) -> Dict[str, Any]:
    """PipelineOptions fields from the request's pipeline options."""
    kwargs: Dict[str, Any] = {"num_threads": threads}
    if "detector" in options:
        kwargs["detector_model"] = options.pop("detector")
    for key in ("min_confidence", "max_faces"):
        if key in options:
            kwargs[key] = options.pop(key)
    if options.pop("aus", False):
        kwargs["action_units"] = True  # FaceResult.aus (edgekit.aus); off: the key stays as it was
    if kwargs.get("detector_model", "short_range") not in ("short_range", "full_range"):
        raise ConfigError("unknown detector", f"detector={kwargs['detector_model']!r}", "use short_range or full_range")
    return kwargs


def content_key(route: str, options: Dict[str, Any], body: bytes) -> str:
    """Content hash of a request: same route, options, image bytes and edgekit version -> same key."""
    h = hashlib.sha256()
    h.update(json.dumps([route, __version__, _models_digest(), options], sort_keys=True, default=str).encode())
    h.update(b"\0")
    h.update(body)
    return h.hexdigest()[:40]


_MODELS_DIGEST: List[str] = []


def _models_digest() -> str:
    """sha256 of the model manifest: a new model changes every content key."""
    if not _MODELS_DIGEST:
        from ..registry import MANIFEST_PATH

        try:
            _MODELS_DIGEST.append(hashlib.sha256(Path(MANIFEST_PATH).read_bytes()).hexdigest())
        except OSError:
            _MODELS_DIGEST.append("")
    return _MODELS_DIGEST[0]


def seed_from(key: str) -> int:
    """The caption seed of a request that gave none: derived from its content, so the same
    request gives the same meme (cacheable), different photos different captions."""
    return int(key[:8], 16)


# ------------------------------------------------------------------------------------- state

class ResultCache:
    """Bounded LRU of recent results (bytes), by content key."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._items: "OrderedDict[str, Tuple[bytes, str, Dict[str, str]]]" = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Optional[Tuple[bytes, str, Dict[str, str]]]:
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            return item

    def put(self, key: str, data: bytes, media_type: str, headers: Dict[str, str]) -> None:
        if len(data) > self.max_bytes // 4:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.bytes -= len(old[0])
            self._items[key] = (data, media_type, headers)
            self.bytes += len(data)
            while self.bytes > self.max_bytes and self._items:
                _, (evicted, _, _) = self._items.popitem(last=False)
                self.bytes -= len(evicted)


class ServerState:
    """What the app holds: config, job store and runner, metrics, cache, readiness."""

    def __init__(self, config: ServerConfig) -> None:
        from .lock import DataDirLock
        from .runner import JobRunner
        from .store import JobStore

        self.config = config
        # first: a second server on this data dir stops here, before it touches the store
        self.lock = DataDirLock(Path(config.data_dir)).acquire()  # type: ignore[arg-type]
        self.jobs_dir = Path(config.data_dir) / "jobs"  # type: ignore[arg-type]
        self.jobs_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.store = JobStore(Path(config.data_dir) / "jobs.sqlite")  # type: ignore[arg-type]
        self.metrics = Metrics()
        self.cache = ResultCache(config.cache_bytes)
        self.ready = False
        self.draining = False
        #: time.monotonic() by which shutdown must be done (set by the first SIGTERM / SIGINT)
        self.shutdown_deadline: Optional[float] = None
        self.warmup_s: Optional[float] = None
        self.warmup_error: Optional[str] = None
        #: resident memory when the warm-up ended: the steady-state baseline (``/readyz``, the log)
        self.ready_rss_bytes: Optional[float] = None
        self.warmup_future: Optional["concurrent.futures.Future[int]"] = None
        self.inflight = 0
        #: open client connections (uvicorn's count, set by :func:`edgekit.server.run.serve`); unknown
        #: (another ASGI server) counts as "not alone", so a request is never computed on the event loop
        #: while other clients may be waiting to be read
        self.open_connections: Callable[[], int] = lambda: 2
        self.started = time.time()
        self.slots = asyncio.Semaphore(config.max_concurrent)  # requests decoding/inferring at once; the rest wait
        self.sync_requests = 0  # synchronous /v1/ requests admitted (computing, waiting, or reading their body)
        self.runner = JobRunner(self.store, config.batch_workers, on_finished=self._job_finished,
                                on_item=self._item_done)
        m = self.metrics
        m.counter("edgekit_http_requests_total", "HTTP requests by route, method and status.")
        m.histogram("edgekit_http_request_duration_seconds", "HTTP request latency by route (seconds).")
        m.counter("edgekit_batch_items_total", "Batch items finished, by result.")
        m.histogram("edgekit_batch_item_duration_seconds",
                    "Batch item latency in the worker pool, queueing excluded (seconds).")
        m.counter("edgekit_result_cache_hits_total", "Requests answered from the result cache or with 304.")
        m.gauge("edgekit_http_requests_in_flight", "HTTP requests being served.", lambda: {(): float(self.inflight)})
        m.gauge("edgekit_batch_queue_depth", "Batch items waiting for a worker.",
                lambda: {(): float(self.store.queue_depth())})
        m.gauge("edgekit_batch_items_running", "Batch items in the worker pool.",
                lambda: {(): float(self.runner.running)})
        m.gauge("edgekit_batch_jobs", "Batch jobs by state.",
                lambda: {(("state", s),): float(n) for s, n in self.store.job_states().items()})
        m.gauge("edgekit_ready", "1 when models are loaded and warmed up.", lambda: {(): float(self.ready)})
        m.gauge("edgekit_process_resident_memory_bytes", "Resident memory of the server process.",
                lambda: {(): resident_bytes()})
        m.gauge("edgekit_result_cache_bytes", "Bytes held by the result cache.", lambda: {(): float(self.cache.bytes)})

    def begin_shutdown(self) -> None:
        """Start draining now (the server got SIGTERM): ``/readyz`` turns 503, the batch runner takes
        no new item and running items get until :attr:`shutdown_deadline` (``--grace`` from now),
        in parallel with the HTTP requests in flight, not after them. Idempotent; signal-safe."""
        if self.shutdown_deadline is not None:
            return
        self.shutdown_deadline = time.monotonic() + self.config.shutdown_grace_s
        self.draining = True
        self.ready = False
        self.runner.drain()

    def shutdown_left(self) -> float:
        """Seconds left of the shutdown grace period (the whole period before it began)."""
        if self.shutdown_deadline is None:
            return self.config.shutdown_grace_s
        return max(0.0, self.shutdown_deadline - time.monotonic())

    def _job_finished(self, job_id: str) -> None:
        from ..batch import write_manifest

        job = self.store.job(job_id)
        if job is not None:
            try:
                write_manifest(job["out_dir"], [list(self.store.records(job_id))], durable=True)
            except EdgekitError:
                log.exception("manifest of job %s not written", job_id)

    def _item_done(self, job_id: str, seconds: float, ok: bool) -> None:
        self.metrics.inc("edgekit_batch_items_total", (("result", "ok" if ok else "failed"),))
        self.metrics.observe("edgekit_batch_item_duration_seconds", seconds)

    def warm(self, requests: Optional[Callable[[], Any]] = None,
             loop: Optional[asyncio.AbstractEventLoop] = None) -> None:
        """The readiness condition (run in its own thread): load the models with one analysis and one
        generated meme, then run the coroutine ``requests()`` on the serving ``loop`` (the synthetic
        requests of :func:`warm_up_requests`) and only then turn ready, so that ``/readyz`` passes at
        the process's steady-state footprint; :attr:`ready_rss_bytes` records it."""
        try:
            from ..assets import demo_photo
            from ..meme import make_meme
            from ..pipeline import PipelineOptions, analyze

            started = time.perf_counter()
            if self.config.warmup:
                analyze(str(demo_photo()), num_threads=self.config.num_threads)
                make_meme(str(demo_photo()), seed=0, options=PipelineOptions(num_threads=self.config.num_threads))
                if requests is not None and loop is not None and not self.draining:
                    self.warmup_future = asyncio.run_coroutine_threadsafe(requests(), loop)
                    self.warmup_future.result()
            self.warmup_s = time.perf_counter() - started
            self.ready_rss_bytes = resident_bytes()
            self.ready = True
            log.info("edgekit server ready (warm-up %.2f s, RSS %.1f MB)", self.warmup_s, self.ready_rss_bytes / 2**20)
        except concurrent.futures.CancelledError:  # stopped while warming up
            log.info("warm-up cancelled: the server is stopping")
        except Exception as exc:  # noqa: BLE001 - reported by /readyz
            self.warmup_error = f"{type(exc).__name__}: {exc}"
            log.exception("warm-up failed; the server stays unready")


async def asgi_request(app: Callable, method: str, target: str, body: bytes = b"",
                       headers: Optional[Dict[str, str]] = None) -> Tuple[int, bytes]:
    """One HTTP request to the ASGI ``app`` in this process, without a socket: (status, body)."""
    path, _, query = target.partition("?")
    scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
             "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": query.encode(), "root_path": "", "client": ("127.0.0.1", 0), "server": ("127.0.0.1", 0),
             "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]}
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> Dict[str, Any]:
        await asyncio.sleep(0)  # requests gathered together all enter before any computes
        if pending:
            return pending.pop()
        await asyncio.get_running_loop().create_future()  # the client stays connected
        raise AssertionError("unreachable")

    status, chunks = [0], []

    async def send(message: Dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status[0] = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status[0], b"".join(chunks)


async def warm_up_requests(app: Callable, config: ServerConfig) -> int:
    """Synthetic requests through the whole request path of ``app`` (the :class:`Guard`), before
    the server turns ready: the work a first request would otherwise do lazily happens at
    start-up (measured piece by piece in docs/server.md, "Start-up and memory": each thread's
    first analyses and memes grow its malloc arena; the JPEG/PNG decoders and encoders, the caption
    font at each size, the caption and action-unit models, the caption caches). Per size of
    :func:`warmup_sizes` (:data:`WARMUP_SIZES` within ``config.max_pixels``): one lone
    ``/v1/analyze?aus=true`` of a PNG (run on the event loop, as a lone small request is), then
    the requests of :data:`WARMUP_MIX` at once (JPEG analyses and English and Chinese memes, more
    than the compute turns, so every thread of the pool computes both); then ``/v1/captions``
    from each source (the default library and the caption model, so the model is loaded before
    ready too) and one ``/v1/suggest``. The requests skip the readiness check, the admission
    count, the body and pixel limits, the metrics and the result cache (:data:`WARMING`): the
    limits are traffic's, and a refused warm-up would leave the server unready for good. Returns
    the number of requests; one answered other than 200 raises RuntimeError (the warm-up fails
    and ``/readyz`` says why)."""
    import cv2
    import numpy as np

    from ..assets import demo_photo
    from ..imageio import load_image

    headers = {"Authorization": f"Bearer {config.token}"} if config.token else {}
    token = WARMING.set(True)
    count = 0

    async def one(target: str, body: bytes, ctype: str) -> None:
        nonlocal count
        status, data = await asgi_request(app, "POST", target, body, {**headers, "Content-Type": ctype})
        count += 1
        if status != 200:
            raise RuntimeError(f"warm-up request POST {target} answered {status}: {data[:300]!r}")

    try:
        base = load_image(demo_photo())
        for r, size in enumerate(warmup_sizes(config.max_pixels)):
            image = cv2.resize(base, size, interpolation=cv2.INTER_AREA)
            png = cv2.imencode(".png", image)[1].tobytes()
            jpeg = cv2.imencode(".jpg", np.ascontiguousarray(image[:, ::-1]))[1].tobytes()
            await one("/v1/analyze?name=warm-up&aus=true", png, "image/png")  # alone: on the event loop
            await asyncio.gather(*(one(f"{target}&seed={r}" if "meme" in target else target, jpeg, "image/jpeg")
                                   for target in WARMUP_MIX))
        for target, body in (("/v1/captions", {"emotion": "happiness", "lang": "en", "n": 2}),
                             ("/v1/captions", {"emotion": "happiness", "lang": "en", "n": 1, "source": "model"}),
                             ("/v1/suggest", {"chat": "warm-up: see you tomorrow!", "n": 2})):
            await one(target, json.dumps(body).encode(), "application/json")
        return count
    finally:
        WARMING.reset(token)


# ------------------------------------------------------------------------------------- ASGI guard

class Guard:
    """Outermost ASGI layer: token check on ``/v1/``, body size limits, readiness and admission of
    synchronous requests (before ``/readyz`` turns ready or while draining: 503 NotReady, without
    taking a place; then at most ``max_concurrent + max_queued`` hold a body at once), request
    metrics. The warm-up's own requests (:data:`WARMING`) skip the body limits, the readiness
    check and the admission count."""

    def __init__(self, app: Callable, state: ServerState) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope: Dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state, started = self.state, time.perf_counter()
        path, method = scope.get("path", ""), scope.get("method", "GET")
        status_box = [500]

        async def send_wrapper(message: Dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status_box[0] = message["status"]
            await send(message)

        state.inflight += 1
        admitted = False
        warming = WARMING.get()
        try:
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
            token = state.config.token
            if token and path.startswith("/v1/"):
                given = headers.get("authorization", "")
                scheme, _, value = given.partition(" ")
                if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token.encode()):
                    await _send_json(send_wrapper, 401, error_body("Unauthorized", "missing or wrong API token. "
                                                                   "Send the header Authorization: Bearer <token>"),
                                     {"www-authenticate": "Bearer"})
                    return
            batches = path.rstrip("/") == "/v1/batches"
            limit = state.config.max_batch_body_bytes if batches else state.config.max_body_bytes
            if warming:
                limit = 2 ** 62  # the warm-up's own photos: not traffic's limit to apply
            length = headers.get("content-length")
            if length is not None and (not length.isdigit() or int(length) > limit):
                await _send_json(send_wrapper, 413 if length.isdigit() else 400,
                                 error_body("BodyTooLarge" if length.isdigit() else "RequestError",
                                            f"request body: {int(length):,} bytes is more than this endpoint "
                                            f"accepts ({limit:,})"
                                            if length.isdigit() else "request body: bad Content-Length"))
                return
            if method == "POST" and path.startswith("/v1/") and not path.startswith("/v1/batches") and not warming:
                if not state.ready or state.draining:  # refused before it takes a place (or reads its body)
                    await _send_json(send_wrapper, 503, error_body("NotReady", NOT_READY_MESSAGE),
                                     {"retry-after": "2"})
                    return
                room = state.config.max_concurrent + state.config.max_queued
                if state.sync_requests >= room:  # refused before its body is read: memory stays bounded
                    message = f"this server is computing or queueing {room} requests, its limit; retry shortly"
                    await _send_json(send_wrapper, 503, error_body("Busy", message), {"retry-after": "1"})
                    return
                state.sync_requests += 1
                admitted = True
            seen = [0]

            async def capped_receive() -> Dict[str, Any]:
                message = await receive()
                if message["type"] == "http.request":
                    seen[0] += len(message.get("body", b""))
                    if seen[0] > limit:
                        raise BodyTooLarge(limit)
                return message

            await self.app(scope, capped_receive, send_wrapper)
        finally:
            state.inflight -= 1
            state.sync_requests -= admitted
            if not warming:  # the warm-up's own requests are not traffic
                route = scope.get("route")
                label = getattr(route, "path", None) or "unmatched"
                state.metrics.inc("edgekit_http_requests_total",
                                  (("route", label), ("method", method), ("status", str(status_box[0]))))
                state.metrics.observe("edgekit_http_request_duration_seconds", time.perf_counter() - started,
                                      (("route", label),))


async def _send_json(send: Callable, status: int, body: Dict[str, Any],
                     headers: Optional[Dict[str, str]] = None) -> None:
    data = json.dumps(body).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": data})


# ------------------------------------------------------------------------------------- the app

def create_app(config: ServerConfig, *, start_runner: bool = True) -> Any:
    """The ASGI app of ``edgekit serve`` for a checked :class:`ServerConfig` (``config.check()``).

    ``start_runner=False`` leaves the batch runner stopped (tests of the store alone)."""
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
    from starlette.concurrency import run_in_threadpool
    from starlette.datastructures import UploadFile
    from starlette.exceptions import HTTPException as StarletteHTTPException

    state = ServerState(config)
    threads = config.num_threads
    guard: Any = None  # the app returned (set at the end); the warm-up sends its requests through it

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        state.slots = asyncio.Semaphore(config.max_concurrent)  # bound to the serving loop
        if start_runner:
            redo = state.runner.start()
            if redo:
                log.info("resuming: %d batch item(s) interrupted by the last stop will be redone", redo)
        warm = threading.Thread(target=state.warm, args=(lambda: warm_up_requests(guard, config),
                                                         asyncio.get_running_loop()),
                                name="edgekit-warmup", daemon=True)
        warm.start()
        try:
            yield
        finally:
            state.begin_shutdown()  # no-op after a signal: its deadline stands
            if state.warmup_future is not None:
                state.warmup_future.cancel()
            if start_runner:
                result = await run_in_threadpool(state.runner.stop, state.shutdown_left())
                log.info("batch runner stopped; %d running item(s) checkpointed for the next start", result["released"])
            state.store.close()
            state.lock.release()

    app = FastAPI(title="edgekit", version=__version__, lifespan=lifespan,
                  description="Facial emotion analysis, captions and memes on CPU (LiteRT); "
                              "batch jobs with a JSON Lines manifest. "
                              "Errors: `{\"error\": {\"type\", \"message\"}}`. See docs/server.md.")
    app.state.edgekit = state

    # ---------------------------------------------------------------- error handlers

    @app.exception_handler(EdgekitError)
    async def edgekit_error(request: Request, exc: EdgekitError) -> Any:
        return JSONResponse(error_body(type(exc).__name__, str(exc)), status_code=status_of(exc))

    @app.exception_handler(HTTPError)
    async def http_error(request: Request, exc: HTTPError) -> Any:
        return JSONResponse(error_body(exc.kind, exc.message), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(BodyTooLarge)
    async def body_too_large(request: Request, exc: BodyTooLarge) -> Any:
        return JSONResponse(error_body("BodyTooLarge",
                                       f"request body: more than this endpoint accepts ({exc.limit:,} bytes)"),
                            status_code=413)

    @app.exception_handler(StarletteHTTPException)
    async def starlette_error(request: Request, exc: Any) -> Any:
        return JSONResponse(error_body("HTTPError", f"{request.url.path}: {exc.detail}"), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: Any) -> Any:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return JSONResponse(error_body("RequestError", f"{where}: {first.get('msg', 'invalid request')}"),
                            status_code=400)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> Any:
        ref = secrets.token_hex(6)
        log.error("request %s %s failed (ref %s)", request.method, request.url.path, ref, exc_info=exc)
        return JSONResponse(error_body("InternalError", f"internal error (ref {ref}); the server log has the details"),
                            status_code=500)

    # ---------------------------------------------------------------- helpers

    async def read_image(request: Request, schema: Dict[str, type]) -> Tuple[bytes, str, Dict[str, Any]]:
        """(image bytes, name for errors, typed options) from a raw body or a multipart form."""
        ctype = request.headers.get("content-type", "").lower()
        fields = list(request.query_params.multi_items())
        if ctype.startswith("multipart/form-data"):
            form = await request.form(max_files=1, max_fields=32)
            upload = form.get("image")
            if not isinstance(upload, UploadFile):
                raise ConfigError("multipart body has no 'image' file field", "request body",
                                  "send the photo as the 'image' field")
            data = await upload.read()
            name = f"upload {upload.filename!r}" if upload.filename else "upload"
            fields += [(k, v) for k, v in form.multi_items() if k != "image" and isinstance(v, str)]
        elif ctype.startswith(("image/", "application/octet-stream")) or not ctype:
            data = await request.body()
            name = "request body"
        else:
            raise HTTPError(415, f"request body: Content-Type {ctype.split(';')[0]!r} is not accepted. "
                                 "Send the image bytes (image/* or application/octet-stream) "
                                 "or multipart/form-data with an 'image' field",
                            "UnsupportedMediaType")
        options = parse_fields(fields, schema, "request options")
        if "name" in options:
            from ..cli._common import one_line

            name = one_line(str(options.pop("name")))[:120]
        return data, name, options

    async def read_json(request: Request, allowed: Tuple[str, ...]) -> Dict[str, Any]:
        ctype = request.headers.get("content-type", "").lower()
        if not ctype.startswith("application/json"):
            raise HTTPError(415, "request body: send a JSON object with Content-Type: application/json",
                            "UnsupportedMediaType")
        raw = await request.body()
        try:
            body = json.loads(raw or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConfigError(f"is not valid JSON ({exc})", "request body", "send a JSON object") from None
        if not isinstance(body, dict):
            raise ConfigError("must be a JSON object", "request body", f"fields: {', '.join(allowed)}")
        unknown = sorted(set(body) - set(allowed))
        if unknown:
            raise ConfigError(f"unknown field(s) {', '.join(unknown)}", "request body",
                              f"valid fields: {', '.join(allowed)}")
        return body

    def etag_of(key: str, weak: bool) -> str:
        return f'W/"{key}"' if weak else f'"{key}"'

    def not_modified(request: Request, key: str, weak: bool = False) -> Optional[Any]:
        """304 when If-None-Match names the key (weak comparison, RFC 9110 13.1.2), else a cached answer."""
        etag = etag_of(key, weak)
        match = request.headers.get("if-none-match", "")
        tags = [m.strip().removeprefix("W/") for m in match.split(",")]
        if match and (match.strip() == "*" or f'"{key}"' in tags):
            state.metrics.inc("edgekit_result_cache_hits_total", (("kind", "304"),))
            return Response(status_code=304, headers={"ETag": etag})
        cached = state.cache.get(key)
        if cached is not None:
            state.metrics.inc("edgekit_result_cache_hits_total", (("kind", "memory"),))
            data, media_type, headers = cached
            return Response(data, media_type=media_type, headers={**headers, "ETag": etag, "X-Edgekit-Cache": "hit"})
        return None

    async def compute(fn: Callable[[], Any], inline: bool = False) -> Any:
        """``fn()`` in a compute turn (``--max-concurrent``), in the thread pool; ``inline``: on the
        event loop instead when nothing else is in flight or connected (see :data:`INLINE_MAX_PIXELS`)."""
        if inline and state.inflight == 1 and not state.slots.locked() and state.open_connections() <= 1:
            async with state.slots:  # free: taken at once, and nothing else runs until fn returns
                return fn()
        async with state.slots:
            return await run_in_threadpool(fn)

    def respond(key: str, data: bytes, media_type: str, headers: Dict[str, str], ext: str, weak: bool = False) -> Any:
        headers = {**headers, "Content-Location": f"/v1/results/{key}.{ext}"}
        if weak:  # not byte-for-byte reproducible (timings): the cache and /v1/results say so too
            headers["ETag"] = etag_of(key, True)
        if not WARMING.get():
            state.cache.put(key, data, media_type, headers)
        return Response(data, media_type=media_type,
                        headers={"ETag": etag_of(key, False), **headers, "X-Edgekit-Cache": "miss"})

    def pixel_cap() -> int:
        """``--max-pixels``, or no cap for the warm-up's own photos (:func:`warmup_sizes`)."""
        return 2 ** 62 if WARMING.get() else config.max_pixels

    def require_ready() -> None:
        if (not state.ready or state.draining) and not WARMING.get():
            raise HTTPError(503, NOT_READY_MESSAGE, "NotReady", {"Retry-After": "2"})

    # ---------------------------------------------------------------- probes, metrics

    @app.get("/healthz", tags=["ops"], summary="Liveness: the process answers")
    async def healthz() -> Dict[str, Any]:
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", tags=["ops"], summary="Readiness: models loaded and the warm-up requests done")
    async def readyz() -> Any:
        if state.ready and not state.draining:
            return {"status": "ready", "warmup_s": round(state.warmup_s or 0.0, 3),
                    "rss_mb_at_ready": round((state.ready_rss_bytes or 0.0) / 2 ** 20, 1)}
        status = "draining" if state.draining else "failed" if state.warmup_error else "starting"
        body = {"status": status, **({"error": state.warmup_error} if state.warmup_error else {})}
        return JSONResponse(body, status_code=503)

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics (text format 0.0.4)",
             response_class=PlainTextResponse)
    async def metrics() -> Any:
        return PlainTextResponse(state.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    # ---------------------------------------------------------------- synchronous endpoints

    image_body = {"requestBody": {"required": True, "content": {
        "image/*": {"schema": {"type": "string", "format": "binary"}},
        "multipart/form-data": {"schema": {"type": "object",
                                           "properties": {"image": {"type": "string", "format": "binary"}}}}}}}

    def query_params(schema: Dict[str, type]) -> Dict[str, Any]:
        names = {str: "string", int: "integer", float: "number", bool: "boolean"}
        return {"parameters": [{"name": k, "in": "query", "required": False, "schema": {"type": names[t]},
                                **({"description": FIELD_HELP[k]} if k in FIELD_HELP else {})}
                               for k, t in schema.items()]}

    @app.post("/v1/analyze", tags=["sync"], summary="Faces and their emotions in one photo",
              openapi_extra={**image_body, **query_params(ANALYZE_FIELDS)})
    async def analyze_endpoint(request: Request) -> Any:
        require_ready()
        data, name, options = await read_image(request, ANALYZE_FIELDS)
        kwargs = pipeline_kwargs(options, threads)
        # the answer names the photo (source): the name is part of the content; and it holds
        # timings, so two computations of one key are equivalent, not equal: a weak ETag
        key = content_key("analyze", {**kwargs, "name": name}, data)
        hit = not_modified(request, key, weak=True)
        if hit is not None:
            return hit
        from .media import image_size

        size = image_size(data)
        cap = pixel_cap()

        def work() -> bytes:
            from ..pipeline import analyze
            from .media import decode

            started = time.perf_counter()
            bgr = decode(data, name, cap, size)
            decode_ms = (time.perf_counter() - started) * 1e3
            faces = analyze(bgr, **kwargs)
            body = {"source": name, "image_size": [int(bgr.shape[1]), int(bgr.shape[0])],
                    "faces": [f.to_dict() for f in faces], "decode_ms": round(decode_ms, 3),
                    "total_ms": round((time.perf_counter() - started) * 1e3, 3)}
            return json.dumps(body, ensure_ascii=False).encode()

        inline = size[0] * size[1] <= INLINE_MAX_PIXELS
        return respond(key, await compute(work, inline), "application/json", {}, "json", weak=True)

    @app.post("/v1/meme", tags=["sync"], summary="A captioned meme (PNG, JPEG, WebP, GIF) of one photo",
              openapi_extra={**image_body, **query_params(MEME_FIELDS)})
    async def meme_endpoint(request: Request) -> Any:
        require_ready()
        data, name, options = await read_image(request, MEME_FIELDS)
        from .media import FORMATS, check_format

        fmt = check_format(options.pop("format", "png"))
        if "caption_source" in options:  # checked as /v1/captions checks "source", before any work
            check_caption_source(options["caption_source"])
        styles = options.pop("styles", None)
        kwargs = pipeline_kwargs(options, threads)
        key = content_key("meme", {**options, **kwargs, "format": fmt, "styles": styles}, data)
        hit = not_modified(request, key)
        if hit is not None:
            return hit
        seed = options.get("seed", seed_from(key))
        _, media_type, animated = FORMATS[fmt]
        ext = "webp" if fmt == "webp-animated" else fmt
        cap = pixel_cap()

        def work() -> Tuple[bytes, Dict[str, str]]:
            from ..meme import animate, make_meme, meme_styles
            from ..pipeline import PipelineOptions
            from .media import decode, encode

            from ..batch import fresh_captions

            bgr = decode(data, name, cap)
            meme_options = {k: v for k, v in options.items() if k != "seed"}
            meme_options.update(seed=seed, options=PipelineOptions(**kwargs))
            if styles is not None:
                if "text" in meme_options or "style" in meme_options:
                    raise ConfigError("styles makes one generated caption per style", f"styles={styles}",
                                      "drop text and style")
                with fresh_captions():
                    memes = meme_styles(bgr, styles, **meme_options)
                items = []
                for i, m in enumerate(memes):
                    out = encode(animate(m) if animated else m, fmt)
                    sub = hashlib.sha256(key.encode() + str(i).encode()).hexdigest()[:40]
                    state.cache.put(sub, out, media_type, {})
                    items.append({**m.to_dict(), "url": f"/v1/results/{sub}.{ext}", "bytes": len(out)})
                body = json.dumps({"seed": seed, "memes": items}, ensure_ascii=False).encode()
                return body, {"X-Edgekit-Seed": str(seed)}
            with fresh_captions() if "text" not in meme_options else contextlib.nullcontext():
                meme = make_meme(bgr, **meme_options)
            info = meme.to_dict()
            out = encode(animate(meme) if animated else meme, fmt)
            return out, {"X-Edgekit-Seed": str(seed), "X-Edgekit-Meme": json.dumps(info, ensure_ascii=True)}

        body, headers = await compute(work)
        if styles is not None:
            return respond(key, body, "application/json", headers, "json")
        return respond(key, body, media_type, headers, ext)

    @app.get("/v1/results/{name}", tags=["sync"], summary="A recent result again, by its content hash")
    async def result_endpoint(name: str) -> Any:
        key = name.split(".", 1)[0]
        cached = state.cache.get(key)
        if cached is None:
            raise HTTPError(404,
                            f"result {name!r} is not (or no longer) in this server's cache; send the request again",
                            "NotFound")
        data, media_type, headers = cached
        return Response(data, media_type=media_type, headers={"ETag": f'"{key}"', **headers,
                                                               "Cache-Control": "public, max-age=86400, immutable"})

    @app.post("/v1/captions", tags=["sync"], summary="Captions for an emotion label or probabilities")
    async def captions_endpoint(request: Request) -> Any:
        require_ready()
        body = await read_json(request, CAPTION_FIELDS)
        if "emotion" not in body:
            raise ConfigError("needs 'emotion' (a label or a {label: probability} object)", "request body")
        n = check("n", body.get("n", 1), integer(1, MAX_CAPTIONS), f"ask for 1 to {MAX_CAPTIONS} captions per request")
        source = check("source", body.get("source") or CaptionerOptions.source, CAPTION_SOURCE)  # null: default
        for field in ("style", "scene", "lang"):
            if field in body and body[field] is not None and not isinstance(body[field], str):
                raise ConfigError("must be a string", f"{field}={body[field]!r}")
        key = content_key("captions", body, b"")
        hit = not_modified(request, key)
        if hit is not None:
            return hit
        seed = body.get("seed", seed_from(key))

        def work() -> bytes:
            from ..captioning import caption, caption_styles

            from ..batch import fresh_captions

            common = {"scene": body.get("scene"), "lang": body.get("lang", "zh"), "seed": seed, "source": source}
            with fresh_captions():
                if body.get("styles") is not None:
                    styles = body["styles"]
                    if not isinstance(styles, list) or not all(isinstance(s, str) for s in styles):
                        raise ConfigError("must be a list of style names", "styles")
                    found = caption_styles(body["emotion"], styles=styles, **common)
                else:
                    found = caption(body["emotion"], style=body.get("style"), n=n, **common)
            return json.dumps({"seed": seed, "captions": [{k: v for k, v in c.to_dict().items() if k != "latency_ms"}
                                                          for c in found]}, ensure_ascii=False).encode()

        return respond(key, await compute(work), "application/json", {}, "json")

    @app.post("/v1/suggest", tags=["sync"], summary="Caption suggestions for a chat, optionally fused with a selfie",
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": {"type": "object", "properties": {"chat": {"type": "string"}}}},
                  "multipart/form-data": {"schema": {"type": "object", "properties": {
                      "chat": {"type": "string"}, "image": {"type": "string", "format": "binary"}}}}}}})
    async def suggest_endpoint(request: Request) -> Any:
        require_ready()
        ctype = request.headers.get("content-type", "").lower()
        data = b""
        name = "upload"
        if ctype.startswith("multipart/form-data"):
            form = await request.form(max_files=1, max_fields=16)
            upload = form.get("image")
            if upload is not None and not isinstance(upload, UploadFile):
                raise ConfigError("must be a file field", "image")
            if isinstance(upload, UploadFile):
                data = await upload.read()
                name = f"upload {upload.filename!r}" if upload.filename else "upload"
            options = parse_fields([(k, v) for k, v in form.multi_items() if k != "image"], SUGGEST_FIELDS,
                                   "form fields")
        else:
            body = await read_json(request, tuple(SUGGEST_FIELDS))
            options = {k: _typed(k, v, SUGGEST_FIELDS[k]) for k, v in body.items() if v is not None}
        chat = options.pop("chat", None)
        if not chat:
            raise ConfigError("needs 'chat' (the recent chat text)", "request body")
        if len(chat) > MAX_CHAT_CHARS:
            raise ConfigError(f"chat is longer than {MAX_CHAT_CHARS:,} characters", "chat",
                              "send the last few messages")
        options.pop("name", None)
        key = content_key("suggest", {"chat": chat, **options}, data)
        hit = not_modified(request, key)
        if hit is not None:
            return hit
        options.setdefault("seed", seed_from(key))
        cap = pixel_cap()

        def work() -> bytes:
            from ..suggestions import suggest
            from .media import decode

            photo = decode(data, name, cap) if data else None
            from ..batch import fresh_captions

            with fresh_captions():
                result = suggest(chat, photo, personalize=False, **options)
            return json.dumps({"seed": options["seed"], **result.to_dict()}, ensure_ascii=False).encode()

        return respond(key, await compute(work), "application/json", {}, "json")

    # ---------------------------------------------------------------- batch jobs

    from .jobs import add_batch_routes

    add_batch_routes(app, state, HTTPError, read_json, FileResponse, JSONResponse, StreamingResponse, UploadFile,
                     run_in_threadpool)

    guard = Guard(app, state)
    return guard


__all__ = ["create_app", "ServerState", "HTTPError", "status_of", "content_key", "parse_fields", "asgi_request",
           "warm_up_requests", "warmup_sizes", "WARMUP_SIZES"]
