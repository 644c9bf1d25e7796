"""The fuzzing harness: a :class:`FuzzTarget` pairs a hypothesis strategy with a check; an
:class:`~edgekit.errors.EdgekitError` with a message is an acceptable answer to bad input (see
:func:`attempt`), any other exception is a crash. Where the documented contract says an input is
valid the check also demands success (an oracle), so "refuse everything" cannot pass.
"""
from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Tuple

from hypothesis import strategies as st

from edgekit.errors import EdgekitError


@dataclass(frozen=True)
class KnownBug:
    """Inputs that still crash code owned by another module: skipped by the fuzzers (counted as
    "known bug" in every run and pinned by a strict-xfail test in
    ``tests/reliability/test_reliability_regressions.py``) until the owner fixes it."""

    what: str
    matches: Callable[[Any], bool]


@dataclass(frozen=True)
class FuzzTarget:
    """One fuzzed input surface.

    Attributes:
        name: short id (test ids, ``--target``).
        api: the public function(s) it drives.
        strategy: builds the hypothesis strategy of one example (called lazily).
        check: ``check(example, workdir)`` runs the example; raises AssertionError (or crashes)
            on a broken invariant.
        examples: examples of the short seeded run in the test suite.
        known_bugs: inputs skipped until their owner fixes them (see :class:`KnownBug`).
    """

    name: str
    api: str
    strategy: Callable[[], st.SearchStrategy]
    check: Callable[[Any, Path], None]
    examples: int = 40
    known_bugs: Tuple[KnownBug, ...] = ()


#: What the public calls of the current run answered: "accepted", "refused", and per error type.
OUTCOMES: Counter = Counter()


def check_error(exc: EdgekitError) -> None:
    """A typed error must carry a message that names what went wrong."""
    assert isinstance(exc, EdgekitError)
    assert str(exc).strip() and exc.reason, f"{type(exc).__name__} without a message"


def attempt(fn: Callable[..., Any], *args: Any, must_succeed: bool = False, allowed: Tuple[type, ...] = (),
            **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``, or None when it raised an EdgekitError (an acceptable answer to
    bad input). ``must_succeed``: the input is valid by the documented contract, so an error is a
    failure too, unless it is one of the ``allowed`` types (errors about the environment, such as
    a missing font). Every other exception propagates: that is a crash."""
    try:
        result = fn(*args, **kwargs)
    except EdgekitError as exc:
        check_error(exc)
        OUTCOMES.update(["refused", type(exc).__name__])
        if must_succeed and not isinstance(exc, allowed):
            raise AssertionError(f"valid input refused with {type(exc).__name__}: {exc}") from exc
        return None
    OUTCOMES["accepted"] += 1
    return result


def fresh_dir(workdir: Path, name: str) -> Path:
    """An empty folder ``workdir/name`` (emptied when it exists)."""
    path = workdir / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


# ----------------------------------------------------------------------- keyword-argument calls


@dataclass(frozen=True)
class Call:
    """Keyword arguments of one call; ``broken`` names the ones drawn from the junk strategies
    (empty: every argument is valid by the documented contract, so the call must succeed)."""

    kwargs: Dict[str, Any]
    broken: frozenset


@st.composite
def calls(draw: Callable, valid: Dict[str, st.SearchStrategy[Any]], junk: Dict[str, st.SearchStrategy[Any]],
          max_broken: int = 2) -> Call:
    """Valid values for every argument except up to ``max_broken`` of them, drawn from ``junk``
    (shrinks towards a fully valid call)."""
    broken = draw(st.sets(st.sampled_from(sorted(junk)), max_size=max_broken))
    return Call({k: draw(junk[k] if k in broken else v) for k, v in valid.items()}, frozenset(broken))


def run_target(target: FuzzTarget, workdir: Path, *, max_examples: int, derandomize: bool = True,
               seed: Optional[int] = None) -> Counter:
    """Run ``target`` for ``max_examples`` hypothesis examples in ``workdir`` (raises on the first
    failure, after hypothesis has shrunk it). ``derandomize``: the same examples on every run
    (the test suite); otherwise ``seed`` picks them (the fixed-budget runner).

    Returns the run's :data:`OUTCOMES` plus ``"examples"``, the number of examples run."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as with_seed

    @settings(max_examples=max_examples, derandomize=derandomize, database=None, deadline=None,
              suppress_health_check=list(HealthCheck), print_blob=False)
    @given(target.strategy())
    def run(example: Any) -> None:
        OUTCOMES["examples"] += 1
        if any(bug.matches(example) for bug in target.known_bugs):
            OUTCOMES["known bug (skipped)"] += 1
            return
        target.check(example, workdir)

    if not derandomize and seed is not None:
        run = with_seed(seed)(run)
    OUTCOMES.clear()
    run()
    return Counter(OUTCOMES)
