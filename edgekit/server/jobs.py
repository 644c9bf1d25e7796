"""Batch job routes: ``POST /v1/batches`` and the job's status, manifest, outputs and cancel.

A job's inputs are photos uploaded with the request (kept in the job's folder) or a folder /
list of files under one of the server's ``--root`` folders (read in place; anything outside the
roots is refused, links resolved first; URLs are never fetched). The job is planned when it is
created (:meth:`edgekit.batch.BatchWorker.plan`: every output name fixed) and stored in SQLite
before the ``202`` answer, so it survives a restart from then on.
"""
# no "from __future__ import annotations": FastAPI reads the endpoint annotations (Request) at run time

import json
import os
import re
import secrets
import shutil
from pathlib import Path
from typing import Any, Dict, List, Optional

from ..errors import ConfigError

_JOB_ID = re.compile(r"^[0-9a-f]{32}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: Optional[str], index: int) -> str:
    """A plain file name for an uploaded file (no folders, no leading dot, at most 100 characters)."""
    base = _UNSAFE.sub("_", os.path.basename((name or "").replace("\\", "/"))).lstrip("._")[-100:]
    return base or f"image{index + 1}"


def _copy(source: Any, path: Path) -> None:
    """Copy an uploaded file (a binary file object) to ``path``."""
    source.seek(0)
    with open(path, "wb") as out:
        shutil.copyfileobj(source, out, 1 << 20)


def add_batch_routes(app: Any, state: Any, HTTPError: Any, read_json: Any, FileResponse: Any, JSONResponse: Any,
                     StreamingResponse: Any, UploadFile: Any, run_in_threadpool: Any) -> None:
    from fastapi import Request

    from ..batch import BatchWorker
    from ..paths import regular_file, write_output
    from ..video import is_video_path
    from .app import BATCH_FIELDS, BATCH_OPTIONS, _typed, pipeline_kwargs

    config = state.config

    def job_or_404(job_id: str) -> Dict[str, Any]:
        job = state.store.job(job_id) if _JOB_ID.match(job_id) else None
        if job is None:
            # several replicas: the job may live on another one (each keeps its own store)
            raise HTTPError(404, f"job {job_id[:64]!r} not found on this server ({config.instance}); a job lives only "
                                 "on the server that accepted it, whose name its 'server' field gives: ask that one "
                                 "(docs/server.md, Kubernetes)", "NotFound", {"X-Edgekit-Server": config.instance})
        return job

    def describe(job: Dict[str, Any]) -> Dict[str, Any]:
        counts = job["counts"]
        finished = counts["done"] + counts["failed"] + counts["cancelled"]
        base = f"/v1/batches/{job['id']}"
        worker = dict(job["worker"])
        return {"id": job["id"], "server": config.instance, "state": job["state"], "task": worker.pop("task"),
                "total": job["total"],
                "counts": counts, "progress": round(finished / job["total"], 4) if job["total"] else 1.0,
                "records": job["records"], "created": job["created"], "updated": job["updated"],
                "options": {k: v for k, v in worker.items() if v not in (None, {})},
                "links": {"self": base, "manifest": f"{base}/manifest", "outputs": f"{base}/outputs/",
                          "cancel": f"{base}/cancel"}}

    def worker_for(task: Any, raw_options: Any) -> BatchWorker:
        if not isinstance(task, str):
            raise ConfigError("must be a string", f"task={task!r}", "use meme or analyze")
        if raw_options is None:
            raw_options = {}
        if not isinstance(raw_options, dict):
            raise ConfigError("must be a JSON object", "options")
        unknown = sorted(set(raw_options) - set(BATCH_OPTIONS))
        if unknown:
            raise ConfigError(f"unknown option(s) {', '.join(unknown)}", "options",
                              f"valid options: {', '.join(sorted(BATCH_OPTIONS))}")
        options = {k: _typed(k, v, BATCH_OPTIONS[k]) for k, v in raw_options.items() if v is not None}
        if options.get("aus") and task != "analyze":
            raise ConfigError("action units are analysis output", "options.aus=true", "use task 'analyze', or drop aus")
        kwargs = pipeline_kwargs(options, config.num_threads)
        # the server's own limits, which a client cannot lift: every item's header is checked
        # against --max-pixels before decoding, and videos are items only when the server allows;
        # outputs are fsynced before the store records them done (durable as the store is)
        options.update(max_pixels=config.max_pixels, videos=bool(config.batch_videos), durable=True)
        if task == "meme" and options.get("seed") is None and options.get("text") is None:
            # fixed now and stored: a resumed item draws the same captions (and the same style names)
            options["seed"] = secrets.randbelow(2 ** 31)
        return BatchWorker(task, **options, **kwargs)

    def resolve_entry(entry: Any) -> Path:
        if not isinstance(entry, str) or not entry:
            raise ConfigError("must be a non-empty string", f"path={entry!r}")
        if "://" in entry:
            if not entry.startswith("file://"):
                raise HTTPError(400, f"{entry[:200]}: this server never downloads URLs. "
                                     "Put the photos under one of its --root folders and pass their paths "
                                     "(or file:// URLs), or upload them",
                                "RequestError")
            entry = entry[len("file://"):]
        if not config.roots:
            raise HTTPError(403,
                            "this server reads no folders (it was started without --root); upload the photos instead",
                            "Forbidden")
        candidates = [Path(entry)] if os.path.isabs(entry) else [root / entry for root in config.roots]
        inside = [p for p in (config.inside_roots(c) for c in candidates) if p is not None]
        if not inside:  # ".." or a link leading out counts as outside: paths are resolved first
            raise HTTPError(403, f"{entry[:200]}: outside the folders this server may read "
                                 f"({', '.join(str(r) for r in config.roots)})", "Forbidden")
        existing = [p for p in inside if p.exists()]
        return (existing or inside)[0]  # a missing file becomes that item's error line, as in the CLI

    def too_many(n: int) -> None:
        if n > config.max_batch_images:
            raise HTTPError(413, f"a batch of {n:,} inputs is more than this server takes "
                                 f"({config.max_batch_images:,}); split it into several jobs", "TooManyImages")

    def create_job(worker: BatchWorker, files: List[Path], root: Path, job_id: str) -> Dict[str, Any]:
        out_dir = state.jobs_dir / job_id / "out"
        out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        tasks = worker.plan(files, root, out_dir)
        state.store.create(job_id, worker.config, str(root), str(out_dir), [t.to_json() for t in tasks])
        state.runner.wake()
        return state.store.job(job_id)

    @app.post("/v1/batches", status_code=202, tags=["batch"],
              summary="Start a batch job (uploaded photos, or a folder / list of files under a --root)",
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": {"type": "object", "properties": {
                      "task": {"type": "string", "enum": ["meme", "analyze"]}, "folder": {"type": "string"},
                      "paths": {"type": "array", "items": {"type": "string"}}, "options": {"type": "object"}}}},
                  "multipart/form-data": {"schema": {"type": "object", "properties": {
                      "images": {"type": "array", "items": {"type": "string", "format": "binary"}},
                      "task": {"type": "string"}, "options": {"type": "string", "description": "JSON object"}}}}}}})
    async def create_batch(request: Request) -> Any:
        if state.store.active_jobs() >= config.max_active_jobs:
            raise HTTPError(429,
                            f"{config.max_active_jobs} jobs are already queued or running; retry when one finishes",
                            "TooManyJobs", {"Retry-After": "10"})
        job_id = secrets.token_hex(16)
        ctype = request.headers.get("content-type", "").lower()
        if ctype.startswith("multipart/form-data"):
            form = await request.form(max_files=config.max_batch_images + 1, max_fields=16)
            uploads = [v for k, v in form.multi_items() if k == "images" and isinstance(v, UploadFile)]
            unknown = sorted({k for k, _ in form.multi_items()} - {"images", "task", "options"})
            if unknown:
                raise ConfigError(f"unknown form field(s) {', '.join(unknown)}", "request body",
                                  "fields: images, task, options")
            if not uploads:
                raise ConfigError("has no 'images' file fields", "request body", "attach the photos as 'images'")
            too_many(len(uploads))
            try:
                raw = json.loads(form.get("options") or "{}")
            except ValueError as exc:
                raise ConfigError(f"is not valid JSON ({exc})", "options") from None
            worker = worker_for(form.get("task", "meme"), raw)
            in_dir = state.jobs_dir / job_id / "in"
            files: List[Path] = []
            used: set = set()
            for i, upload in enumerate(uploads):
                name = safe_name(upload.filename, i)
                if not config.batch_videos and is_video_path(name):
                    raise HTTPError(415, f"upload {name!r}: this server takes photos only in batches (videos are off; "
                                         "see docs/server.md, --batch-videos)", "UnsupportedMediaType")
                stem, suffix = os.path.splitext(name)
                n = 1
                while name in used:
                    n += 1
                    name = f"{stem}_{n}{suffix}"
                used.add(name)
                # copied from Starlette's spooled file in 1 MB pieces: never a whole upload in memory
                files.append(await run_in_threadpool(write_output, in_dir / name, lambda p, f=upload.file: _copy(f, p)))
            job = await run_in_threadpool(create_job, worker, files, in_dir, job_id)
        else:
            body = await read_json(request, BATCH_FIELDS)
            worker = worker_for(body.get("task", "meme"), body.get("options"))
            if ("folder" in body) == ("paths" in body):
                raise ConfigError("needs exactly one of 'folder' or 'paths'", "request body",
                                  "or upload the photos as multipart/form-data 'images'")
            if "folder" in body:
                folder = resolve_entry(body["folder"])
                files = await run_in_threadpool(worker.find_inputs, folder)
                too_many(len(files))
                for file in files:  # a link inside the folder may lead out of the roots
                    if config.inside_roots(file) is None:
                        raise HTTPError(403, f"{file.relative_to(folder)}: a link in the folder leads outside "
                                             "the folders this server may read", "Forbidden")
                root = folder
            else:
                entries = body["paths"]
                if not isinstance(entries, list) or not entries:
                    raise ConfigError("must be a non-empty list of file paths", "paths")
                too_many(len(entries))
                files = [resolve_entry(e) for e in entries]
                root = Path(os.path.commonpath([str(f.parent) for f in files]))
            job = await run_in_threadpool(create_job, worker, files, root, job_id)
        return JSONResponse(describe(job), status_code=202, headers={"Location": f"/v1/batches/{job_id}"})

    @app.get("/v1/batches", tags=["batch"], summary="Recent jobs")
    async def list_batches() -> Any:
        with state.store._lock:
            rows = state.store._db.execute("SELECT id FROM jobs ORDER BY created DESC LIMIT 100").fetchall()
            ids = [r[0] for r in rows]
        return {"jobs": [describe(state.store.job(i)) for i in ids]}

    @app.get("/v1/batches/{job_id}", tags=["batch"], summary="Progress and counts of a job")
    async def get_batch(job_id: str) -> Any:
        return describe(job_or_404(job_id))

    @app.get("/v1/batches/{job_id}/manifest", tags=["batch"],
             summary="The job's JSON Lines manifest so far (the format `edgekit meme FOLDER` writes)")
    async def get_manifest(job_id: str) -> Any:
        job_or_404(job_id)
        lines = [json.dumps(r, ensure_ascii=False) + "\n" for r in state.store.records(job_id)]
        return StreamingResponse(iter(lines), media_type="application/x-ndjson")

    @app.get("/v1/batches/{job_id}/outputs/{path:path}", tags=["batch"], summary="One output file of a job")
    async def get_output(job_id: str, path: str) -> Any:
        job = job_or_404(job_id)
        if path not in set(state.store.output_paths(job_id)):
            raise HTTPError(404, f"{path[:200]!r} is not an output of job {job_id}; the manifest lists them",
                            "NotFound")
        file = Path(job["out_dir"]) / path
        regular_file(file, "output file")
        return FileResponse(file)

    async def cancel(job_id: str) -> Any:
        job_or_404(job_id)
        from .store import JobConflict

        try:
            job = state.store.cancel(job_id)
        except JobConflict as exc:
            raise HTTPError(409, f"job {job_id}: {exc}; nothing to cancel", "Conflict") from None
        return describe(job)

    app.add_api_route("/v1/batches/{job_id}/cancel", cancel, methods=["POST"], tags=["batch"], summary="Cancel a job")
    app.add_api_route("/v1/batches/{job_id}", cancel, methods=["DELETE"], tags=["batch"],
                      summary="Cancel a job (its finished outputs stay downloadable)")


__all__ = ["add_batch_routes", "safe_name"]
