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
import os
import stat
import tempfile
from pathlib import Path
from typing import IO, Callable, Iterable, Iterator, Type, Union

from .errors import InputError

PathArg = Union[str, "os.PathLike[str]"]


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
        raise error("is not a valid path (contains a NUL character)", repr(str(path)), "check how the path was built") from None
    if stat.S_ISDIR(st.st_mode):
        raise error(f"is a directory, not a {what}", path, f"pass one {what}")
    if not stat.S_ISREG(st.st_mode):
        kind = "FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) else "device or socket"
        raise error(f"is a {kind}, not a regular file", path, f"pass a regular {what}; reading it could block or never end")
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


def write_output(path: PathArg, write: Callable[[Path], object], inputs: Iterable[PathArg] = (),
                 option: str = "the output") -> Path:
    """Make output file ``path`` atomically: ``write(tmp)`` writes a temporary file next to it
    (same extension, so encoders that pick the format by extension work), which then replaces
    ``path``. The temporary file is removed on any failure, Ctrl-C included.

    Raises:
        InputError: ``path`` is (or links to) one of ``inputs``, is a folder or a non-regular file,
            or cannot be written (full disk, permissions ...), naming ``path``.
    """
    path = Path(path)
    tmp = temporary_output(path, inputs, option)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise unwritable(path, exc) from None
        raise
    return path


@contextlib.contextmanager
def output_stream(path: PathArg, inputs: Iterable[PathArg] = (), option: str = "the output",
                  keep_on_interrupt: bool = True) -> Iterator[IO[str]]:
    """A UTF-8 text stream whose content becomes ``path`` when the block ends (JSON Lines written
    progressively). With ``keep_on_interrupt`` a Ctrl-C still publishes what was written so far
    (each line is complete); any other error removes the temporary file and leaves ``path`` as it was."""
    path = Path(path)
    tmp = temporary_output(path, inputs, option)
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            try:
                yield handle
            except KeyboardInterrupt:
                if not keep_on_interrupt:
                    raise
                handle.close()
                os.replace(tmp, path)
                raise
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise unwritable(path, exc) from None
        raise


def temporary_output(path: Path, inputs: Iterable[PathArg] = (), option: str = "the output") -> Path:
    """A new hidden temporary file in ``path``'s folder (created, empty), after the output checks;
    for writers that fill a file piece by piece (a video): rename it over ``path`` with
    ``os.replace`` when complete, remove it otherwise."""
    refuse_overwriting_inputs(path, inputs, option)
    try:
        if path.is_dir():
            raise InputError("is a folder, not a file", path, "pass a file path")
        if path.exists() and not path.is_file():  # os.replace would swap a device or FIFO for a file
            raise InputError("is not a regular file", path, "write to a file path")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.stem[:64]}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    except OSError as exc:
        raise unwritable(f"{option} {path}" if option.startswith("-") else path, exc) from None
    os.close(fd)
    os.chmod(name, 0o666 & ~_umask())  # mkstemp makes 0600; an output gets the usual permissions
    return Path(name)


def _umask() -> int:
    """The process umask, read without changing it (``os.umask`` would race other threads)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def unwritable(subject: object, exc: OSError) -> InputError:
    """The InputError for an OSError met writing ``subject`` (a path, or "--option path"): disk
    full, permissions, read-only, a parent that is a file ..."""
    return InputError(f"cannot be written ({exc.strerror or exc})", subject, "check that the folder exists, is writable and has free space")


__all__ = ["output_stream", "refuse_overwriting_inputs", "regular_file", "same_file", "temporary_output", "unwritable",
           "write_output"]
