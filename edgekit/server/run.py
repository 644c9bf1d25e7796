"""``edgekit serve``: run the app with uvicorn (one process; batch items run in a process pool).

SIGTERM / Ctrl-C: the server stops accepting connections, finishes the requests in flight,
gives running batch items ``shutdown_grace_s`` to finish and puts the rest back in the queue
(they resume at the next start), then exits.
"""
from __future__ import annotations

import logging
from typing import Any

from ..errors import ConfigError
from .config import ServerConfig

#: What ``pip install 'edgekit[server]'`` brings; checked before anything starts.
REQUIRED = ("fastapi", "uvicorn", "python_multipart")


def missing_extra() -> list:
    """Names of the server extra's modules that cannot be imported."""
    import importlib

    missing = []
    for name in REQUIRED:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    return missing


def check_extra() -> None:
    missing = missing_extra()
    if missing:
        raise ConfigError(f"the server needs the 'server' extra ({', '.join(missing)} not installed)", "edgekit serve",
                          "pip install 'edgekit[server]'")


def serve(config: ServerConfig, log_level: str = "info", access_log: bool = False) -> None:
    """Check ``config``, build the app and serve until SIGTERM / SIGINT."""
    check_extra()
    config.check()
    import uvicorn

    from .app import create_app

    logging.basicConfig(level=getattr(logging, log_level.upper(), logging.INFO), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app: Any = create_app(config)
    server = uvicorn.Server(uvicorn.Config(
        app, host=config.host, port=config.port, log_level=log_level, access_log=access_log, lifespan="on",
        timeout_graceful_shutdown=max(1, int(config.shutdown_grace_s)), proxy_headers=False, server_header=False))
    server.run()


__all__ = ["serve", "check_extra", "missing_extra", "REQUIRED"]
