"""The user data directory and crash-safe storage of small versioned files in it.

Everything edgekit keeps between runs (caption feedback, the identity gallery) lives in one
folder: ``$EDGEKIT_DATA_DIR`` when set, else the platform's user data dir (``platformdirs``;
``~/.local/share/edgekit`` on Linux). Files are written atomically (temp file in the same
folder, fsync, ``os.replace``, fsync of the folder) with owner-only permissions, so a process
killed mid-write leaves either the old or the new file, never a torn one.

Versioned JSON documents carry ``{"kind": ..., "version": ...}``; :func:`load_document` refuses a
document of another kind or a newer version with a :class:`~edgekit.errors.ConfigError`, and moves
an unreadable one aside to ``<name>.corrupt-<UTC time>`` (reported, never silently dropped).

Like ssh and gpg, edgekit uses its data folder and store files only when no other user could
have written them (:func:`private_folder`, :func:`check_private`), never follows a link where a
store file belongs and never opens a FIFO or device there (:func:`read_store_file`), and reads at
most a capped number of bytes of any file (:func:`read_input_file` for files the user passes).
:class:`StoreFile` is what the stores share: the advisory lock under which writers re-read,
change and replace the file, clean-up of temp files left by killed writers, and change detection
for readers.
"""
from __future__ import annotations

import contextlib
import errno
import glob
import json
import os
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Generic, Iterable, Iterator, Optional, Tuple, TypeVar, Union

from .errors import ConfigError, EdgekitError, InputError
from .paths import read_regular, write_output

try:  # POSIX advisory locks; elsewhere writers in several processes at once are not serialised
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

#: Environment variable that overrides the data directory (tests, sandboxed apps).
ENV_VAR = "EDGEKIT_DATA_DIR"
#: Largest document :func:`load_document` reads, in bytes (each store sets its own, smaller cap).
MAX_DOCUMENT_BYTES = 64 * 2**20

PathArg = Union[str, "os.PathLike[str]"]
#: ``(inode, mtime_ns, ctime_ns, size)`` of a file: it changes whenever the file is replaced or written.
Signature = Tuple[int, int, int, int]
T = TypeVar("T")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_OPEN_FLAGS = getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)  # O_NONBLOCK: a FIFO never blocks the open


def data_dir(create: bool = True) -> Path:
    """The edgekit user data directory (owner-only permissions when created); InputError when
    another user could write it (see :func:`private_folder`)."""
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
    if create or os.path.lexists(path):
        private_folder(path)
    return path


def check_private(path: Path, st: os.stat_result, what: str = "file") -> None:
    """InputError unless ``st`` (the stat of the file or folder ``path``) belongs to this user (or
    root) and no one else may write it: another user could otherwise swap what edgekit reads."""
    if not hasattr(os, "geteuid"):  # pragma: no cover - Windows: ACLs, not modes
        return
    if st.st_uid not in (os.geteuid(), 0):
        raise InputError(f"{what} is owned by another user (uid {st.st_uid}), who could change what edgekit reads",
                         path,
                         f"use a {what} of your own: move this one away (edgekit recreates it) or set {ENV_VAR}")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        fix = f"chmod {'700' if what == 'folder' else '600'} {path}"
        raise InputError(f"{what} is writable by other users (mode {stat.S_IMODE(st.st_mode):04o}), who could replace "
                         "what edgekit keeps there", path, f"run `{fix}`")


def private_folder(path: PathArg, follow_links: bool = True) -> None:
    """InputError unless ``path`` is a folder that only this user (or root) can write; with
    ``follow_links=False`` it must not be a symbolic link either."""
    path = Path(path)
    try:
        st = os.stat(path) if follow_links else os.lstat(path)
    except OSError as exc:
        raise unreadable(path, exc) from None
    if stat.S_ISLNK(st.st_mode):
        raise _link_error(path)
    if not stat.S_ISDIR(st.st_mode):
        raise InputError("is not a folder", path, f"move it away, or set {ENV_VAR} to a folder")
    check_private(path, st, "folder")


def _link_error(path: Path) -> InputError:
    return InputError("is a symbolic link; edgekit does not follow links in its data folder", path,
                      f"put the file itself there, or remove the link (rm {path})")


def read_input_file(path: PathArg, max_bytes: int, what: str, hint: str) -> bytes:
    """The bytes of a file the user passed (links followed): a regular file only (a FIFO is never
    opened, a device never read) of at most ``max_bytes``; InputError naming it otherwise."""
    return read_regular(path, max_bytes, what, hint=hint)


def read_store_file(path: PathArg, max_bytes: int, what: str) -> Optional[bytes]:
    """The bytes of the store file ``path``, None when it does not exist. InputError when it is a
    link (never followed), not a regular file (a FIFO is never opened), larger than ``max_bytes``,
    or when it or its folder could have been written by another user."""
    path = Path(path)
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    except (OSError, ValueError):  # name too long, NUL character ...: regular_file names the problem
        mode = 0
    if stat.S_ISLNK(mode):
        raise _link_error(path)

    def private(st: os.stat_result) -> None:
        private_folder(path.parent)
        check_private(path, st)

    return read_regular(path, max_bytes, what, hint=f"move it away; edgekit recreates its {what}", follow_links=False,
                        check=private)


def make_owner_only(path: PathArg) -> None:
    """``chmod 600`` the regular file ``path``; a link is never followed (nor a FIFO waited on),
    anything but a regular file is left alone."""
    try:
        fd = os.open(path, os.O_RDONLY | _OPEN_FLAGS | _NOFOLLOW)
    except OSError:  # a link (ELOOP), gone, unreadable
        return
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes, mode: int = 0o600, inputs: Iterable[PathArg] = ()) -> None:
    """Replace ``path`` with ``data`` atomically and durably (readers see the old or the new file,
    whole; file and folder fsynced), never over one of ``inputs``: :func:`edgekit.paths.write_output`."""
    write_output(path, lambda tmp: tmp.write_bytes(data), inputs, mode=mode, durable=True)


def unreadable(path: Path, exc: OSError) -> InputError:
    """The InputError for an OSError met reading or stat-ing ``path`` (too long, a parent is a file ...)."""
    return InputError(f"cannot be read ({exc.strerror or exc})", path, "check the path and its permissions")


def atomic_write_json(path: Path, document: Dict[str, Any], mode: int = 0o600, inputs: Iterable[PathArg] = ()) -> None:
    """Write a JSON document atomically (UTF-8, sorted keys for reviewable diffs).

    Strings that UTF-8 cannot encode (lone surrogates from broken user text) are written as JSON
    ``\\uXXXX`` escapes instead, so the document still reads back exactly."""
    text = json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        data = (json.dumps(document, ensure_ascii=True, indent=1, sort_keys=True) + "\n").encode("ascii")
    atomic_write_bytes(path, data, mode, inputs)


@dataclass
class LoadedDocument:
    """What :func:`load_document` found: the document (None when absent or corrupt) and, when the
    file was corrupt, where it was moved."""

    document: Optional[Dict[str, Any]]
    backup: Optional[Path] = None


class CorruptDocument(ValueError):
    """A store file that is not a readable edgekit document (moved aside, then rebuilt)."""


def parse_document(raw: bytes, path: Path, kind: str, version: int) -> Dict[str, Any]:
    """The versioned JSON document in ``raw`` (read from ``path``). CorruptDocument when it is not
    one; ConfigError for another ``kind`` or a newer ``version`` (that file belongs to something else)."""
    try:
        document = json.loads(raw.decode("utf-8"))
        if not isinstance(document, dict) or "kind" not in document:
            raise ValueError("not an edgekit document")
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        raise CorruptDocument("not a readable JSON document") from None
    if document.get("kind") != kind:
        raise ConfigError(f"holds a {document.get('kind')!r} document, expected {kind!r}", path,
                          "point edgekit at its own file or remove this one")
    _check_version(document, path, kind, version, "upgrade edgekit, or move the file away to start afresh")
    return document


def _check_version(document: Dict[str, Any], path: Path, kind: str, version: int, hint: str) -> None:
    found = document.get("version")
    if isinstance(found, bool) or not isinstance(found, int) or found > version:
        raise ConfigError(f"was written by a newer edgekit ({kind} version {found!r}, this one reads up to {version})",
                          path, hint)


def load_document(path: PathArg, kind: str, version: int, max_bytes: int = MAX_DOCUMENT_BYTES) -> LoadedDocument:
    """Read a versioned JSON document written by :func:`atomic_write_json` (see :func:`read_store_file`).

    Missing file -> ``document=None``. Unparseable file, or one without the ``kind`` field ->
    moved aside to ``<name>.corrupt-<time>`` and ``backup`` set. Another ``kind`` or a newer
    ``version`` -> ConfigError (the file is left as it is: it belongs to something else).
    """
    path = Path(path)
    raw = read_store_file(path, max_bytes, f"{kind} file")
    if raw is None:
        return LoadedDocument(None)
    try:
        return LoadedDocument(parse_document(raw, path, kind, version))
    except CorruptDocument:
        return LoadedDocument(None, backup=move_aside(path))


def load_export(path: PathArg, kind: str, version: int, max_bytes: int, what: str, hint: str) -> Dict[str, Any]:
    """The ``kind`` document of a file the user passed to import (see :func:`read_input_file`):
    InputError when it is not one, ConfigError when a newer edgekit wrote it."""
    path = Path(path)
    raw = read_input_file(path, max_bytes, what, hint)
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InputError(f"is not a readable {what} ({type(exc).__name__})", path, hint) from None
    if not isinstance(document, dict) or document.get("kind") != kind:
        raise InputError(f"is not an edgekit {what}", path, hint)
    _check_version(document, path, kind, version, "upgrade edgekit to import it")
    return document


def move_aside(path: Path) -> Path:
    """Rename a corrupt file to ``<name>.corrupt-<UTC time>`` and return the new path."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
        n += 1
    try:
        os.replace(path, target)
    except OSError as exc:  # a read-only folder ...
        raise InputError(f"is damaged and cannot be moved aside ({exc.strerror or exc})", path,
                         "move the file away yourself; edgekit then starts afresh") from None
    return target


def signature(path: PathArg) -> Optional[Signature]:
    """:data:`Signature` of ``path`` itself (a link is not followed); None when it does not exist."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:  # name too long, a parent is a file, permission denied ...
        raise unreadable(Path(path), exc) from None
    return st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size


@dataclass
class Loaded(Generic[T]):
    """What :meth:`StoreFile.load` found: the parsed value (None when there is no file, or it was
    moved aside), the signature of the file it came from, and for a corrupt file where it went and why."""

    value: Optional[T]
    signature: Optional[Signature]
    backup: Optional[Path] = None
    reason: str = ""


class StoreFile:
    """One versioned document of the data dir shared by objects, threads and processes.

    Writers hold :meth:`locked` while they re-read the file, apply their change and :meth:`write`
    it; entering the lock removes temp files left by writers that were killed. Readers compare
    :meth:`signature` (one ``lstat``) with that of what they read last and :meth:`load` again only
    when it changed. Reads go through :func:`read_store_file` (no links, no FIFOs, capped, private);
    ``what`` names the file in messages (e.g. "gallery file").
    """

    def __init__(self, path: PathArg, kind: str, version: int, max_bytes: int, what: str) -> None:
        if "\0" in os.fspath(path):
            raise InputError("is not a valid path (contains a NUL character)", repr(os.fspath(path)),
                             "check how the path was built")
        self.path, self.kind, self.version, self.max_bytes, self.what = Path(path), kind, version, max_bytes, what
        self._thread_lock = threading.RLock()
        self._depth = 0

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def signature(self) -> Optional[Signature]:
        return signature(self.path)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the store's lock: re-entrant; threads of this object take turns, other objects and
        processes wait on the advisory lock of ``<name>.lock``."""
        with self._thread_lock:
            if self._depth or fcntl is None:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            fd = self._open_lock_file()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                self._depth = 1
                self.remove_stale_temp_files()
                yield
            finally:
                self._depth = 0
                os.close(fd)  # releases the lock

    def _open_lock_file(self) -> int:
        lock = self.lock_path
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            private_folder(self.path.parent)
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | _NOFOLLOW | _OPEN_FLAGS, 0o600)
        except OSError as exc:  # a parent is a file, name too long, read-only folder, a link ...
            if exc.errno == errno.ELOOP:
                raise _link_error(lock) from None
            raise InputError(f"cannot be locked for writing ({exc.strerror or exc})", lock,
                             "pass a store path in a writable folder") from None
        try:
            check_private(lock, os.fstat(fd))
        except BaseException:
            os.close(fd)
            raise
        return fd

    def remove_stale_temp_files(self) -> None:
        """Temp files of writers killed mid-write (every writer holds the lock, so none is live);
        :func:`edgekit.paths.temporary_output` names them ``.<name>.<8 characters>.tmp<suffix>``."""
        name = glob.escape(self.path.name)
        for tmp in self.path.parent.glob(f".{name}.????????.tmp{glob.escape(self.path.suffix)}"):
            tmp.unlink(missing_ok=True)

    def load(self, parse: Callable[[Dict[str, Any]], T]) -> Loaded[T]:
        """``parse(document)`` of the file as it is now. A file that is not a document, or that
        ``parse`` rejects with ValueError or TypeError, is moved aside, under the lock and after
        reading it again (another writer may have replaced it meanwhile). Edgekit errors (a newer
        version, a file that must not be read, a cap) propagate and leave the file alone."""
        try:
            return self._parsed(parse)
        except CorruptDocument:
            pass
        with self.locked():
            try:
                return self._parsed(parse)
            except CorruptDocument as exc:
                return Loaded(None, None, move_aside(self.path), str(exc))

    def _parsed(self, parse: Callable[[Dict[str, Any]], T]) -> Loaded[T]:
        sig = self.signature()
        raw = read_store_file(self.path, self.max_bytes, self.what)
        if raw is None:
            return Loaded(None, None)
        document = parse_document(raw, self.path, self.kind, self.version)
        try:
            return Loaded(parse(document), sig)
        except EdgekitError:
            raise
        except (ValueError, TypeError) as exc:
            raise CorruptDocument(str(exc)) from None

    def write(self, document: Dict[str, Any]) -> Optional[Signature]:
        """Replace the file with ``document`` (hold :meth:`locked`); returns its new signature."""
        atomic_write_json(self.path, document)
        return self.signature()


__all__ = ["ENV_VAR", "CorruptDocument", "Loaded", "LoadedDocument", "MAX_DOCUMENT_BYTES", "Signature", "StoreFile",
           "atomic_write_bytes", "atomic_write_json", "check_private", "data_dir", "load_document", "load_export",
           "make_owner_only", "move_aside", "parse_document", "private_folder", "read_input_file", "read_store_file",
           "signature"]
