"""The local gallery of enrolled people: embeddings only, never face images.

One versioned JSON document (``kind: "identity-gallery"``) in :func:`edgekit.userdata.data_dir`
(``identity_gallery.json``), written atomically with owner-only permissions. It records the
sha256 of the identity model that computed the embeddings: embeddings of two model versions are
not comparable, so a gallery from another model is refused with a message instead of being
mixed. An unreadable or malformed gallery is moved aside (``.corrupt-<time>``), a new empty one is
written, and :attr:`Gallery.recovered_from` says where the old one went.
"""
from __future__ import annotations

import json
import os
import unicodedata
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np

from .. import userdata
from ..errors import ConfigError, InputError

KIND = "identity-gallery"
VERSION = 1
FILE_NAME = "identity_gallery.json"
MAX_NAME_LENGTH = 100


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
        raise InputError(f"invalid person name {name[:40]!r}", hint=f"use at most {MAX_NAME_LENGTH} printable characters")
    return name


def default_path() -> Path:
    return userdata.data_dir() / FILE_NAME


class Gallery:
    """Enrolled people's embeddings, bound to one identity model (``model_sha256``, ``dim``).

    Loads ``path`` (default :func:`default_path`) on creation; every change is saved at once.
    """

    def __init__(self, model_sha256: str, dim: int, path: Optional[Union[str, "os.PathLike[str]"]] = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.model_sha256, self.dim = model_sha256, int(dim)
        #: Where a corrupt gallery file was moved when this one was rebuilt (None: it was fine).
        self.recovered_from: Optional[Path] = None
        self._people: Dict[str, np.ndarray] = {}
        loaded = userdata.load_document(self.path, KIND, VERSION)
        if loaded.backup is not None:
            self._rebuild(loaded.backup)
        elif loaded.document is not None:
            people = self._parse(loaded.document, self.path)
            if people is None:
                self._rebuild(userdata.move_aside(self.path))
            else:
                self._people = people

    # ------------------------------------------------------------------------------- queries

    def list(self) -> List[GalleryPerson]:
        """Enrolled people, sorted by name."""
        return [GalleryPerson(name, len(e)) for name, e in sorted(self._people.items())]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.strip() in self._people

    def __len__(self) -> int:
        return len(self._people)

    def ranked(self, embedding: np.ndarray) -> List[Tuple[str, float]]:
        """``(name, similarity)`` of every person, closest first (cosine similarity to the mean of
        their unit embeddings, renormalised)."""
        scores = []
        for name, samples in self._people.items():
            centre = samples.mean(axis=0)
            scores.append((name, float(np.dot(centre / max(np.linalg.norm(centre), 1e-12), embedding))))
        return sorted(scores, key=lambda item: -item[1])

    def best_match(self, embedding: np.ndarray) -> Tuple[Optional[str], float]:
        """``(name, similarity)`` of the closest person; ``(None, -1.0)`` for an empty gallery."""
        ranked = self.ranked(embedding)
        return ranked[0] if ranked else (None, -1.0)

    # ------------------------------------------------------------------------------- changes

    def add(self, name: str, embeddings: np.ndarray) -> int:
        """Append ``embeddings`` ([k, dim] unit vectors) to ``name`` (created if new); saves; returns
        the person's sample count."""
        name = check_name(name)
        embeddings = np.asarray(embeddings, np.float64).reshape(-1, self.dim)
        current = self._people.get(name, np.zeros((0, self.dim)))
        self._people[name] = np.concatenate([current, embeddings])
        self.save()
        return len(self._people[name])

    def remove(self, name: str) -> None:
        """Forget ``name``; InputError naming the enrolled people when unknown."""
        key = check_name(name)
        if key not in self._people:
            known = ", ".join(sorted(self._people)) or "nobody is enrolled"
            raise InputError(f"no person named {key!r} in the gallery (enrolled: {known})", self.path,
                             "check the spelling with `edgekit gallery list`")
        del self._people[key]
        self.save()

    def save(self) -> None:
        userdata.atomic_write_json(self.path, self.document())

    def document(self) -> Dict[str, Any]:
        return {"kind": KIND, "version": VERSION, "model_sha256": self.model_sha256, "dim": self.dim,
                "people": {name: [[round(float(v), 6) for v in row] for row in e] for name, e in sorted(self._people.items())}}

    def export(self, path: Union[str, "os.PathLike[str]"]) -> Path:
        """Write the gallery (embeddings only) to ``path`` (owner-only permissions)."""
        target = Path(path)
        if target.is_dir():
            raise InputError("is a directory", target, "pass a file path, e.g. gallery.json")
        userdata.atomic_write_json(target, self.document())
        return target

    def import_(self, path: Union[str, "os.PathLike[str]"]) -> List[str]:
        """Merge the people of an exported gallery (same model only; people already enrolled under
        the same name are replaced); returns the imported names."""
        source = Path(path)
        hint = "pass a file written by `edgekit gallery export`"
        try:
            doc = json.loads(source.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError("does not exist", source, hint) from None
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise InputError(f"is not a readable gallery file ({type(exc).__name__})", source, hint) from None
        if not isinstance(doc, dict) or doc.get("kind") != KIND:
            raise InputError("is not an edgekit identity gallery", source, hint)
        if not isinstance(doc.get("version"), int) or doc["version"] > VERSION:
            raise ConfigError(f"was written by a newer edgekit (gallery version {doc.get('version')!r})", source,
                              "upgrade edgekit to import it")
        people = self._parse(doc, source)
        if people is None:
            raise InputError("is a malformed identity gallery (names or embeddings invalid)", source, hint)
        self._people.update(people)
        self.save()
        return sorted(people)

    # ------------------------------------------------------------------------------- internals

    def _parse(self, doc: Dict[str, Any], source: Path) -> Optional[Dict[str, np.ndarray]]:
        """People of ``doc``; None when malformed; ConfigError when made with another model."""
        if not isinstance(doc.get("model_sha256"), str):
            return None
        if doc["model_sha256"] != self.model_sha256:
            found = str(doc.get("model_sha256"))[:12]
            raise ConfigError(
                f"gallery was built with identity model {found}..., but this model is {self.model_sha256[:12]}...; "
                "embeddings of different model versions cannot be compared", source,
                "re-enroll the people with `edgekit enroll NAME PHOTO...` into a new gallery (move this file away first)")
        people = doc.get("people")
        if doc.get("dim") != self.dim or not isinstance(people, dict):
            return None
        parsed = {}
        for name, rows in people.items():
            try:
                array = np.asarray(rows, np.float64)
                check_name(name)
            except (ValueError, TypeError, InputError):
                return None
            if array.ndim != 2 or array.shape[1] != self.dim or not len(array) or not np.isfinite(array).all():
                return None
            parsed[name] = array
        return parsed

    def _rebuild(self, backup: Path) -> None:
        self.recovered_from = backup
        self._people = {}
        self.save()
        warnings.warn(f"{self.path}: identity gallery was unreadable; moved it to {backup} and started an empty one "
                      "(re-enroll the people)", GalleryRecoveredWarning, stacklevel=3)


class GalleryRecoveredWarning(UserWarning):
    """A corrupt gallery was moved aside and replaced by an empty one."""


__all__ = ["FILE_NAME", "Gallery", "GalleryPerson", "GalleryRecoveredWarning", "KIND", "VERSION", "check_name", "default_path"]
