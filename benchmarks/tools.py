"""Run a board tool (``nvpmodel``, ``jetson_clocks``...) and say why it is unavailable when it is.

:func:`run_tool` never raises for a missing tool, a timeout or a non-zero exit: it returns
``{"available": False, "reason": ...}`` so the harness records the reason instead of a number.
Tests inject their own runner with the same signature (:data:`Runner`).
"""
from __future__ import annotations

import shutil
import subprocess
from typing import Any, Callable, Dict, Optional, Sequence

#: ``runner(args, input_text)`` -> :func:`run_tool`'s result dict.
Runner = Callable[[Sequence[str], Optional[str]], Dict[str, Any]]

_ROOT_HINTS = ("root", "permission", "operation not permitted", "must be run as", "sudo")


def needs_root(output: str) -> bool:
    """The tool's words say it lacks privileges."""
    lower = output.lower()
    return any(h in lower for h in _ROOT_HINTS)


def run_tool(args: Sequence[str], input_text: Optional[str] = None, timeout: float = 30) -> Dict[str, Any]:
    """``{"available": True, "output": stdout+stderr}`` or ``{"available": False, "reason": ..., "output": ...}``.

    ``input_text`` is fed on stdin (e.g. ``"no\\n"`` to decline nvpmodel's reboot prompt); without
    it stdin is empty, so a prompting tool sees end-of-file instead of waiting for a terminal.
    """
    path = shutil.which(args[0])
    if path is None:
        return {"available": False, "reason": f"{args[0]} not found on PATH", "output": ""}
    try:
        proc = subprocess.run([path, *args[1:]], capture_output=True, text=True, timeout=timeout,
                              input=input_text if input_text is not None else "")
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"available": False, "reason": f"{args[0]} failed: {exc}", "output": ""}
    return tool_result(args, proc.returncode, proc.stdout + proc.stderr)


def tool_result(args: Sequence[str], returncode: int, output: str) -> Dict[str, Any]:
    """The result dict for a finished tool: unavailable (with the reason) when it exited non-zero."""
    if returncode != 0:
        hint = " (it needs root: run with sudo -E)" if needs_root(output) else ""
        last = output.strip().splitlines()[-1] if output.strip() else ""
        return {"available": False, "reason": f"`{' '.join(args)}` exited with {returncode}{hint}: {last}",
                "output": output}
    return {"available": True, "output": output}


def default_runner(args: Sequence[str], input_text: Optional[str] = None) -> Dict[str, Any]:
    return run_tool(args, input_text)
