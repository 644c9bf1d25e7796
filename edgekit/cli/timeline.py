"""Emotion timeline of a video: time series, summary and alert events, written to a folder.

Writes summary.json (dominant emotion, share of time per emotion, alert events), timeline.csv
(per frame: faces seen and their mean emotion probabilities) and timeline.png (stacked
probabilities over time); with --aus also aus.csv (per frame: mean facial action-unit
activations against the population neutral, or --au-neutral's photo, or with --au-stream-neutral
each face track's running median) and an AU panel in the plot.
Output is aggregate-only by default: --per-track adds one series per
face track (tracks.csv, one plot panel per face, track ids on the events). Frames are decoded one
at a time; nothing but these numbers is stored.

Alert rules (--alert, repeatable): EMOTIONS[@P]>DURATION, e.g. "sadness>3s", "anger|fear>2s",
"negative@0.6>5s" (negative = sadness, anger, fear, disgust, contempt).

Emotion recognition of people at work or in education is prohibited in the EU (AI Act,
Art. 5(1)(f)) except for medical or safety reasons; get consent. See docs/timelines.md.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ._common import add_au_options, add_pipeline_options, pipeline_options, positive_int, progress_enabled


def register(subparsers: "argparse._SubParsersAction") -> None:
    p = subparsers.add_parser(
        "timeline", help="emotion time series, summary and alerts of a video (aggregate by default)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("video", metavar="VIDEO", help="video file")
    p.add_argument("-o", "--out", metavar="DIR",
                   help="output folder (default: <video name>_timeline in the current folder)")
    p.add_argument("--per-track", action="store_true", help="also write per-face-track series (tracks.csv)")
    p.add_argument("--alert", action="append", default=[], metavar="RULE",
                   help='alert rule, e.g. "sadness>3s" (repeatable)')
    p.add_argument("--no-plot", dest="plot", action="store_false", help="do not draw timeline.png")
    p.add_argument("--max-frames", type=positive_int, metavar="N", help="stop after N frames")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar on stderr (default: only when stderr is a terminal)")
    add_pipeline_options(p, video=True)
    add_au_options(p)
    p.set_defaults(func=run, parser=p)


def run(args: argparse.Namespace) -> int:
    from ..pipeline import Pipeline
    from ..timeline import emotion_timeline, save_timeline

    out = Path(args.out) if args.out else Path(f"{Path(args.video).stem}_timeline")
    options = pipeline_options(args, running_mode="video")
    with Pipeline(options) as pipe:  # alert rules are checked before the video is opened
        timeline = emotion_timeline(args.video, alerts=args.alert, per_track=args.per_track, pipeline=pipe,
                                    max_frames=args.max_frames, progress=progress_enabled(args.progress))
    written = save_timeline(timeline, out, plot=args.plot)
    summary = timeline.summary
    print(json.dumps({"frames": timeline.frames, "dominant": summary.dominant,
                      "shares": {k: round(v, 3) for k, v in summary.shares.items() if v > 0},
                      "events": len(timeline.events), "files": {k: str(v) for k, v in written.items()}},
                     ensure_ascii=False), file=sys.stdout)
    return 0
