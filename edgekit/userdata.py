"""The user data directory and crash-safe storage of small versioned files in it.

Everything edgekit keeps between runs (caption feedback, the identity gallery) lives in one
folder: ``$EDGEKIT_DATA_DIR`` when set, else the platform's user data dir (``platformdirs``;
``~/.local/share/edgekit`` on Linux). Files are written atomically (temp file in the same
folder, fsync, ``os.replace``, fsync of the folder) with owner-only permissions, so a process
killed mid-write leaves either the old or the new file, never a torn one.

Versioned JSON documents carry ``{"kind": ..., "version": ...}``; :func:`load_document` refuses a
document of another kind or a newer version with a :class:`~edgekit.errors.ConfigError`, and moves
an unreadable one aside to ``<name>.corrupt-<UTC time>`` (reported, never silently dropped).
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional

from .errors import ConfigError, InputError

#: Environment variable that overrides the data directory (tests, sandboxed apps).
ENV_VAR = "EDGEKIT_DATA_DIR"


def data_dir(create: bool = True) -> Path:
    """The edgekit user data directory (owner-only permissions when created)."""
    override = os.environ.get(ENV_VAR)
    if override:
        path = Path(override).expanduser()
    else:
        import platformdirs

        path = Path(platformdirs.user_data_dir("edgekit", appauthor=False))
    if create:
        try:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:  # a parent is a file, read-only file system ...
            raise InputError(f"data directory cannot be created ({exc.strerror or exc})", path,
                             f"set {ENV_VAR} to a writable folder") from None
    return path


def atomic_write_bytes(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` atomically (readers see the old or the new file, whole)."""
    path = Path(path)
    try:
        if path.exists() and not path.is_file():
            # os.replace would swap a device (/dev/null), FIFO or folder for a regular file.
            raise InputError("is not a regular file", path, "write to a file path")
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:  # a parent is a file, name too long, read-only folder ...
        raise _unwritable(path, exc) from None
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):  # disk full, quota ...
            raise _unwritable(path, exc) from None
        raise
    _fsync_dir(path.parent)


def _unwritable(path: Path, exc: OSError) -> InputError:
    return InputError(f"cannot be written ({exc.strerror or exc})", path, "check that its folder exists, is a folder and is writable")


def unreadable(path: Path, exc: OSError) -> InputError:
    """The InputError for an OSError met reading or stat-ing ``path`` (too long, a parent is a file ...)."""
    return InputError(f"cannot be read ({exc.strerror or exc})", path, "check the path and its permissions")


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_json(path: Path, document: Dict[str, Any], mode: int = 0o600) -> None:
    """Write a JSON document atomically (UTF-8, sorted keys for reviewable diffs).

    Strings that UTF-8 cannot encode (lone surrogates from broken user text) are written as JSON
    ``\\uXXXX`` escapes instead, so the document still reads back exactly."""
    text = json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        data = (json.dumps(document, ensure_ascii=True, indent=1, sort_keys=True) + "\n").encode("ascii")
    atomic_write_bytes(path, data, mode)


@dataclass
class LoadedDocument:
    """What :func:`load_document` found: the document (None when absent or corrupt) and, when the
    file was corrupt, where it was moved."""

    document: Optional[Dict[str, Any]]
    backup: Optional[Path] = None


def load_document(path: Path, kind: str, version: int) -> LoadedDocument:
    """Read a versioned JSON document written by :func:`atomic_write_json`.

    Missing file -> ``document=None``. Unparseable file, or one without the ``kind`` field ->
    moved aside to ``<name>.corrupt-<time>`` and ``backup`` set. Another ``kind`` or a newer
    ``version`` -> ConfigError (the file is left as it is: it belongs to something else).
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return LoadedDocument(None)
    except IsADirectoryError:
        raise InputError(f"is a folder, not a {kind} file", path, "pass the path of a file (it is created when missing)") from None
    except OSError as exc:  # permission denied, name too long, a parent is a file ...
        raise unreadable(path, exc) from None
    try:
        document = json.loads(raw.decode("utf-8"))
        if not isinstance(document, dict) or "kind" not in document:
            raise ValueError("not an edgekit document")
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        return LoadedDocument(None, backup=move_aside(path))
    if document.get("kind") != kind:
        raise ConfigError(f"holds a {document.get('kind')!r} document, expected {kind!r}", path,
                          "point edgekit at its own file or remove this one")
    found = document.get("version")
    if isinstance(found, bool) or not isinstance(found, int) or found > version:
        raise ConfigError(f"was written by a newer edgekit ({kind} version {found!r}, this one reads up to {version})",
                          path, "upgrade edgekit, or move the file away to start afresh")
    return LoadedDocument(document)


def move_aside(path: Path) -> Path:
    """Rename a corrupt file to ``<name>.corrupt-<UTC time>`` and return the new path."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
        n += 1
    os.replace(path, target)
    return target


__all__ = ["ENV_VAR", "LoadedDocument", "atomic_write_bytes", "atomic_write_json", "data_dir", "load_document",
           "move_aside"]
