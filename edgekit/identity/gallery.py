"""The local gallery of enrolled people: embeddings only, never face images.

One versioned JSON document (``kind: "identity-gallery"``) in :func:`edgekit.userdata.data_dir`
(``identity_gallery.json``), written atomically with owner-only permissions. It records the
sha256 of the identity model that computed the embeddings: embeddings of two model versions are
not comparable, so a gallery from another model is refused with a message instead of being
mixed. An unreadable or malformed gallery is moved aside (``.corrupt-<time>``), a new empty one is
written, and :attr:`Gallery.recovered_from` says where the old one went.

Several :class:`Gallery` objects, threads and processes may share one file
(:class:`edgekit.userdata.StoreFile`): every change re-reads the file under its lock
(``identity_gallery.json.lock``), applies itself and replaces the file, so no enrolment is lost;
every query re-reads the file when it changed (one ``lstat`` otherwise), so a gallery object, and
the ``Pipeline`` holding it, sees people enrolled elsewhere. A gallery holds at most
:data:`MAX_PEOPLE` people and :data:`MAX_EMBEDDINGS` embeddings, every one finite and of unit
length; files (own or imported) larger than :data:`MAX_FILE_BYTES` are not read.
"""
from __future__ import annotations

import os
import unicodedata
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import numpy as np

from .. import userdata
from ..errors import ConfigError, EdgekitError, InputError, describe

KIND = "identity-gallery"
VERSION = 1
FILE_NAME = "identity_gallery.json"
MAX_NAME_LENGTH = 100
#: Largest gallery file read (the gallery or an import), in bytes.
MAX_FILE_BYTES = 32 * 2**20
#: Most people a gallery holds.
MAX_PEOPLE = 1_000
#: Most embeddings a gallery holds, all people together.
MAX_EMBEDDINGS = 10_000
#: How far from 1 the length of a stored embedding may be (values are stored to 6 decimals).
UNIT_TOLERANCE = 1e-3

People = Dict[str, np.ndarray]
PathArg = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class GalleryPerson:
    """One enrolled person: ``name`` and how many face embeddings (``samples``) represent them."""

    name: str
    samples: int

    def to_dict(self) -> dict:
        return {"name": self.name, "samples": self.samples}


def check_name(name: Any) -> str:
    """A person's name, stripped; InputError when empty, too long or holding control characters."""
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"person name must be a non-empty string, got {name!r}", hint="e.g. enroll('Mum', ...)")
    name = name.strip()
    if len(name) > MAX_NAME_LENGTH or any(unicodedata.category(c).startswith("C") for c in name):
        raise InputError(f"invalid person name {name[:40]!r}",
                         hint=f"use at most {MAX_NAME_LENGTH} printable characters")
    return name


def check_embeddings(rows: Any, dim: int, name: str) -> np.ndarray:
    """``rows`` as a ``[k >= 1, dim]`` array of finite unit vectors; ValueError naming the person
    and the first bad embedding (counted from 1) otherwise."""
    try:
        array = np.asarray(rows, np.float64)
    except (ValueError, TypeError):
        array = None
    if array is None or array.ndim != 2 or array.shape[1] != dim or not len(array):
        raise ValueError(f"person {name!r}: embeddings are not a non-empty list of {dim} numbers each")
    finite = np.isfinite(array).all(axis=1)
    norms = np.linalg.norm(np.where(finite[:, None], array, 0.0), axis=1)
    problems = np.where(~finite, "not finite", np.where(norms == 0, "zero",
                        np.where(np.abs(norms - 1.0) > UNIT_TOLERANCE, "not unit length", "")))
    bad = np.flatnonzero(problems != "")
    if bad.size:
        k = int(bad[0])
        length = f" (length {norms[k]:.4g})" if problems[k] == "not unit length" else ""
        raise ValueError(f"person {name!r}: embedding {k + 1} is {problems[k]}{length}")
    return array


def check_size(people: int, embeddings: int, subject: object, verb: str = "holds") -> None:
    """InputError naming ``subject`` when a gallery of ``people`` people and ``embeddings``
    embeddings exceeds :data:`MAX_PEOPLE` / :data:`MAX_EMBEDDINGS`."""
    hint = "remove people (`edgekit gallery remove NAME`) or keep fewer photos per person"
    if people > MAX_PEOPLE:
        raise InputError(f"{verb} {people:,} people; a gallery holds at most {MAX_PEOPLE:,}", subject, hint)
    if embeddings > MAX_EMBEDDINGS:
        raise InputError(f"{verb} {embeddings:,} embeddings; a gallery holds at most {MAX_EMBEDDINGS:,}", subject, hint)


def default_path() -> Path:
    return userdata.data_dir() / FILE_NAME


class Gallery:
    """Enrolled people's embeddings, bound to one identity model (``model_sha256``, ``dim``).

    Loads ``path`` (default :func:`default_path`) on creation; every change is saved at once, and
    every query sees the file as it is now (see the module docstring).
    """

    def __init__(self, model_sha256: str, dim: int, path: Optional[PathArg] = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.model_sha256, self.dim = model_sha256, int(dim)
        #: Where a corrupt gallery file was moved when this one was rebuilt (None: it was fine).
        self.recovered_from: Optional[Path] = None
        self._file = userdata.StoreFile(self.path, KIND, VERSION, MAX_FILE_BYTES, "gallery file")
        self._sig: Optional[userdata.Signature] = None
        self._set({}, None)
        self._current()

    # ------------------------------------------------------------------------------- queries

    def list(self) -> List[GalleryPerson]:
        """Enrolled people, sorted by name."""
        return [GalleryPerson(name, len(e)) for name, e in sorted(self._current().items())]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.strip() in self._current()

    def __len__(self) -> int:
        return len(self._current())

    def ranked(self, embedding: np.ndarray) -> List[Tuple[str, float]]:
        """``(name, similarity)`` of every person, closest first (cosine similarity to the mean of
        their unit embeddings, renormalised)."""
        if not self._current():
            return []
        scores = self._centres @ np.asarray(embedding, np.float64).reshape(-1)
        return [(self._names[k], float(scores[k])) for k in np.argsort(-scores, kind="stable")]

    def best_match(self, embedding: np.ndarray) -> Tuple[Optional[str], float]:
        """``(name, similarity)`` of the closest person; ``(None, -1.0)`` for an empty gallery."""
        ranked = self.ranked(embedding)
        return ranked[0] if ranked else (None, -1.0)

    # ------------------------------------------------------------------------------- changes

    def add(self, name: str, embeddings: np.ndarray) -> int:
        """Append ``embeddings`` ([k, dim] unit vectors) to ``name`` (created if new); saves; returns
        the person's sample count."""
        name = check_name(name)
        hint = "pass unit vectors, e.g. from FaceIdentifier.embed()"
        try:
            array = np.asarray(embeddings, np.float64).reshape(-1, self.dim)
        except (ValueError, TypeError):
            raise InputError(f"embeddings must be [k, {self.dim}] numbers", describe(embeddings), hint) from None
        try:
            rows = check_embeddings(array, self.dim, name)
        except ValueError as exc:
            raise InputError(str(exc), describe(embeddings), hint) from None

        def append(people: People) -> None:
            people[name] = np.concatenate([people.get(name, np.zeros((0, self.dim))), rows])

        self._change(append)
        return len(self._people[name])

    def remove(self, name: str) -> None:
        """Forget ``name``; InputError naming the enrolled people when unknown."""
        key = check_name(name)

        def forget(people: People) -> None:
            if key not in people:
                known = ", ".join(sorted(people)) or "nobody is enrolled"
                raise InputError(f"no person named {key!r} in the gallery (enrolled: {known})", self.path,
                                 "check the spelling with `edgekit gallery list`")
            del people[key]

        self._change(forget)

    def document(self) -> Dict[str, Any]:
        """The gallery as it is now, as the JSON document it is stored as."""
        return self._document(self._current())

    def export(self, path: PathArg) -> Path:
        """Write the gallery (embeddings only) to ``path`` (owner-only permissions)."""
        target = Path(path)
        userdata.atomic_write_json(target, self.document(), inputs=[self.path])  # never over the gallery itself
        return target

    def import_(self, path: PathArg) -> List[str]:
        """Merge the people of an exported gallery (same model only; people already enrolled under
        the same name are replaced); returns the imported names."""
        source = Path(path)
        hint = "pass a file written by `edgekit gallery export`"
        doc = userdata.load_export(source, KIND, VERSION, MAX_FILE_BYTES, "identity gallery", hint)
        try:
            incoming = self._parse(doc, source)
        except EdgekitError:
            raise
        except (ValueError, TypeError) as exc:
            raise InputError(str(exc), source, hint) from None
        self._change(lambda people: people.update(incoming))
        return sorted(incoming)

    # ------------------------------------------------------------------------------- internals

    def _current(self) -> People:
        """The people in the file now: read again only when its signature changed."""
        sig = self._file.signature()
        if sig is not None and sig == self._sig:
            return self._people
        if sig is None:
            self._set({}, None)
            return self._people
        loaded = self._file.load(lambda doc: self._parse(doc, self.path))
        if loaded.backup is not None:
            self._rebuild(loaded.backup)
        else:
            self._set(loaded.value or {}, loaded.signature)
        return self._people

    def _change(self, apply: Callable[[People], None]) -> None:
        """Under the file's lock: re-read the gallery, ``apply`` a change to a copy, check the
        caps, save."""
        with self._file.locked():
            people = dict(self._current())
            apply(people)
            check_size(len(people), sum(map(len, people.values())), self.path, "would hold")
            self._save(people)

    def _save(self, people: People) -> None:
        self._set(people, self._file.write(self._document(people)))

    def _set(self, people: People, sig: Optional[userdata.Signature]) -> None:
        """Adopt ``people`` (read or written with signature ``sig``) and their normalised centres."""
        self._people, self._sig = people, sig
        self._names = sorted(people)
        centres = np.array([people[n].mean(axis=0) for n in self._names]).reshape(-1, self.dim)
        self._centres = centres / np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-12)

    def _document(self, people: People) -> Dict[str, Any]:
        return {"kind": KIND, "version": VERSION, "model_sha256": self.model_sha256, "dim": self.dim,
                "people": {name: [[round(float(v), 6) for v in row] for row in e]
                           for name, e in sorted(people.items())}}

    def _parse(self, doc: Dict[str, Any], source: Path) -> People:
        """People of ``doc``: ValueError when malformed, ConfigError when made with another model,
        InputError (naming ``source``) beyond the caps."""
        if not isinstance(doc.get("model_sha256"), str):
            raise ValueError("is malformed (no model_sha256)")
        if doc["model_sha256"] != self.model_sha256:
            found = str(doc.get("model_sha256"))[:12]
            raise ConfigError(
                f"gallery was built with identity model {found}..., but this model is {self.model_sha256[:12]}...; "
                "embeddings of different model versions cannot be compared", source,
                "re-enroll the people with `edgekit enroll NAME PHOTO...` into a new gallery "
                "(move this file away first)")
        people = doc.get("people")
        if doc.get("dim") != self.dim or not isinstance(people, dict):
            raise ValueError(f"is malformed (not a gallery of {self.dim}-value embeddings)")
        check_size(len(people), sum(len(rows) for rows in people.values() if isinstance(rows, list)), source)
        parsed = {}
        for name, rows in people.items():
            try:
                clean = check_name(name)
            except InputError:
                raise ValueError(f"is malformed (invalid person name {str(name)[:40]!r})") from None
            if clean in parsed:
                raise ValueError(f"is malformed (person {clean!r} listed twice)")
            parsed[clean] = check_embeddings(rows, self.dim, clean)
        return parsed

    def _rebuild(self, backup: Path) -> None:
        """Start afresh after the corrupt file was moved to ``backup`` (keeping a gallery another
        writer may have saved meanwhile)."""
        self.recovered_from = backup
        with self._file.locked():
            self._save(self._current())
        warnings.warn(f"{self.path}: identity gallery was unreadable; moved it to {backup} and started an empty one "
                      "(re-enroll the people)", GalleryRecoveredWarning, stacklevel=4)


class GalleryRecoveredWarning(UserWarning):
    """A corrupt gallery was moved aside and replaced by an empty one."""


__all__ = ["FILE_NAME", "Gallery", "GalleryPerson", "GalleryRecoveredWarning", "KIND", "MAX_EMBEDDINGS",
           "MAX_FILE_BYTES",
           "MAX_PEOPLE", "UNIT_TOLERANCE", "VERSION", "check_embeddings", "check_name", "check_size", "default_path"]
