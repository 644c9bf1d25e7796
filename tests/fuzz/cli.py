"""The CLI target: every command registered in ``edgekit.cli.COMMANDS`` with arguments drawn
from its own parser, run in a sandbox folder."""
from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Sequence, Tuple

import cv2
from hypothesis import strategies as st

from . import seeds
from .harness import OUTCOMES, fresh_dir
from .values import maybe

# ------------------------------------------------------------------------------------- CLI


@contextlib.contextmanager
def sandbox(workdir: Path) -> Iterator[Tuple[io.StringIO, io.StringIO]]:
    """cwd = ``workdir``, EDGEKIT_DATA_DIR inside it, stdout/stderr captured."""
    old_cwd, old_data = os.getcwd(), os.environ.get("EDGEKIT_DATA_DIR")
    out, err = io.StringIO(), io.StringIO()
    os.chdir(workdir)
    os.environ["EDGEKIT_DATA_DIR"] = str(workdir / "data")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            yield out, err
    finally:
        os.chdir(old_cwd)
        if old_data is None:
            os.environ.pop("EDGEKIT_DATA_DIR", None)
        else:
            os.environ["EDGEKIT_DATA_DIR"] = old_data


#: Path-like argument values, all inside the sandbox folder (relative to it) or harmless:
#: the fuzzer must never point an output option at a real file.
PATH_VALUES = ("face.png", "notes.txt", "out/result.jsonl", "out/annotated.png", "missing/deep/x.png", ".", "-", "",
               "a" * 300, "/dev/null", "face.png/inside")
NUMBER_VALUES = ("0", "1", "3", "-1", "0.5", "2.5", "nan", "inf", "-inf", "1e999", "x", "", "99999999999999999999")


def _option_value(action: Any) -> st.SearchStrategy[str]:
    if action.choices:
        return maybe([str(c) for c in action.choices], st.sampled_from(["bogus", ""]))
    if action.type in (int, float) or getattr(action.type, "__name__", "") in ("positive_int", "positive_float"):
        return st.sampled_from(NUMBER_VALUES)
    return st.one_of(st.sampled_from(PATH_VALUES),
                     st.sampled_from(["happiness", "sadness", "anime", "party", "zh", "en"]),
                     # no "/" or "~": a drawn value must never name a path outside the sandbox
                     st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00/~"), max_size=30))


def cli_parsers() -> Dict[str, Any]:
    """Sub-command name -> its argparse parser, for every command in ``edgekit.cli.COMMANDS``."""
    import argparse

    from edgekit.cli import COMMANDS, build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return {name: sub.choices[name] for name in COMMANDS}


@st.composite
def cli_argvs(draw: Callable) -> List[str]:
    import argparse

    parsers = cli_parsers()
    # `serve` with valid arguments runs until stopped: its option errors are covered by
    # test_reliability_cli and its requests by tests/test_server_*.py
    command = draw(st.sampled_from(sorted(n for n in parsers if n != "serve")))
    argv = [command]
    for action in parsers[command]._actions:
        if isinstance(action, argparse._HelpAction) or not draw(st.booleans()):
            continue
        if not action.option_strings:  # positional
            argv += draw(st.lists(st.sampled_from(PATH_VALUES), min_size=1, max_size=2))
        elif action.nargs == 0:
            argv.append(action.option_strings[-1])
        else:
            argv += [action.option_strings[0], draw(_option_value(action))]
    if draw(st.booleans()):
        argv.insert(draw(st.integers(1, len(argv))), draw(st.sampled_from(["--bogus", "-x", "--", "extra"])))
    return argv


def run_cli(argv: Sequence[str], workdir: Path) -> Tuple[int, str, str]:
    """``edgekit.cli.main(argv)`` in the sandbox: (exit code, stdout, stderr). argparse's
    ``SystemExit`` becomes its code; any other exception propagates (a crash)."""
    from edgekit.cli import main

    with sandbox(workdir) as (out, err):
        try:
            code = main(list(argv))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    OUTCOMES.update(["accepted" if code == 0 else "refused", f"exit {code}"])
    return code, out.getvalue(), err.getvalue()


def check_cli_failure_output(code: int, stderr: str) -> None:
    """A failing command prints exactly one ``error:`` line, last, and never a traceback."""
    assert "Traceback" not in stderr, stderr
    if code != 0:
        lines = [line for line in stderr.splitlines() if line.strip()]
        errors = [line for line in lines if "error:" in line]
        assert len(errors) >= 1 and lines[-1] == errors[-1], stderr
        assert all(line.startswith("edgekit") for line in errors), stderr


def prepare_cli_workdir(workdir: Path) -> None:
    folder = fresh_dir(workdir, "cli")
    cv2.imwrite(str(folder / "face.png"), seeds.face_rgb()[..., ::-1])
    (folder / "notes.txt").write_text("not an image\n")


def check_cli_argv(argv: List[str], workdir: Path) -> None:
    """Every registered command with fuzzed arguments: exit code 0, 1 or 2, one error line (the
    last) when it fails, never a traceback."""
    prepare_cli_workdir(workdir)
    code, _, stderr = run_cli(argv, workdir / "cli")
    assert code in (0, 1, 2), (code, stderr)
    check_cli_failure_output(code, stderr)
