"""Action-unit options shared by ``analyze`` and ``timeline`` (standard library only)."""
from __future__ import annotations

import argparse
from typing import Any, Dict


def add_au_options(parser: argparse.ArgumentParser, neutral: bool = True) -> None:
    """``--aus``, ``--au-stream-neutral`` (and, with ``neutral``, ``--au-neutral PHOTO``), mapping onto
    ``PipelineOptions(action_units=..., au_stream_neutral=..., au_neutral=...)``."""
    group = parser.add_argument_group("action-unit options")
    group.add_argument("--aus", action="store_true",
                       help="also read facial action units from the face mesh (about 2 ms per face; default: off)")
    group.add_argument("--au-stream-neutral", action="store_true",
                       help="videos: measure each face track against its own running median once it has 30 "
                            "readings (off by default: it drifts when people smile a lot; an --au-neutral "
                            "photo wins over it; needs --aus)")
    if neutral:
        group.add_argument("--au-neutral", metavar="PHOTO", default=None,
                           help="a neutral photo of the person: action units are measured against it (needs --aus)")


def au_overrides(args: argparse.Namespace) -> Dict[str, Any]:
    """PipelineOptions overrides from :func:`add_au_options` arguments (validated by PipelineOptions)."""
    out: Dict[str, Any] = {}
    if getattr(args, "aus", False):
        out["action_units"] = True
    if getattr(args, "au_stream_neutral", False):
        out["au_stream_neutral"] = True
    if getattr(args, "au_neutral", None) is not None:
        out["au_neutral"] = args.au_neutral
    return out
