"""The one runner behind every ``python -m converters.<model>`` command line."""
from __future__ import annotations

import argparse
import logging
import sys
from typing import Callable, Optional, Sequence

from edgekit.errors import EdgekitError


def run(build_parser: Callable[[], argparse.ArgumentParser], argv: Optional[Sequence[str]] = None) -> int:
    """Parse ``argv`` and call the chosen sub-command's ``func(args)`` with INFO logging.

    A user mistake (:class:`~edgekit.errors.EdgekitError`) is printed as one ``error:`` line and
    gives exit status 2; anything else is a bug and keeps its traceback.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    args.argv = argv
    try:
        args.func(args)
    except EdgekitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
