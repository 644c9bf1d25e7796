"""The one options pattern of edgekit (MediaPipe Tasks' style).

- Every task has a frozen options dataclass; each field is declared with :func:`option` (its
  default, its :class:`~edgekit.validate.Check` and its help text) and :class:`Options` validates
  every field, then the rules between fields, in ``__post_init__``: an options object that exists
  is valid.
- Options of one LiteRT model share :class:`ModelOptions` (``model``, ``num_threads``).
- Options built from others reuse their declarations with :func:`like` (``PipelineOptions``'
  ``min_confidence`` *is* ``FaceDetectorOptions.min_confidence``: same default, check and help).
- Every public constructor reads its arguments with :func:`options_from`: ``X()``, ``X(options)``,
  ``X(**fields)``, ``X(options, **overrides)`` and, for model wrappers, ``X("model name or path")``;
  ``X.create_from_options(options)`` is the MediaPipe spelling of ``X(options)``.
- The command line derives its flags, defaults and help from the same fields (``edgekit.cli._common``).

Standard library only, so building the CLI parser stays cheap.
"""
from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass, field, fields, replace
from typing import Any, Callable, ClassVar, Dict, Mapping, Optional, Tuple, Type, TypeVar

from .errors import ConfigError, describe
from .validate import Check, integer, model_ref

#: Most LiteRT CPU threads one interpreter may get: it starts a pool of that many threads, and an
#: absurd count (say 10**6) hangs the process creating them.
MAX_THREADS = 64
THREADS = integer(1, MAX_THREADS, hint="use 1 for lowest latency jitter, at most the number of CPU cores")

O = TypeVar("O", bound="Options")


def option(default: Any, rule: Optional[Check] = None, *, help: str = "", metavar: Optional[str] = None,
           hint: Optional[str] = None) -> Any:
    """A dataclass field with its check (``rule``), help text, CLI metavar and a field-specific ``hint``."""
    return field(default=default, metadata={"check": rule, "help": help, "metavar": metavar, "hint": hint})


def like(owner: Type["Options"], name: str, **changes: Any) -> Any:
    """A field declared like ``owner``'s field ``name`` (``changes`` replace its default, help, ...)."""
    source = owner.__dataclass_fields__[name]
    meta = {**source.metadata, **{k: v for k, v in changes.items() if k != "default"}}
    return field(default=changes.get("default", source.default), metadata=meta)


def num_threads_option() -> Any:
    """The ``num_threads`` field every options class of LiteRT models has."""
    return option(1, THREADS, help="LiteRT CPU threads of each model", metavar="N")


@dataclass(frozen=True)
class Options:
    """Base of every options dataclass: validates each field with its check, then
    :meth:`_check_together`. Class attributes: ``POSITIONAL``, the fields a constructor may take
    positionally instead of an options object (the model first); ``RENAMED``, old field name ->
    current name (see :func:`renamed`)."""

    POSITIONAL: ClassVar[Tuple[str, ...]] = ()
    RENAMED: ClassVar[Mapping[str, str]] = {}

    def __post_init__(self) -> None:
        for f in fields(self):
            rule = f.metadata.get("check")
            if rule is not None:
                rule(f.name, getattr(self, f.name), f.metadata.get("hint"))
        self._check_together()

    def _check_together(self) -> None:
        """Rules between fields, checked once every field is valid on its own."""

    @classmethod
    def from_kwargs(cls: Type[O], base: Optional[O] = None, **kwargs: Any) -> O:
        """``base`` (default: the defaults) with ``kwargs`` replaced (see :func:`options_from`)."""
        return options_from(cls, base, kwargs)

    def __getattr__(self, name: str) -> Any:  # only called for names that are not fields
        current = type(self).RENAMED.get(name)
        if current is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return getattr(self, current)


@dataclass(frozen=True)
class ModelOptions(Options):
    """Options of one LiteRT model: which model and how many CPU threads run it. A constructor
    also takes the model in place of options: ``EmotionClassifier("my.tflite")``."""

    POSITIONAL: ClassVar[Tuple[str, ...]] = ("model",)

    model: Any = option(None, model_ref(), help="model: a manifest name (see `edgekit models`) or a .tflite path",
                        metavar="NAME|PATH")
    num_threads: int = num_threads_option()


class CreateFromOptions:
    """Mixin of the public classes built from options: ``X.create_from_options(options)``,
    MediaPipe's spelling of ``X(options)`` (``OPTIONS`` is the options class)."""

    OPTIONS: ClassVar[Type[Options]]

    @classmethod
    def create_from_options(cls, options: Any) -> Any:
        if not isinstance(options, cls.OPTIONS):
            raise ConfigError(f"options must be a {cls.OPTIONS.__name__}", f"options={describe(options)}",
                              f"build one with {cls.OPTIONS.__name__}(...), or call {cls.__name__}(**fields)")
        return cls(options)


def renamed(**old_names: str) -> Callable[[Type[O]], Type[O]]:
    """Class decorator (above ``@dataclass``): the old names of renamed fields keep working as
    constructor keywords and attributes (``renamed(detector_model="detector")``)."""

    def wrap(cls: Type[O]) -> Type[O]:
        cls.RENAMED = {**cls.RENAMED, **old_names}
        init = cls.__init__

        @functools.wraps(init)
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            init(self, *args, **current_names(cls, kwargs))

        cls.__init__ = __init__  # type: ignore[method-assign]
        return cls

    return wrap


def current_names(kind: Type[Options], kwargs: Mapping[str, Any]) -> Dict[str, Any]:
    """``kwargs`` with renamed fields under their current names."""
    out = dict(kwargs)
    for old, new in kind.RENAMED.items():
        if old in out:
            if new in out:
                raise ConfigError(f"{old} is the old name of {new}: pass only one of them",
                                  f"{old}={describe(out[old])}")
            out[new] = out.pop(old)
    return out


def field_names(kind: Type[Options]) -> Tuple[str, ...]:
    """The fields a constructor of ``kind`` accepts, in declaration order."""
    return tuple(f.name for f in fields(kind) if f.init)


def options_from(kind: Type[O], options: Any = None, kwargs: Optional[Mapping[str, Any]] = None,
                 positional: Tuple[Any, ...] = ()) -> O:
    """The options a public constructor was given, validated: ``options`` (an instance of ``kind``,
    None for the defaults, or the value of ``kind.POSITIONAL[0]``, e.g. a model path), then the
    ``positional`` values of the next ``POSITIONAL`` fields, then ``kwargs`` (field names)."""
    values = dict(kwargs or {})
    if options is not None and not isinstance(options, kind):
        if not kind.POSITIONAL:
            raise ConfigError(f"options must be a {kind.__name__}", f"options={describe(options)}",
                              "or pass the options as keyword arguments")
        options, positional = None, (options, *positional)
    if len(positional) > len(kind.POSITIONAL):
        raise ConfigError(f"takes at most {len(kind.POSITIONAL)} positional option(s) ({', '.join(kind.POSITIONAL)})",
                          f"{len(positional)} given", "pass the others as keyword arguments")
    for name, value in zip(kind.POSITIONAL, positional):
        if name in values:
            raise ConfigError("given twice (positionally and as a keyword)", name)
        values[name] = value
    values = current_names(kind, values)
    valid = field_names(kind)
    unknown = sorted(set(values) - set(valid))
    if unknown:
        close = difflib.get_close_matches(unknown[0], valid, n=1)
        guess = f"did you mean {close[0]}? " if close else ""
        owner = kind.__name__[: -len("Options")] if kind.__name__.endswith("Options") else kind.__name__
        raise ConfigError(f"unknown {owner} option(s) {', '.join(unknown)}",
                          hint=f"{guess}valid options: {', '.join(valid)}")
    if options is None:
        return kind(**values)
    return replace(options, **values) if values else options


__all__ = ["MAX_THREADS", "THREADS", "CreateFromOptions", "ModelOptions", "Options", "current_names", "field_names",
           "like", "num_threads_option", "option", "options_from", "renamed"]
