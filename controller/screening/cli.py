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
    if args.recording is None:
        return _calibrate_live(args)
    if args.readings is None:
        raise ValueError("--recording needs --readings CSV (columns track, clinical_c)")
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


def _calibrate_live(args: argparse.Namespace) -> int:
    """On a running site: pairs from a nurse's sheet against the stored decisions, or typed in live;
    the fitted offset is stored and the controller applies it at its next start."""
    from ..service.calibration import current_offset, fit_and_store, pairs_from_sheet, pairs_interactive
    from ..service.config import load_config
    from ..store import open_store

    if not args.config:
        raise ValueError("give --recording FILE (offline), or --config controller.toml (the running site)")
    config = load_config(args.config)
    store = open_store(config.store_url)
    try:
        offset_now = current_offset(config, store, args.gate)
        if args.readings:
            pairs, skipped = pairs_from_sheet(store, args.gate, args.readings, config.tz, args.match_s)
            for line in skipped:
                print(line, file=sys.stderr)
            source = f"sheet {args.readings}"
        else:
            from sim.mqtt_link import Broker

            m = config.mqtt
            broker = Broker(m.host, m.port, m.user or None, m.password or None)
            pairs = pairs_interactive(broker, args.gate)
            source = "interactive"
        cal = fit_and_store(store, args.gate, pairs, offset_now, source=source, save=not args.no_store)
    finally:
        store.close()
    print(json.dumps({"gate": args.gate, "site_offset_c": round(cal.offset_c, 2), "previous_offset_c": offset_now,
                      "residual_sd_c": round(cal.residual_sd_c, 3), "pairs": cal.pairs, "stored": not args.no_store}))
    if not args.no_store:
        print(f"stored: the controller uses site_offset_c = {cal.offset_c:.2f} for {args.gate} from its next start "
              f"(unless controller.toml sets one for this gate)", file=sys.stderr)
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
        description="Fit a gate's site offset against a nurse's clinical readings and report the spread that "
                    "remains. On a running site (--config controller.toml): pair each reading with the "
                    "controller's decision, typed in as the gate decides, or from --readings CSV (columns time, "
                    "clinical_c); the offset is stored and applied at the controller's next start. Offline "
                    "(--recording FILE --readings CSV with columns track, clinical_c): pair with the decisions "
                    "'thermogate analyze' makes on a recording of the same people, and print the offset.")
    calibrate.add_argument("gate")
    calibrate.add_argument("--config", metavar="C", help="controller.toml (its broker, store and [screening])")
    calibrate.add_argument("--recording", metavar="FILE", help="offline: a recording of the same people")
    calibrate.add_argument("--readings", metavar="CSV", help="the nurse's readings (see above)")
    calibrate.add_argument("--match-s", type=float, default=20.0,
                           help="on a running site: a reading pairs with a decision at most this far in time")
    calibrate.add_argument("--no-store", action="store_true", help="print the fit, store nothing")
    calibrate.set_defaults(run=_calibrate)


