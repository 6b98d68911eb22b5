"""``thermogate analyze`` and ``thermogate calibrate``."""

from __future__ import annotations

import argparse
import csv
import json
import sys


from .config import ConfigError, ScreeningConfig, load


def _config(path: str | None) -> ScreeningConfig:
    return load(path) if path else ScreeningConfig()


def _load_recording(path: str):
    from sim.recording import Recording

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
            print(f"{d.time_s:8.2f} s  track {d.track:4d}  {d.decision:7s} {est} degC  {d.reason}{extra}")
    if not args.jsonl:
        counts = {k: sum(1 for d in decisions if d.decision == k) for k in ("PASS", "FEVER", "RETRY", "BLOCKED")}
        print(f"{len(decisions)} decisions: " + ", ".join(f"{v} {k}" for k, v in counts.items()), file=sys.stderr)
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    from .offline import analyze_recording
    from .site_calibration import fit_site_offset

    config = _config(args.config)
    decisions = {d.track: d for d in analyze_recording(_load_recording(args.recording), config)
                 if d.estimate_c is not None}
    pairs = []
    with open(args.readings, newline="") as f:
        for row in csv.DictReader(f):
            try:
                track, clinical = int(row["track"]), float(row["clinical_c"])
            except (KeyError, TypeError, ValueError):
                raise ValueError(f"{args.readings}: each row needs track and clinical_c, got {row}") from None
            if track not in decisions:
                print(f"track {track}: no PASS/FEVER estimate in the recording, skipped", file=sys.stderr)
                continue
            pairs.append((decisions[track].estimate_c, clinical))
    cal = fit_site_offset(pairs, config.site_offset_c)
    print(json.dumps({"gate": args.gate, "site_offset_c": round(cal.offset_c, 2),
                      "residual_sd_c": round(cal.residual_sd_c, 3), "pairs": cal.pairs}))
    print(f"put in the [screening] table of the controller config: site_offset_c = {cal.offset_c:.2f}",
          file=sys.stderr)
    return 0


def add_commands(commands) -> None:
    analyze = commands.add_parser(
        "analyze", help="run a recording through the screening pipeline",
        description="Run a recording (docs/recordings.md) through the same pipeline as the live controller, "
                    "driven by the frames' own timestamps, and print every decision.")
    analyze.add_argument("file", metavar="FILE")
    analyze.add_argument("--config", metavar="C", help="controller config (TOML) with a [screening] table")
    analyze.add_argument("--jsonl", action="store_true", help="one JSON object per decision")
    analyze.set_defaults(run=_analyze)

    calibrate = commands.add_parser(
        "calibrate", help="fit a gate's site offset against clinical thermometer readings",
        description="Pair a nurse's clinical readings (CSV with columns track, clinical_c; track ids as "
                    "'thermogate analyze' prints them) with the gate's estimates from a recording of the same "
                    "people, and print the site offset and the spread that remains.")
    calibrate.add_argument("gate")
    calibrate.add_argument("--recording", required=True, metavar="FILE")
    calibrate.add_argument("--readings", required=True, metavar="CSV")
    calibrate.add_argument("--config", metavar="C")
    calibrate.set_defaults(run=_calibrate)


