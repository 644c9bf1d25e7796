"""Path rules shared by every reader and writer: regular files only, outputs written atomically
and never over an input.

Reading a FIFO blocks forever and reading a device (``/dev/zero``) never ends, so every place
that expects a file checks :func:`regular_file` first (links are followed: a link to a FIFO is
refused like the FIFO). Every output file is made by :func:`write_output` or
:func:`output_stream`: the bytes go to a hidden temporary file in the same folder, which replaces
the target only when complete, so a full disk, an error or Ctrl-C never leaves a torn file or
destroys the previous one, and an output that is (or links to) an input is refused.
"""
from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path
from typing import IO, Any, BinaryIO, Callable, Iterable, Iterator, Optional, Tuple, Type, Union

from .errors import InputError

PathArg = Union[str, "os.PathLike[str]"]

_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # a FIFO never blocks the open
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def regular_file(path: PathArg, what: str = "file", error: Type[Exception] = InputError,
                 hint: str = "check the path", missing: str = "no such file") -> os.stat_result:
    """``os.stat`` of ``path`` when it is an existing regular file; ``error`` naming it otherwise
    (``missing``, unreadable, a folder, a FIFO, socket or device)."""
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise error(missing, path, hint) from None
    except OSError as exc:  # permission denied on a parent, name too long, symlink loop ...
        raise error(f"cannot be read ({exc.strerror or exc})", path, "check the path and its permissions") from None
    except ValueError:  # a NUL character inside the path
        raise error("is not a valid path (contains a NUL character)", repr(str(path)),
                    "check how the path was built") from None
    if stat.S_ISDIR(st.st_mode):
        raise error(f"is a directory, not a {what}", path, f"pass one {what}")
    if not stat.S_ISREG(st.st_mode):
        kind = "FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) else "device or socket"
        raise error(f"is a {kind}, not a regular file", path,
                    f"pass a regular {what}; reading it could block or never end")
    return st


def same_file(a: PathArg, b: PathArg) -> bool:
    """True when ``a`` and ``b`` name the same existing file (links and ``..`` resolved)."""
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def refuse_overwriting_inputs(output: PathArg, inputs: Iterable[PathArg], option: str = "the output") -> None:
    """InputError when ``output`` is (or links to) one of ``inputs``: an output never replaces an input."""
    for source in inputs:
        if isinstance(source, (str, os.PathLike)) and same_file(output, source):
            raise InputError(f"is also an input ({source}); writing {option} there would destroy it", Path(output),
                             "choose another output path")


def open_regular(path: PathArg, what: str = "file", error: Type[Exception] = InputError, hint: str = "check the path",
                 missing: str = "no such file", follow_links: bool = True) -> Tuple[BinaryIO, os.stat_result]:
    """A binary handle on the regular file ``path`` and its ``fstat``, checked without a race: the
    file is opened non-blocking (a FIFO swapped in after :func:`regular_file` cannot block the open)
    and must still be the file that was checked. ``follow_links=False`` refuses a link."""
    path = Path(path)
    checked = regular_file(path, what, error, hint, missing)
    flags = os.O_RDONLY | _NONBLOCK | _CLOEXEC | (0 if follow_links else _NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow_links:
            raise error("is a symbolic link; edgekit does not follow it here", path,
                        f"pass the {what} itself") from None
        raise error(f"cannot be read ({exc.strerror or exc})", path, "check the path and its permissions") from None
    handle = os.fdopen(fd, "rb")
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != (checked.st_dev, checked.st_ino):
        handle.close()
        raise error("was replaced while edgekit opened it", path, "try again")
    return handle, st


def read_regular(path: PathArg, max_bytes: int, what: str = "file", error: Type[Exception] = InputError,
                 hint: str = "check the path", missing: str = "no such file", follow_links: bool = True,
                 check: Optional[Callable[[os.stat_result], object]] = None) -> bytes:
    """The bytes of the regular file ``path`` (see :func:`open_regular`), at most ``max_bytes``:
    a larger file is refused from its size and never read past the cap (a device never ends).
    ``check(fstat)`` runs on the opened file before anything is read (e.g. an ownership check)."""
    handle, st = open_regular(path, what, error, hint, missing, follow_links)
    with handle:
        if check is not None:
            check(st)
        if st.st_size > max_bytes:
            raise too_large(path, max_bytes, what, hint, error)
        try:
            data = handle.read(max_bytes + 1)
        except OSError as exc:
            raise error(f"cannot be read ({exc.strerror or exc})", Path(path),
                        "check the path and its permissions") from None
    if len(data) > max_bytes:
        raise too_large(path, max_bytes, what, hint, error)
    return data


def too_large(path: PathArg, max_bytes: int, what: str, hint: str, error: Type[Exception] = InputError) -> Exception:
    return error(f"is larger than {max_bytes:,} bytes, the most edgekit reads for a {what}", Path(path), hint)


def output_folder(path: PathArg, option: str = "-o") -> Path:
    """``path`` as an existing folder, created (with parents) when missing; InputError naming it
    when it cannot be created or is not a folder."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the output folder ({exc.strerror})", folder,
                         f"pass a writable {option} folder") from None
    if not folder.is_dir():
        raise InputError("is not a folder", folder, f"pass a folder path with {option}")
    return folder


def write_output(path: PathArg, write: Callable[[Path], object], inputs: Iterable[PathArg] = (),
                 option: str = "the output", mode: Optional[int] = None, durable: bool = False) -> Path:
    """Make output file ``path`` atomically: ``write(tmp)`` writes a temporary file next to it
    (same extension, so encoders that pick the format by extension work), which then replaces
    ``path``. The temporary file is removed on any failure, Ctrl-C included.

    ``mode``: the file's permissions (default: those of the file it replaces, else
    ``0666 & ~umask``). ``durable``: fsync the file and its folder before returning (stores).

    Raises:
        InputError: ``path`` is (or links to) one of ``inputs``, is a folder or a non-regular file,
            or cannot be written (full disk, permissions ...), naming ``path``.
    """
    path = Path(path)
    tmp = temporary_output(path, inputs, option, mode)
    try:
        write(tmp)
        if durable:
            fsync_path(tmp)
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise unwritable(path, exc) from None
        raise
    if durable:
        fsync_path(path.parent)
    return path


class _CheckedText:
    """A text stream whose write/flush errors (full disk ...) are an InputError naming the output."""

    def __init__(self, handle: IO[str], path: Path) -> None:
        self._handle, self._path = handle, path

    def write(self, text: str) -> int:
        try:
            return self._handle.write(text)
        except OSError as exc:
            raise unwritable(self._path, exc) from None

    def flush(self) -> None:
        try:
            self._handle.flush()
        except OSError as exc:
            raise unwritable(self._path, exc) from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)


@contextlib.contextmanager
def output_stream(path: PathArg, inputs: Iterable[PathArg] = (), option: str = "the output",
                  keep_on_interrupt: bool = True) -> Iterator[IO[str]]:
    """A UTF-8 text stream whose content becomes ``path`` when the block ends (JSON Lines written
    progressively). With ``keep_on_interrupt`` a Ctrl-C still publishes what was written so far
    (each line is complete); any other error removes the temporary file and leaves ``path`` as it
    was. Errors of the block itself pass through unchanged; writing errors name ``path``."""
    path = Path(path)
    tmp = temporary_output(path, inputs, option)
    try:
        handle = tmp.open("w", encoding="utf-8")
    except (OSError, ValueError) as exc:
        tmp.unlink(missing_ok=True)
        raise unwritable(path, exc) from None
    try:
        try:
            yield _CheckedText(handle, path)  # type: ignore[misc]
        except KeyboardInterrupt:
            if not keep_on_interrupt:
                raise
            _publish(handle, tmp, path)
            raise
        _publish(handle, tmp, path)
    finally:
        handle.close()
        tmp.unlink(missing_ok=True)  # gone after a publish; removed after a failure


@contextlib.contextmanager
def progressive_output(path: PathArg, inputs: Iterable[PathArg] = (), option: str = "the output") -> Iterator[IO[str]]:
    """A UTF-8 text file written in place, line by line, for a log that must show progress even if
    the process is killed (a batch manifest). Not atomic by design; still never over an input, a
    link (not followed), a FIFO or a device, and writing errors name ``path``."""
    path = Path(path)
    refuse_overwriting_inputs(path, inputs, option)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _NONBLOCK | _CLOEXEC | _NOFOLLOW
    try:
        if path.exists() and not path.is_file() or path.is_symlink():
            raise InputError("is not a regular file", path, "write to a file path")
        fd = os.open(path, flags, 0o666)
    except (OSError, ValueError) as exc:
        raise unwritable(path, exc) from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        yield _CheckedText(handle, path)  # type: ignore[misc]


def _publish(handle: IO[str], tmp: Path, path: Path) -> None:
    try:
        handle.close()
        os.replace(tmp, path)
    except OSError as exc:
        raise unwritable(path, exc) from None


def temporary_output(path: Path, inputs: Iterable[PathArg] = (), option: str = "the output",
                     mode: Optional[int] = None) -> Path:
    """A new hidden temporary file ``.<name>.<8 characters>.tmp<suffix>`` in ``path``'s folder
    (created, empty), after the output checks;
    for writers that fill a file piece by piece (a video): rename it over ``path`` with
    ``os.replace`` when complete, remove it otherwise. Permissions: ``mode``, else those of the
    file it will replace, else ``0666 & ~umask``."""
    path = Path(path)
    refuse_overwriting_inputs(path, inputs, option)
    subject = f"{option} {path}" if option.startswith("-") else path
    try:
        kind = "folder" if path.is_dir() else "special file" if path.exists() and not path.is_file() else None
    except (OSError, ValueError) as exc:  # ValueError: a NUL character in the path
        raise unwritable(subject, exc) from None
    if kind is not None:  # os.replace would swap a folder, device or FIFO for a file
        raise InputError(f"is a {kind}, not a regular file", subject, "write to a file path")
    try:
        if mode is None:
            mode = stat.S_IMODE(path.stat().st_mode) if path.is_file() else 0o666 & ~_umask()
        path.parent.mkdir(mode=0o700 if mode & 0o077 == 0 else 0o777, parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.name[:64]}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    except (OSError, ValueError) as exc:  # ValueError: a NUL character in the path
        raise unwritable(subject, exc) from None
    try:
        os.fchmod(fd, mode)
    except OSError as exc:
        os.close(fd)
        Path(name).unlink(missing_ok=True)
        raise unwritable(subject, exc) from None
    os.close(fd)
    return Path(name)


def fsync_path(path: Path) -> None:
    """fsync a file or folder (folders: where the platform allows; OSError for a file)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        if Path(path).is_dir():  # pragma: no cover - platforms without directory fds
            return
        raise
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _umask() -> int:
    """The process umask, read without changing it (``os.umask`` would race other threads)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def unwritable(subject: object, exc: Exception) -> InputError:
    """The InputError for an error met writing ``subject`` (a path, or "--option path"): disk
    full, permissions, read-only, a parent that is a file, a NUL character ..."""
    reason = getattr(exc, "strerror", None) or str(exc)
    return InputError(f"cannot be written ({reason})", subject,
                      "check that the folder exists, is writable and has free space")


__all__ = ["open_regular", "output_stream", "progressive_output", "read_regular", "refuse_overwriting_inputs",
           "regular_file", "same_file",
           "fsync_path", "temporary_output", "too_large", "unwritable", "write_output"]
