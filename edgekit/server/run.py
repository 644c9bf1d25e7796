"""``edgekit serve``: run the app with uvicorn (one process; batch items run in a process pool).

SIGTERM / Ctrl-C: one grace period (``shutdown_grace_s``, ``--grace``) starts at the signal. The
server stops accepting connections and gives the requests in flight until its end; at the same
time the batch runner takes no new item and gives running items until its end. Items still running
then are put back in the queue (checkpointed: they are redone at the next start) and their pool
processes killed, and the process exits: within ``--grace`` + :data:`EXIT_OVERHEAD_S`, which is
what a Kubernetes ``terminationGracePeriodSeconds`` must cover.
"""
from __future__ import annotations

import logging
from typing import Any

from ..errors import ConfigError
from .config import ServerConfig

#: What ``pip install 'edgekit[server]'`` brings; checked before anything starts.
REQUIRED = ("fastapi", "uvicorn", "python_multipart")
#: Most seconds from the end of the grace period to the process's exit (kill the pool, close the
#: store); measured well under 1 s (tests/features/test_server_ops.py), kept at 5 for a loaded node.
EXIT_OVERHEAD_S = 5.0


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

    logging.basicConfig(level=getattr(logging, log_level.upper(), logging.INFO),
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app: Any = create_app(config)
    state = app.state  # the Guard around the FastAPI app holds the ServerState

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            state.begin_shutdown()  # the batch drain starts now, alongside uvicorn's own
            super().handle_exit(sig, frame)

    server = Server(uvicorn.Config(
        app, host=config.host, port=config.port, log_level=log_level, access_log=access_log, lifespan="on",
        timeout_graceful_shutdown=max(1, int(config.shutdown_grace_s)), proxy_headers=False, server_header=False))
    server_state = getattr(server, "server_state", None)  # uvicorn's (not public API): "not alone" without it
    if server_state is not None and hasattr(server_state, "connections"):
        state.open_connections = lambda: len(server_state.connections)  # inline analysis only when alone
    server.run()


__all__ = ["serve", "check_extra", "missing_extra", "EXIT_OVERHEAD_S", "REQUIRED"]
