"""edgekit's REST service (``pip install 'edgekit[server]'``, ``edgekit serve``).

Synchronous endpoints (``/v1/analyze``, ``/v1/meme``, ``/v1/captions``, ``/v1/suggest``), batch jobs
kept in an embedded SQLite store (``/v1/batches``: resumed after a crash, every photo processed
exactly once, the CLI's JSON Lines manifest), limits, token auth, ``/healthz``, ``/readyz``,
Prometheus ``/metrics`` and OpenAPI docs (``/docs``). See ``docs/server.md``.

Only this package imports FastAPI and uvicorn, and only inside the functions that build or run
the app (:func:`edgekit.server.app.create_app`, :func:`edgekit.server.run.serve`): importing
``edgekit`` or any of its modules never loads them.
"""
from __future__ import annotations

from .config import ServerConfig, is_loopback

__all__ = ["ServerConfig", "is_loopback"]
