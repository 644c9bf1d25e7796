"""``edgekit serve``: the REST service (``pip install 'edgekit[server]'``).

Examples:
  edgekit serve                                   # http://127.0.0.1:8000 (docs at /docs)
  edgekit serve --root ~/photos --batch-workers 2 # batch jobs may read ~/photos
  EDGEKIT_SERVER_TOKEN=... edgekit serve --host 0.0.0.0 --port 8080   # a token is required off loopback

Endpoints: POST /v1/analyze, /v1/meme, /v1/captions, /v1/suggest; POST /v1/batches (+ GET
/v1/batches/ID, /manifest, /outputs/PATH, POST /cancel); /healthz, /readyz, /metrics, /docs.
See docs/server.md.
"""
from __future__ import annotations

import argparse
import os

from typing import TYPE_CHECKING

from ._common import positive_int

if TYPE_CHECKING:
    from ..server.config import ServerConfig


def register(subparsers: "argparse._SubParsersAction") -> None:
    p = subparsers.add_parser("serve", help="run the REST service (needs the 'server' extra)", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s; any other than "
                                                       "loopback needs a token)")
    p.add_argument("--port", type=int, default=8000, help="port (default: %(default)s)")
    p.add_argument("--token", default=None,
                   help="API token for /v1/ requests (default: $EDGEKIT_SERVER_TOKEN); "
                        "prefer the environment variable, a command line is visible to other users")
    p.add_argument("--root", action="append", default=[], metavar="DIR",
                   help="a folder batch jobs may read photos from (repeatable; default: none, uploads only)")
    p.add_argument("--data-dir", default=os.environ.get("EDGEKIT_SERVER_DATA"), metavar="DIR",
                   help="job store and job folders (default: $EDGEKIT_SERVER_DATA or <edgekit data dir>/server)")
    p.add_argument("--batch-workers", type=positive_int, default=1, metavar="N",
                   help="processes running batch items, each with its own models (default: %(default)s)")
    p.add_argument("--threads", type=positive_int, default=1, metavar="N",
                   help="LiteRT threads per model (default: %(default)s)")
    p.add_argument("--max-body-mb", type=positive_int, default=20, metavar="MB",
                   help="largest request body of the synchronous endpoints (default: %(default)s)")
    p.add_argument("--max-batch-mb", type=positive_int, default=512, metavar="MB",
                   help="largest body of POST /v1/batches (default: %(default)s)")
    p.add_argument("--max-pixels", type=positive_int, default=40_000_000, metavar="N",
                   help="largest image, width x height (default: %(default)s)")
    p.add_argument("--max-batch-images", type=positive_int, default=10_000, metavar="N",
                   help="most inputs of one batch job (default: %(default)s)")
    p.add_argument("--max-jobs", type=positive_int, default=4, metavar="N",
                   help="most queued + running batch jobs (default: %(default)s)")
    p.add_argument("--max-concurrent", type=positive_int, default=2, metavar="N",
                   help="synchronous requests decoding and computing at once; each may hold a --max-pixels image "
                        "decoded, 7 bytes per pixel (default: %(default)s)")
    p.add_argument("--max-queued", type=int, default=8, metavar="N",
                   help="synchronous requests that may wait for a turn; more get 503 + Retry-After before their "
                        "body is read (default: %(default)s)")
    p.add_argument("--cache-mb", type=int, default=64, metavar="MB",
                   help="memory for recent results served again by content hash; "
                        "0 turns the cache off (default: %(default)s)")
    p.add_argument("--batch-videos", action=argparse.BooleanOptionalAction, default=None,
                   help="let batch jobs take videos (decoded by OpenCV/FFmpeg, outside the photo format allow-list "
                        "and --max-pixels: only for trusted clients); default: off, or $EDGEKIT_SERVER_BATCH_VIDEOS=1")
    p.add_argument("--grace", type=float, default=20.0, metavar="S",
                   help="on SIGTERM, seconds from the signal that requests in flight and running batch items get "
                        "to finish (the same seconds for both); items still running then resume at the next start, "
                        "and the process exits within S + 5 s (default: %(default)s)")
    p.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    p.add_argument("--access-log", action="store_true", help="log every request")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..server.run import check_extra, serve

    check_extra()  # one clear line before anything else when the extra is missing
    serve(config_from(args), log_level=args.log_level, access_log=args.access_log)
    return 0


def config_from(args: argparse.Namespace) -> "ServerConfig":
    """The :class:`~edgekit.server.config.ServerConfig` of parsed ``edgekit serve`` arguments (not checked)."""
    from ..server.config import ServerConfig

    mb = 1024 * 1024
    return ServerConfig(host=args.host, port=args.port, token=args.token, roots=tuple(args.root),
                        data_dir=args.data_dir, max_body_bytes=args.max_body_mb * mb,
                        max_batch_body_bytes=args.max_batch_mb * mb, max_pixels=args.max_pixels,
                        max_batch_images=args.max_batch_images, max_active_jobs=args.max_jobs,
                        max_concurrent=args.max_concurrent, max_queued=args.max_queued,
                        batch_workers=args.batch_workers, num_threads=args.threads, shutdown_grace_s=args.grace,
                        cache_bytes=max(0, args.cache_mb) * mb, batch_videos=args.batch_videos)
