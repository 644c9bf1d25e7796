"""Server settings, their limits and checks (standard library only)."""
from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Tuple

from ..errors import ConfigError, InputError
from ..validate import check, integer

#: Environment variable holding the API token (``--token`` wins).
TOKEN_ENV = "EDGEKIT_SERVER_TOKEN"
#: Environment variable that lets batch jobs take videos (``1``) when ``--batch-videos`` is not
#: given; see :attr:`ServerConfig.batch_videos`.
BATCH_VIDEOS_ENV = "EDGEKIT_SERVER_BATCH_VIDEOS"
#: Shortest token accepted: a guessable token on a network port is no protection.
MIN_TOKEN_CHARS = 16

#: Memory model of one server process and its batch pool (MB), measured on the project machine
#: (benchmarks/results/server.md, server_memory.md): the server after the load runs (models, warm
#: caches; 219.2 MB with the warm-up that loads every model and font before ready, 209.8 MB at
#: ready, 217.4 MB after the 10-minute memory run), one batch pool process after 30 memes, and
#: the peak over a warm process of decoding and analysing (or making a meme of) a 40 MP JPEG:
#: 268 MB = 7.0 bytes per pixel (Pillow's RGB(A) image + the BGR array), the same for analyze and
#: meme. See :meth:`ServerConfig.memory_peak_mb`.
SERVER_BASE_MB = 220.0
POOL_PROCESS_BASE_MB = 115.0
BYTES_PER_DECODED_PIXEL = 7.0


#: The integer limits :meth:`ServerConfig.check` checks, with the least valid value of each.
COUNTS = {"max_body_bytes": 1, "max_batch_body_bytes": 1, "max_pixels": 1, "max_batch_images": 1, "max_active_jobs": 1,
          "max_concurrent": 1, "max_queued": 0, "batch_workers": 1, "num_threads": 1}
#: ``edgekit serve`` flags of the fields whose flag is not ``--<field name> N``.
FLAGS = {"max_body_bytes": "--max-body-mb MB", "max_batch_body_bytes": "--max-batch-mb MB",
         "max_active_jobs": "--max-jobs N", "num_threads": "--threads N"}


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1); False for anything else,
    wildcard binds (``0.0.0.0``, ``::``) and host names included (never resolved: no DNS)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class ServerConfig:
    """Everything ``edgekit serve`` can be told. Defaults suit one 2-core pod.

    Attributes:
        host, port: where to listen. Any address other than loopback needs ``token``.
        token: API token; when set every ``/v1/`` request needs ``Authorization: Bearer <token>``.
        roots: folders batch jobs may read photos from (``{"folder": ...}``/``{"paths": [...]}``);
            empty: batches take uploaded photos only.
        data_dir: the job store (``jobs.sqlite``) and each job's folder (uploads, outputs).
        max_body_bytes: largest request body of the synchronous endpoints (413 above it).
        max_batch_body_bytes: largest body of ``POST /v1/batches`` (uploaded photos).
        max_pixels: largest image (width x height) a request may send (413 above it).
        max_batch_images: most inputs of one batch job.
        max_active_jobs: most queued + running jobs at once (429 above it).
        max_concurrent: synchronous requests decoding and computing at once (each may hold a
            ``max_pixels`` image decoded: 7 bytes per pixel); the others wait for a turn.
        max_queued: synchronous requests that may wait for a turn (their bodies are in memory);
            one more is answered 503 with ``Retry-After`` before its body is read.
        batch_workers: processes running batch items (each loads its own models once).
        num_threads: LiteRT threads per model in each process.
        shutdown_grace_s: on SIGTERM, how long running batch items may take to finish; items
            not finished by then stay pending and resume on the next start.
        cache_bytes: memory for recent synchronous results served again by content hash.
        warmup: load the models and run one inference before ``/readyz`` turns ready.
        batch_videos: let batch jobs take videos (uploads named ``.mp4`` ... and videos under the
            roots), decoded by OpenCV/FFmpeg outside the photo format allow-list and pixel limit.
            Default off (such an upload is refused with 415, such a file is a failed record); on
            with ``--batch-videos`` (``edgekit serve``), else ``EDGEKIT_SERVER_BATCH_VIDEOS=1``
            (None: read the environment variable; True/False, the flag, wins over it).
        instance: this server's name in job answers and in the 404 of a job it does not hold
            (default: the host name, which is the pod name in Kubernetes).
    """

    host: str = "127.0.0.1"
    port: int = 8000
    token: Optional[str] = None
    roots: Tuple[Path, ...] = ()
    data_dir: Optional[Path] = None
    max_body_bytes: int = 20 * 1024 * 1024
    max_batch_body_bytes: int = 512 * 1024 * 1024
    max_pixels: int = 40_000_000
    max_batch_images: int = 10_000
    max_active_jobs: int = 4
    max_concurrent: int = 2
    max_queued: int = 8
    batch_workers: int = 1
    num_threads: int = 1
    shutdown_grace_s: float = 20.0
    cache_bytes: int = 64 * 1024 * 1024
    warmup: bool = True
    batch_videos: Optional[bool] = None
    instance: str = field(default_factory=lambda: os.uname().nodename)
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.token is None:
            self.token = os.environ.get(TOKEN_ENV) or None
        if self.batch_videos is None:
            self.batch_videos = os.environ.get(BATCH_VIDEOS_ENV, "") in ("1", "true", "yes")
        self.roots = tuple(Path(r) for r in self.roots)
        if self.data_dir is not None:
            self.data_dir = Path(self.data_dir)

    def check(self) -> "ServerConfig":
        """Validate (ConfigError naming the option), resolve the roots and make the data dir."""
        if not is_loopback(self.host) and not self.token:
            raise ConfigError(f"listening on {self.host} (not loopback) needs an API token", f"--host {self.host}",
                              f"pass --token TOKEN or set {TOKEN_ENV} (at least {MIN_TOKEN_CHARS} characters), "
                              "or bind to 127.0.0.1")
        if self.token is not None and (len(self.token) < MIN_TOKEN_CHARS or not self.token.isprintable()
                                       or " " in self.token):
            raise ConfigError(f"the API token must be at least {MIN_TOKEN_CHARS} printable characters without spaces",
                              "--token", "e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'")
        if not 0 <= int(self.port) <= 65535:
            raise ConfigError("port must be in 0..65535", f"--port {self.port}")
        for name, least in COUNTS.items():
            flag = FLAGS.get(name, f"--{name.replace('_', '-')} N")
            check(name, getattr(self, name), integer(lo=least), f"set {name} to {least} or more (edgekit serve {flag})")
        roots = []
        for root in self.roots:
            if not root.is_dir():
                raise InputError("is not a folder", root, "pass an existing folder with --root")
            roots.append(root.resolve())
        self.roots = tuple(roots)
        if self.data_dir is None:
            from ..userdata import data_dir

            self.data_dir = data_dir() / "server"
        self.data_dir = Path(self.data_dir)
        try:
            self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot be created ({exc.strerror or exc})", self.data_dir,
                             "pass a writable --data-dir") from None
        if not os.access(self.data_dir, os.W_OK | os.X_OK):
            raise InputError("is not writable", self.data_dir, "pass a writable --data-dir")
        self.data_dir = self.data_dir.resolve()
        return self

    def memory_peak_mb(self) -> dict:
        """Worst-case memory of the server process and its batch pool under these limits (MB):
        every compute turn holding a ``max_pixels`` image, every admitted request's body in
        memory, the result cache full, each pool process decoding a ``max_pixels`` item."""
        decode_mb = self.max_pixels * BYTES_PER_DECODED_PIXEL / 2 ** 20
        parts = {"server": SERVER_BASE_MB, "cache": self.cache_bytes / 2 ** 20,
                 "decodes": self.max_concurrent * decode_mb,
                 "bodies": (self.max_concurrent + self.max_queued) * self.max_body_bytes / 2 ** 20,
                 "pool": self.batch_workers * (POOL_PROCESS_BASE_MB + decode_mb)}
        return {**{k: round(v) for k, v in parts.items()}, "total": round(sum(parts.values()))}

    def inside_roots(self, path: Path) -> Optional[Path]:
        """``path`` resolved (links followed) when it lies inside one of :attr:`roots`, else None."""
        try:
            real = Path(os.path.realpath(path))
        except (OSError, ValueError):
            return None
        for root in self.roots:
            if real == root or root in real.parents:
                return real
        return None
