"""``thermogate analyze``: a recording through the screening pipeline (``thermogate calibrate`` is
controller/calibrate/cli.py)."""

from __future__ import annotations

import argparse
import sys

from ..protocol.result import DECISIONS
from .config import ScreeningConfig, load


def _config(path: str | None) -> ScreeningConfig:
    return load(path) if path else ScreeningConfig()


def _load_recording(path: str):
    from ..recording import Recording

    return Recording.load(path)


def _analyze(args: argparse.Namespace) -> int:
    from .offline import analyze_recording

    config = _config(args.config)
    recording = _load_recording(args.file)
    decisions = analyze_recording(recording, config)
    for d in decisions:
        if args.jsonl:
            print(d.to_json())
        else:
            est = f"{d.estimate_c:6.2f}" if d.estimate_c is not None else "     -"
            extra = " (reduced accuracy: no reference)" if d.reduced_accuracy else ""
            extra += f": {d.detail}" if d.detail else ""
            print(f"{d.time_s:8.2f} s  track {d.track:4d}  {d.decision:7s} {est} degC  {d.reason}{extra}")
    if not args.jsonl:
        counts = {k: sum(1 for d in decisions if d.decision == k) for k in DECISIONS}
        print(f"{len(decisions)} decisions: " + ", ".join(f"{v} {k}" for k, v in counts.items()), file=sys.stderr)
    return 0


def add_commands(subparsers) -> None:
    """Register ``analyze`` on the ``thermogate`` parser."""
    analyze = subparsers.add_parser(
        "analyze", help="run a recording through the screening pipeline",
        description="Run a recording (docs/recordings.md) through the same pipeline as the live controller, "
                    "driven by the frames' own timestamps, and print every decision.")
    analyze.add_argument("file", metavar="FILE")
    analyze.add_argument("--config", metavar="C", help="controller config (TOML) with a [screening] table")
    analyze.add_argument("--jsonl", action="store_true", help="one JSON object per decision")
    analyze.set_defaults(run=_analyze)
