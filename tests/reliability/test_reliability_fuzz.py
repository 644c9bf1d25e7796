"""Short, seeded (derandomized) fuzz runs of every target in ``tests/fuzz/targets.py``: hostile
image files and arrays, caption/restyle arguments, pipeline options, video timestamps, stored
documents, CLI arguments, and the features of later issues (feedback store, memes, suggestions,
alert rules, identity gallery, benchmark output parsers) once they are built.

The long runs: ``python tests/fuzz/fuzz_inputs.py --minutes 5``. Crashes they find become
regression tests in ``tests/reliability/test_reliability_regressions.py``."""
from __future__ import annotations

import pytest

from fuzz.targets import TARGETS, FuzzTarget, run_target


#: Targets that take over ~10 s on a 2-CPU machine (--durations): slow, left out by `make test-fast`.
SLOW = frozenset({"feedback_file"})


@pytest.mark.parametrize("target", [pytest.param(t, marks=pytest.mark.slow) if t.name in SLOW else t for t in TARGETS],
                         ids=lambda t: t.name)
def test_short_seeded_fuzz_run(target: FuzzTarget, tmp_path):
    outcomes = run_target(target, tmp_path, max_examples=target.examples)
    # both paths were exercised: valid inputs were accepted and bad ones refused with typed errors
    assert outcomes["accepted"] > 0 and outcomes["refused"] > 0, dict(outcomes)
