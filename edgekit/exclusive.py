"""``ExclusiveUse``: turn sharing a one-per-thread object between threads into an error.

The LiteRT wrappers and the captioner keep per-call state in one interpreter, so two threads
inside the same object at once would silently mix their inputs and outputs. Each such object
enters its ``ExclusiveUse`` around every call: the same thread may re-enter (nested calls), a
second thread gets a :class:`~edgekit.errors.ConcurrentUseError` at once. Cost: two uncontended
lock operations per call.
"""
from __future__ import annotations

import functools
import threading
from typing import Any, Callable, TypeVar

from .errors import ConcurrentUseError, ConfigError


class ExclusiveUse:
    """A re-entrant lock that never waits: the owning thread may re-enter, another thread gets
    ConcurrentUseError at once; also remembers when its owner was closed."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.closed = False
        self._lock = threading.RLock()

    def __enter__(self) -> "ExclusiveUse":
        if not self._lock.acquire(blocking=False):
            raise ConcurrentUseError(f"this {self.what} is in use by another thread",
                                     hint=f"create one {self.what} per thread, "
                                          "or share a Pipeline (it serialises calls)")
        if self.closed:
            self._lock.release()
            raise ConfigError(f"this {self.what} was closed", hint=f"create a new {self.what}")
        return self

    def __exit__(self, *exc: Any) -> None:
        self._lock.release()

    def close(self) -> None:
        """Mark closed (later entries raise ConfigError); ConcurrentUseError while another thread is inside."""
        if not self._lock.acquire(blocking=False):
            raise ConcurrentUseError(f"this {self.what} cannot be closed while another thread uses it",
                                     hint="close it from the thread that uses it, after its last call")
        self.closed = True
        self._lock.release()


F = TypeVar("F", bound=Callable[..., Any])


def exclusive(method: F) -> F:
    """Run a method inside its object's ``_use`` (an :class:`ExclusiveUse`)."""

    @functools.wraps(method)
    def guarded(self: Any, *args: Any, **kwargs: Any) -> Any:
        with self._use:
            return method(self, *args, **kwargs)

    return guarded  # type: ignore[return-value]


__all__ = ["ExclusiveUse", "exclusive"]
