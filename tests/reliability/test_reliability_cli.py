"""Every registered CLI command (``edgekit.cli.COMMANDS``) with bad arguments: a non-zero exit, one
``error:`` line (the last line; argparse usage errors print the usage first), never a traceback.

The bad arguments are derived from each command's parser (unknown options, non-numbers for numeric
options, values outside the choices, missing input files), so a new command is covered as soon as
it is registered; the regressions found by the fuzzer are listed explicitly below.
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path
from typing import List, Tuple

import pytest

from fuzz.cli import check_cli_failure_output, cli_parsers, prepare_cli_workdir, run_cli

PARSERS = cli_parsers()
ROOT = Path(__file__).resolve().parents[2]


def _typed_options(parser: argparse.ArgumentParser) -> List[argparse.Action]:
    return [a for a in parser._actions if a.option_strings and a.nargs != 0 and (a.type is not None or a.choices)]


def _bad_argvs() -> List[Tuple[str, List[str], str]]:
    """(id, argv, regex the error line must match) derived from every command's parser."""
    cases = []
    for name, parser in sorted(PARSERS.items()):
        # commands with required arguments report those first
        cases.append((f"{name}-unknown-option", [name, "--definitely-not-an-option"],
                      "unrecognized arguments|are required"))
        for action in _typed_options(parser):
            flag = action.option_strings[-1]
            value = "bogus-choice" if action.choices else "not-a-number"
            cases.append((f"{name}{flag}={value}", [name, flag, value],
                          re.escape("argument " + "/".join(action.option_strings))))
    return cases


BAD_ARGVS = _bad_argvs()


@pytest.fixture
def workdir(tmp_path) -> Path:
    prepare_cli_workdir(tmp_path)
    return tmp_path / "cli"


@pytest.mark.parametrize("argv,fragment", [(a, f) for _, a, f in BAD_ARGVS], ids=[i for i, _, _ in BAD_ARGVS])
def test_bad_option_values_of_every_command(argv, fragment, workdir):
    code, _, stderr = run_cli(argv, workdir)
    assert code == 2, stderr
    check_cli_failure_output(code, stderr)
    assert re.search(fragment, stderr.splitlines()[-1]), stderr


@pytest.mark.parametrize("name", sorted(n for n, p in PARSERS.items() if any(not a.option_strings for a in p._actions)))
def test_missing_input_files(name, workdir):
    """Commands with positional arguments, given files that do not exist."""
    code, _, stderr = run_cli([name, "no/such/input.png", "missing.mp4"], workdir)
    check_cli_failure_output(code, stderr)


#: Bugs the fuzzer found (each crashed with a traceback before it was fixed).
REGRESSIONS = [
    ("analyze-name-too-long", ["analyze", "a" * 5000 + ".png"], 1, "File name too long"),
    ("analyze-out-name-too-long", ["analyze", "face.png", "--out", "b" * 5000], 1, "--out"),
    ("analyze-video-name-too-long", ["analyze", "c" * 5000 + ".mp4"], 1, "File name too long"),
    ("analyze-fifo-like-device", ["analyze", "/dev/null"], 1, "is a device or socket, not a regular file"),
    ("demo-out-dir-is-a-file", ["demo", "--out-dir", "notes.txt"], 1, "--out-dir notes.txt"),
    ("caption-negative-seed", ["caption", "--emotion", "happiness", "--seed", "-1"], 2,
     "seed=-1: must be None (fresh randomness) or an integer >= 0"),
    ("caption-huge-int-probability", ["caption", "--emotion", '{"happiness": 1' + "0" * 400 + "}"], 1,
     "expected a finite number"),
    ("line-breaks-in-a-path", ["analyze", "no\nsuch\x85file.png"], 1, "no\\nsuch\\x85file.png: no such file"),
    ("identify-gallery-is-a-folder", ["identify", "face.png", "--gallery", "."], 1, "is a directory"),
    ("analyze-threads-absurd", ["analyze", "face.png", "--threads", "1000000"], 2,
     "num_threads=1000000: must be an integer in [1, 64]"),
    ("caption-threads-absurd", ["caption", "--emotion", "happiness", "--threads", "1000000"], 2, "num_threads"),
]


@pytest.mark.parametrize("argv,code,fragment", [r[1:] for r in REGRESSIONS], ids=[r[0] for r in REGRESSIONS])
def test_fuzzer_regressions(argv, code, fragment, workdir):
    assert argv[0] in PARSERS, f"the {argv[0]!r} command is not registered"
    got, _, stderr = run_cli(argv, workdir)
    assert got == code, stderr
    check_cli_failure_output(got, stderr)
    assert fragment in stderr


def test_console_script_prints_one_line_and_no_traceback(workdir):
    """The real process: stderr is exactly one line for a bad input (no library log noise)."""
    proc = subprocess.run([sys.executable, "-m", "edgekit", "analyze", "missing.png"], cwd=workdir, capture_output=True,
                          text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(workdir)})
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        "edgekit: error: missing.png: no such file. check the path and the working directory"]
