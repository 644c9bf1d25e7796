"""Server settings, their limits and checks (standard library only)."""
from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Tuple

from ..errors import ConfigError, InputError

#: Environment variable holding the API token (``--token`` wins).
TOKEN_ENV = "EDGEKIT_SERVER_TOKEN"
#: Environment variable that lets batch jobs take videos (``1``); see :attr:`ServerConfig.batch_videos`.
BATCH_VIDEOS_ENV = "EDGEKIT_SERVER_BATCH_VIDEOS"
#: Shortest token accepted: a guessable token on a network port is no protection.
MIN_TOKEN_CHARS = 16


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
        batch_workers: processes running batch items (each loads its own models once).
        num_threads: LiteRT threads per model in each process.
        shutdown_grace_s: on SIGTERM, how long running batch items may take to finish; items
            not finished by then stay pending and resume on the next start.
        cache_bytes: memory for recent synchronous results served again by content hash.
        warmup: load the models and run one inference before ``/readyz`` turns ready.
        batch_videos: let batch jobs take videos (uploads named ``.mp4`` ... and videos under the
            roots), decoded by OpenCV/FFmpeg outside the photo format allow-list and pixel limit.
            Default off (such an upload is refused with 415, such a file is a failed record); on
            with ``EDGEKIT_SERVER_BATCH_VIDEOS=1``.
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
    batch_workers: int = 1
    num_threads: int = 1
    shutdown_grace_s: float = 20.0
    cache_bytes: int = 64 * 1024 * 1024
    warmup: bool = True
    batch_videos: Optional[bool] = None
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
        if self.token is not None and (len(self.token) < MIN_TOKEN_CHARS or not self.token.isprintable() or " " in self.token):
            raise ConfigError(f"the API token must be at least {MIN_TOKEN_CHARS} printable characters without spaces",
                              "--token", "e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'")
        if not 0 <= int(self.port) <= 65535:
            raise ConfigError("port must be in 0..65535", f"--port {self.port}")
        for name in ("max_body_bytes", "max_batch_body_bytes", "max_pixels", "max_batch_images", "max_active_jobs",
                     "batch_workers", "num_threads"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be an integer >= 1", f"--{name.replace('_', '-')} {value!r}")
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
            raise InputError(f"cannot be created ({exc.strerror or exc})", self.data_dir, "pass a writable --data-dir") from None
        if not os.access(self.data_dir, os.W_OK | os.X_OK):
            raise InputError("is not writable", self.data_dir, "pass a writable --data-dir")
        self.data_dir = self.data_dir.resolve()
        return self

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
