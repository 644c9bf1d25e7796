"""A picklable batch worker for running edgekit over many photos in several processes.

:class:`BatchWorker` holds only its options (so it pickles into any process pool, a Ray actor or a
Spark executor) and loads the models **once per process**, on first use or :meth:`~BatchWorker.warm`.
It does the same work, with the same code, as ``edgekit meme FOLDER`` (:mod:`edgekit.meme.batch`):
the same output names, the same JSON Lines manifest records, and one bad photo recorded as a failed
line while the rest go on. One difference: a generated caption depends only on its photo and the
seed (:func:`fresh_captions`), never on the photos captioned before it, so results do not depend
on which process ran an item or in which order.

Work is split in two steps so that any engine can run the second in any order, on any process,
and again after a crash:

1. :meth:`BatchWorker.plan` (once, in the driver): the input files -> :class:`BatchTask` rows, each
   naming the output files its input will make (``photos/a.jpg`` -> ``out/a.jpg``, name clashes
   resolved as the CLI does). Names are fixed before any work, so a task that is run again writes
   the same files (atomically, :func:`edgekit.paths.write_output`) instead of new ones: no
   duplicates, no half-written file.
2. :meth:`BatchWorker.run` (anywhere): one task -> its manifest records.

Engines: :func:`run_local` (this process, in order), :func:`run_ray` (Ray Data ``map_batches``
over a local or remote Ray cluster, ``pip install 'edgekit[ray]'``), the REST server's job runner
(:mod:`edgekit.server.jobs`, a process pool) and Spark's ``predict_batch_udf`` through
:meth:`BatchWorker.predict_fn` (see ``docs/server.md``).

>>> worker = BatchWorker("meme", lang="en", seed=7)                         # doctest: +SKIP
>>> result = run_ray(worker, "photos/", "memes/")                            # doctest: +SKIP
"""
from __future__ import annotations

import contextlib
import json
import os
import random
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

from .errors import ConfigError, EdgekitError, ImageReadError, InputError
from .faces import FACE
from .task_options import CaptionerOptions, check_caption_source
from .validate import check, integer, optional

PathArg = Union[str, "os.PathLike[str]"]

#: What a worker can do with each input: ``meme`` (the ``edgekit meme FOLDER`` outputs and
#: manifest) or ``analyze`` (one ``edgekit analyze`` JSON record per photo, no output file).
TASKS = ("meme", "analyze")

#: Meme options a worker passes to :func:`edgekit.make_meme` / :func:`edgekit.meme_styles`.
MEME_OPTIONS = ("text", "style", "scene", "lang", "face", "seed", "font", "placement")


@dataclass(frozen=True)
class BatchTask:
    """One input of a planned batch.

    Attributes:
        index: position in the batch (the manifest's order).
        source: the input file (absolute path).
        rel: its path relative to the batch's folder, as the manifest names it.
        out_dir: the batch's output folder.
        styles: caption styles of its memes, fixed when planned (``styles=N`` batches), else empty.
        targets: ``(suffix, tag, output path relative to out_dir)`` of every output it makes.
    """

    index: int
    source: str
    rel: str
    out_dir: str
    styles: Tuple[str, ...] = ()
    targets: Tuple[Tuple[str, str, str], ...] = ()

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: Union[str, bytes]) -> "BatchTask":
        data = json.loads(text)
        return cls(int(data["index"]), data["source"], data["rel"], data["out_dir"], tuple(data["styles"]),
                   tuple(tuple(t) for t in data["targets"]))  # type: ignore[misc]

    @property
    def outputs(self) -> List[str]:
        """Output paths relative to ``out_dir``."""
        return [rel for _, _, rel in self.targets]


class _PlannedNames:
    """The ``take(rel, suffix, tag)`` interface of :class:`edgekit.meme.batch.OutputNames`, answering
    with the paths fixed by :meth:`BatchWorker.plan` (so a re-run writes the same files)."""

    def __init__(self, task: BatchTask) -> None:
        self.out = Path(task.out_dir)
        self.paths = {(suffix, tag): self.out / rel for suffix, tag, rel in task.targets}

    def take(self, rel: Path, suffix: str, tag: str = "") -> Path:
        try:
            return self.paths[(suffix, tag)]
        except KeyError:
            raise InputError(f"made an output ({tag or 'meme'}{suffix}) that was not planned", rel,
                             "plan the batch again with the same options") from None


@contextlib.contextmanager
def fresh_captions() -> Iterator[None]:
    """Generated captions that depend only on their own inputs and seed.

    The shared captioners never repeat one of their recent captions, so a caption would otherwise
    depend on what was captioned before in the same process (another photo, another client).
    Inside this block that memory is empty and no other thread captions: a photo gives the same
    meme in any process, any order, and again when a crashed item is redone. (``edgekit meme
    FOLDER`` keeps the memory across the folder's photos, so its generated captions differ.)"""
    from .captioning import api

    with api._lock:  # the lock the module-level caption helpers hold (re-entrant)
        api.reset_recent()
        yield


#: Per process: models loaded by a worker config (key -> seconds the load + warm-up took).
#: Per-process caches, least recently used first, bounded: a long-running process (a server pool
#: process) sees a new configuration per client's options, and must not keep them all.
_WARM: "OrderedDict[str, float]" = OrderedDict()
_PIPELINES: "OrderedDict[str, Any]" = OrderedDict()
MAX_WARM = 64
MAX_PIPELINES = 4


class BatchWorker:
    """Picklable batch worker: options only; models are loaded once per process.

    Args:
        task: ``"meme"`` or ``"analyze"`` (:data:`TASKS`).
        styles: memes per photo, one per caption style (as ``edgekit meme --styles N``).
        animated: ``"gif"``/``"webp"``: animated memes for photos too.
        text, style, scene, lang, face, seed, font, placement, caption_source: meme options
            (:func:`edgekit.make_meme`; ``caption_source="model"``: captions from the caption model).
        max_pixels: refuse photos larger than this (width x height, read from the header before
            decoding) with a failed record; None: only the library's own cap (the REST server
            passes its ``--max-pixels``).
        videos: ``False``: a video input is a failed record instead of going to the video decoder
            (the REST server's default, see ``docs/server.md``).
        durable: fsync every output (file, then its folder) before :meth:`run` returns its
            records, so an engine that records them as done (the REST server's job store) never
            records an output a power cut could still lose. Off by default (one fsync per file).
        pipeline: :class:`edgekit.PipelineOptions` fields (``detector_model``, ``min_confidence``,
            ``max_faces``, ``num_threads``, ``emotion_model``); image mode only.

    Raises:
        ConfigError: an unknown task, option or value, found here rather than on the first photo.
    """

    def __init__(self, task: str = "meme", *, styles: Optional[int] = None, animated: Optional[str] = None,
                 text: Optional[str] = None, style: Optional[str] = None, scene: Optional[str] = None, lang: str = "zh",
                 face: Optional[int] = None, seed: Optional[int] = None, font: Optional[str] = None,
                 placement: str = "auto", max_pixels: Optional[int] = None, videos: bool = True, durable: bool = False,
                 caption_source: str = CaptionerOptions.source, **pipeline: Any) -> None:
        self.config: Dict[str, Any] = {"task": task, "styles": styles, "animated": animated, "text": text,
                                       "style": style,
                                       "scene": scene, "lang": lang, "face": face, "seed": seed, "font": font,
                                       "placement": placement, "pipeline": dict(pipeline)}
        if max_pixels is not None:  # only when set: other workers' configs stay as they were
            self.config["max_pixels"] = max_pixels
        if caption_source != CaptionerOptions.source:  # likewise (stored jobs, warm-up keys)
            self.config["caption_source"] = caption_source
        if not videos:
            self.config["videos"] = False
        if durable:
            self.config["durable"] = True
        self._check()

    # -------------------------------------------------------------------------------- options

    def _check(self) -> None:
        from .captioning.taxonomy import STYLES, resolve_lang, resolve_scene, resolve_style
        from .meme.batch import ANIMATIONS
        from .meme.compose import check_placement
        from .pipeline import PipelineOptions

        c = self.config
        if c["task"] not in TASKS:
            raise ConfigError(f"unknown batch task {c['task']!r}", hint=f"use one of {', '.join(TASKS)}")
        if c["animated"] is not None and c["animated"] not in ANIMATIONS:
            raise ConfigError("unknown animation format", f"animated={c['animated']!r}", "use 'gif' or 'webp'")
        styles = c["styles"]
        check("styles", styles, optional(integer(1, len(STYLES), hint=f"one meme per style, at most {len(STYLES)}"),
                                         "one meme per photo"))
        if styles is not None and c["text"] is not None:
            raise ConfigError("styles makes one generated caption per style", f"styles={styles}", "drop text")
        check("seed", c["seed"], optional(integer(hint="pass e.g. seed=42 for reproducible captions"),
                                          "fresh randomness"))
        check("max_pixels", c.get("max_pixels"),
              optional(integer(1, hint="the most pixels (width x height) a photo may have, e.g. max_pixels=25_000_000"),
                       "only the library's own cap"))
        check("face", c["face"], FACE)
        check_caption_source(c.get("caption_source", CaptionerOptions.source))
        for name in ("styles", "seed", "max_pixels", "face"):  # numpy integers too; the config stays JSON
            if c.get(name) is not None:
                c[name] = int(c[name])
        if c["style"] is not None:
            resolve_style(c["style"])
        if c["scene"] is not None:
            resolve_scene(c["scene"])
        resolve_lang(c["lang"])
        check_placement(c["placement"])
        mode = c["pipeline"].get("running_mode", "image")
        if mode != "image":
            raise ConfigError("batch workers run in image mode", f"running_mode={mode!r}")
        if "result_callback" in c["pipeline"]:
            raise ConfigError("batch workers take no result_callback", "result_callback")
        opts = PipelineOptions.from_kwargs(**c["pipeline"])  # unknown names
        from .detection import FaceDetectorOptions

        FaceDetectorOptions(model=opts.detector_model, min_confidence=opts.min_confidence, max_faces=opts.max_faces,
                            num_threads=opts.num_threads)  # their values, checked without loading a model

    def __getstate__(self) -> Dict[str, Any]:
        return {"config": self.config}

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.config = state["config"]

    def __repr__(self) -> str:
        return f"BatchWorker({self.config!r})"

    @property
    def task(self) -> str:
        return self.config["task"]

    def _key(self) -> str:
        return json.dumps(self.config, sort_keys=True, default=str)

    def pipeline_options(self) -> Any:
        from .pipeline import PipelineOptions

        return PipelineOptions.from_kwargs(**self.config["pipeline"])

    def _meme_options(self) -> Dict[str, Any]:
        options = {k: self.config[k] for k in MEME_OPTIONS}
        options["caption_source"] = self.config.get("caption_source", CaptionerOptions.source)
        options["options"] = self.pipeline_options()
        return options

    # -------------------------------------------------------------------------------- models

    def warm(self) -> float:
        """Load the models in this process and run one inference on the bundled demo photo (once
        per process and configuration); returns the seconds it took (0 when already warm)."""
        # the seed changes no model: a server job that draws one must not warm up again
        key = json.dumps({k: v for k, v in self.config.items() if k != "seed"}, sort_keys=True, default=str)
        if key in _WARM:
            _WARM.move_to_end(key)
            return 0.0
        from .assets import demo_photo

        started = time.perf_counter()
        if self.task == "analyze":
            self._pipeline().process(demo_photo())
        else:
            from .meme import make_meme

            options = self._meme_options()
            if options["text"] is None:
                options.update(style=None, seed=0)  # a generated caption: loads the caption library too
            make_meme(demo_photo(), **options)
        seconds = _WARM[key] = time.perf_counter() - started
        while len(_WARM) > MAX_WARM:
            _WARM.popitem(last=False)
        return seconds

    def _pipeline(self) -> Any:
        """This process's image-mode pipeline for ``analyze`` tasks (one per configuration)."""
        from .pipeline import Pipeline

        key = json.dumps(self.config["pipeline"], sort_keys=True, default=str)  # all the pipeline depends on
        if key in _PIPELINES:
            _PIPELINES.move_to_end(key)
        else:
            _PIPELINES[key] = Pipeline(self.pipeline_options())
            while len(_PIPELINES) > MAX_PIPELINES:
                _, old = _PIPELINES.popitem(last=False)
                old.close()
        return _PIPELINES[key]

    # -------------------------------------------------------------------------------- planning

    def find_inputs(self, folder: PathArg, skip: Optional[PathArg] = None) -> List[Path]:
        """The inputs of a folder batch, as ``edgekit meme FOLDER`` finds them (recursive, sorted,
        hidden files left out; ``analyze`` batches take photos only)."""
        from .meme.batch import IMAGE_EXTENSIONS, find_media

        src = Path(folder)
        if not src.is_dir():
            raise InputError("is not a folder", src, "pass a folder of photos")
        files = find_media(src, skip=Path(skip) if skip is not None else None)
        if self.task == "analyze":
            files = [f for f in files if f.suffix.lower() in IMAGE_EXTENSIONS]
        if not files:
            raise InputError("contains no photos or videos", src, "pass a folder with .jpg/.png/... photos")
        return files

    def plan(self, files: Sequence[PathArg], root: PathArg, out_dir: PathArg) -> List[BatchTask]:
        """One :class:`BatchTask` per input, in order, with its output names fixed (see the module
        docstring). ``root``: the folder the inputs' manifest names are relative to."""
        from .captioning.taxonomy import STYLES
        from .meme.batch import OutputNames
        from .video import is_video_path

        root_path, out = Path(root), Path(out_dir)
        names = OutputNames(out)
        c = self.config
        seeded = random.Random(c["seed"]) if c["seed"] is not None else None
        tasks: List[BatchTask] = []
        for index, file in enumerate(files):
            path = Path(file)
            try:
                rel = path.relative_to(root_path)
            except ValueError:
                raise InputError(f"is not inside the batch folder {root_path}", path,
                                 "list files under one folder") from None
            styles: Tuple[str, ...] = ()
            targets: List[Tuple[str, str, str]] = []
            if c["task"] == "meme":
                video = is_video_path(path)
                if c["styles"] and not video:
                    # what meme_styles draws: the same styles for every photo when seeded (as the CLI), else per photo
                    styles = tuple(random.Random(c["seed"]).sample(STYLES, c["styles"]) if seeded is not None
                                   else random.sample(STYLES, c["styles"]))
                if video:
                    wanted = [(f".{c['animated'] or 'gif'}", "_1_None" if c["styles"] else "")]
                else:
                    jpeg = path.suffix.lower() in (".jpg", ".jpeg")
                    suffix = f".{c['animated']}" if c["animated"] else (".jpg" if jpeg else ".png")
                    wanted = [(suffix, f"_{i + 1}_{s}") for i, s in enumerate(styles)] if styles else [(suffix, "")]
                for suffix, tag in wanted:
                    targets.append((suffix, tag, names.take(rel, suffix, tag).relative_to(out).as_posix()))
            tasks.append(BatchTask(index, os.fspath(path.resolve()), rel.as_posix(), os.fspath(out.resolve()), styles,
                                   tuple(targets)))
        return tasks

    # -------------------------------------------------------------------------------- running

    def run(self, task: BatchTask) -> List[dict]:
        """Do one task in this process (models loaded on first use); returns its manifest records.

        Outputs are written atomically to the planned paths. An input that fails (unreadable, no
        face and no text, over ``max_pixels``, a video when ``videos=False`` ...) gives one record
        with ``ok: false`` and its error, as in the CLI."""
        try:
            self._admit(task)
        except EdgekitError as exc:
            record = {"source": task.rel, "output": None, "ok": False, "error": str(exc),
                      "error_type": type(exc).__name__}
            if self.task == "analyze":
                del record["output"]
            return [record]
        self.warm()
        if self.task == "analyze":
            return [self._analyze(task)]
        from .meme.batch import run_item
        from .video import is_video_path

        options = self._meme_options()
        styles = self.config["styles"]
        if styles and not is_video_path(task.source):
            options["styles"] = list(task.styles)  # the planned styles: meme_styles(path, n, styles=[...])
        with fresh_captions() if self.config["text"] is None else contextlib.nullcontext():
            item = run_item(Path(task.source), Path(task.rel), Path(task.out_dir), _PlannedNames(task), styles,
                            self.config["animated"], options, durable=bool(self.config.get("durable")))
        return item.records

    def _admit(self, task: BatchTask) -> None:
        """Raise when this worker's limits refuse the input (checked before any decoding)."""
        from .video import is_video_path

        if is_video_path(task.source):
            if self.config.get("videos", True) is False:
                raise InputError("is a video; this batch takes photos only", task.rel,
                                 "send photos (videos are off on this server, see docs/server.md)")
            return
        limit = self.config.get("max_pixels")
        if limit is None:
            return
        from PIL import Image

        from . import imageio

        try:
            with Image.open(task.source, formats=imageio.FORMATS) as img:
                width, height = img.size
        except Exception:  # noqa: BLE001 - not an image, missing...: the decoder gives the reason
            return
        if width * height > limit:
            raise ImageReadError(f"image is {width}x{height} = {width * height:,} pixels, more than this batch accepts "
                                 f"({limit:,})", task.rel, "downscale it")

    def _analyze(self, task: BatchTask) -> dict:
        try:
            _, result = self._pipeline().decode_and_process(task.source)  # decode timed as the CLI counts it
            return {**replace(result, source=task.rel).to_dict(), "ok": True, "error": None}
        except EdgekitError as exc:
            return {"source": task.rel, "ok": False, "error": str(exc), "error_type": type(exc).__name__}

    def __call__(self, batch: Dict[str, Any]) -> Dict[str, Any]:
        """Ray Data ``map_batches`` entry: a batch with a ``task`` column (:meth:`BatchTask.to_json`)
        -> columns ``index`` and ``records`` (JSON list of manifest records)."""
        import numpy as np

        tasks = [BatchTask.from_json(t) for t in batch["task"]]
        return {"index": np.array([t.index for t in tasks], dtype=np.int64),
                "records": np.array([json.dumps(self.run(t), ensure_ascii=False) for t in tasks], dtype=object)}

    def predict_fn(self) -> Callable[[Any], Any]:
        """Spark ``predict_batch_udf`` ``make_predict_fn``: returns ``predict(tasks)``, which maps an
        array of :meth:`BatchTask.to_json` strings to an array of JSON record lists (models loaded
        once per executor process)."""
        def predict(tasks: Any) -> Any:
            import numpy as np

            return np.array([json.dumps(self.run(BatchTask.from_json(t)), ensure_ascii=False) for t in tasks],
                            dtype=object)

        self.warm()
        return predict


@dataclass(frozen=True)
class BatchRun:
    """A finished batch: every task's records (in input order), the output folder and the manifest."""

    tasks: List[BatchTask]
    records: List[List[dict]]
    out_dir: Path
    manifest: Optional[Path]

    @property
    def failed(self) -> int:
        return sum(1 for recs in self.records for r in recs if not r.get("ok"))

    @property
    def outputs(self) -> List[Path]:
        return [self.out_dir / r["output"] for recs in self.records for r in recs if r.get("ok") and r.get("output")]


def write_manifest(out_dir: PathArg, records: Iterable[Iterable[dict]], durable: bool = False) -> Path:
    """``out_dir/manifest.jsonl`` (the CLI's name and format), written atomically (``durable``: and
    fsynced)."""
    from .meme.batch import MANIFEST_NAME
    from .paths import write_output

    path = Path(out_dir) / MANIFEST_NAME
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for recs in records for r in recs)
    return write_output(path, lambda tmp: tmp.write_text(text, encoding="utf-8"), option="the manifest",
                        durable=durable)


def _prepare(worker: BatchWorker, inputs: Union[PathArg, Sequence[PathArg]], out_dir: PathArg,
             root: Optional[PathArg]) -> List[BatchTask]:
    out = Path(out_dir)
    if isinstance(inputs, (str, os.PathLike)):
        folder = Path(inputs)
        if out.exists() and out.resolve() == folder.resolve():
            raise ConfigError("the output folder is the input folder", out, "pass another output folder")
        files, base = worker.find_inputs(folder, skip=out), folder
    else:
        files = [Path(p) for p in inputs]
        if not files:
            raise InputError("no input files", "inputs", "pass at least one photo")
        base = (Path(root) if root is not None
                else Path(os.path.commonpath([os.fspath(p.parent.resolve()) for p in files])))
        files = [p.resolve() for p in files]
        base = base.resolve()
    out.mkdir(parents=True, exist_ok=True)
    return worker.plan(files, base, out)


def run_local(worker: BatchWorker, inputs: Union[PathArg, Sequence[PathArg]], out_dir: PathArg, *,
              root: Optional[PathArg] = None, manifest: bool = True) -> BatchRun:
    """Run a batch in this process, in order (the reference the other engines are compared with).
    ``inputs``: a folder (as ``edgekit meme FOLDER``) or a list of files (manifest names relative
    to ``root``, default their common folder)."""
    tasks = _prepare(worker, inputs, out_dir, root)
    records = [worker.run(t) for t in tasks]
    return BatchRun(tasks, records, Path(out_dir), write_manifest(out_dir, records) if manifest else None)


def run_ray(worker: BatchWorker, inputs: Union[PathArg, Sequence[PathArg]], out_dir: PathArg, *,
            root: Optional[PathArg] = None, concurrency: Optional[int] = None, batch_size: int = 8,
            manifest: bool = True) -> BatchRun:
    """Run a batch on Ray Data: the planned tasks become a dataset, ``map_batches`` runs them on
    ``concurrency`` actors (each a process with its own models, loaded once), and the manifest is
    written in input order. Uses the Ray cluster already initialised (``ray.init(address=...)``),
    else starts a local one. Same outputs and records as :func:`run_local` and the CLI.

    Raises:
        ConfigError: Ray is not installed (``pip install 'edgekit[ray]'``).
    """
    try:
        import ray
        import ray.data
    except ImportError:
        raise ConfigError("Ray is not installed", "run_ray", "pip install 'edgekit[ray]'") from None
    tasks = _prepare(worker, inputs, out_dir, root)
    if not ray.is_initialized():
        ray.init(num_cpus=concurrency, include_dashboard=False, log_to_driver=False)
    workers = concurrency or max(1, int(ray.available_resources().get("CPU", 1)))
    ds = ray.data.from_items([{"task": t.to_json()} for t in tasks],
                             override_num_blocks=max(1, min(len(tasks), workers * 4)))
    ds = ds.map_batches(BatchWorker, fn_constructor_kwargs=_constructor_kwargs(worker), batch_size=batch_size,
                        concurrency=workers, batch_format="numpy")
    by_index: Dict[int, List[dict]] = {}
    for row in ds.iter_rows():
        by_index[int(row["index"])] = json.loads(row["records"])
    missing = [t.rel for t in tasks if t.index not in by_index]
    if missing:  # Ray retries failed tasks itself; a lost row is a bug worth stopping for
        raise RuntimeError(f"Ray returned no result for {len(missing)} input(s), e.g. {missing[0]}")
    records = [by_index[t.index] for t in tasks]
    return BatchRun(tasks, records, Path(out_dir), write_manifest(out_dir, records) if manifest else None)


def _constructor_kwargs(worker: BatchWorker) -> Dict[str, Any]:
    c = dict(worker.config)
    task, pipeline = c.pop("task"), c.pop("pipeline")
    return {"task": task, **c, **pipeline}


__all__ = ["BatchRun", "BatchTask", "BatchWorker", "MEME_OPTIONS", "TASKS", "run_local", "run_ray", "write_manifest"]
