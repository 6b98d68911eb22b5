"""Site calibration against a clinical thermometer, on a running site (``thermogate calibrate GATE``).

A nurse takes clinical readings of a few people as they pass the gate. Each
reading is paired with the controller's estimate for that person:

- **interactively**: the command follows the gate's ``result`` topic and asks
  for the clinical reading of each person the gate decides on (Enter skips one,
  ``done`` ends);
- **from a sheet**: ``--readings CSV`` with columns ``time`` (when the person
  passed: ``HH:MM[:SS]`` on the school's clock today, or an ISO date and time)
  and ``clinical_c``. Each row is paired with the gate's stored PASS/FEVER
  screening nearest in time, within ``--match-s`` seconds.

The offset that makes the gate agree with the thermometer on the median is
stored in the store's calibrations. The controller applies the gate's latest
calibration when it starts, unless controller.toml sets ``site_offset_c`` for
that gate. The spread that remains is reported: it is the person-to-person
variation that no offset can remove.
"""

from __future__ import annotations

import csv
import json
import queue
import sys
import time
from datetime import datetime

from ..screening.site_calibration import SiteCalibration, fit_site_offset

DECIDED = ("PASS", "FEVER")


def current_offset(config, store, gate_id: str) -> float:
    """The site offset the gate's estimates are made with now (as ControllerService applies it)."""
    table = config.gate_screening.get(gate_id, {})
    if "site_offset_c" in table:
        return float(table["site_offset_c"])
    latest = store.latest_calibration(gate_id)
    if latest is not None:
        return latest.offset_c
    return config.screening.site_offset_c


def _parse_time(text: str, tz, today) -> float:
    text = text.strip()
    for fmt in ("%H:%M:%S", "%H:%M"):
        try:
            t = datetime.strptime(text, fmt).time()
        except ValueError:
            continue
        return datetime.combine(today, t, tz).timestamp()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"time {text!r}: use HH:MM, HH:MM:SS or an ISO date and time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.timestamp()


def pairs_from_sheet(store, gate_id: str, path: str, tz, match_s: float = 20.0, today=None):
    """(estimate, clinical) pairs from a nurse's CSV, each matched to the nearest stored decision."""
    today = today or datetime.now(tz).date()
    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        for n, row in enumerate(csv.DictReader(f), start=2):
            try:
                rows.append((n, _parse_time(row["time"], tz, today), float(row["clinical_c"])))
            except (KeyError, TypeError) as exc:
                raise ValueError(f"{path}: line {n}: needs columns time and clinical_c ({exc})") from None
            except ValueError as exc:
                raise ValueError(f"{path}: line {n}: {exc}") from None
    if not rows:
        raise ValueError(f"{path}: no readings")
    since, until = min(r[1] for r in rows) - match_s, max(r[1] for r in rows) + match_s
    decided = [s for s in store.screenings(gate=gate_id, since=since, until=until, limit=100000, snapshots=False)
               if s.decision in DECIDED and s.estimate_c is not None]
    pairs, used, skipped = [], set(), []
    for n, t, clinical in rows:
        best = min((s for s in decided if s.id not in used), key=lambda s: abs(s.time - t), default=None)
        if best is None or abs(best.time - t) > match_s:
            skipped.append(f"line {n}: no decision of {gate_id} within {match_s:g} s")
            continue
        used.add(best.id)
        pairs.append((best.estimate_c, clinical))
    return pairs, skipped


def pairs_interactive(broker, gate_id: str, ask=input, out=sys.stdout, wait_s: float = 600.0):
    """(estimate, clinical) pairs typed in as the gate decides on each person."""
    from sim.mqtt_link import close, connect

    results: queue.Queue = queue.Queue()

    def on_message(_c, _u, message):
        try:
            results.put(json.loads(message.payload))
        except ValueError:
            pass

    client = connect(broker.host, broker.port, f"calibrate-{gate_id}-{time.monotonic_ns() % 10**6}",
                     username=broker.username, password=broker.password, on_message=on_message,
                     subscriptions=[(f"thermogate/{gate_id}/result", 1)])
    pairs = []
    print(f"Waiting for {gate_id}'s decisions. Take each person's clinical reading; type it in degC, "
          "Enter to skip, 'done' to finish.", file=out, flush=True)
    try:
        while True:
            try:
                r = results.get(timeout=wait_s)
            except queue.Empty:
                print(f"no decision for {wait_s:g} s: stopping", file=out)
                break
            if r.get("decision") not in DECIDED or r.get("estimate_c") is None:
                continue
            answer = ask(f"person {r.get('track')}: gate estimate {r['estimate_c']:.2f} degC; clinical reading? ")
            answer = answer.strip().lower()
            if answer in ("done", "q", "quit"):
                break
            if not answer:
                continue
            try:
                clinical = float(answer.replace(",", "."))
            except ValueError:
                print(f"not a number: {answer!r}, skipped", file=out)
                continue
            if not 34.0 <= clinical <= 43.0:
                print(f"{clinical} degC is not a plausible clinical reading, skipped", file=out)
                continue
            pairs.append((float(r["estimate_c"]), clinical))
            print(f"  {len(pairs)} paired", file=out, flush=True)
    finally:
        close(client)
    return pairs


def fit_and_store(store, gate_id: str, pairs, offset_now: float, *, source: str, save: bool = True) -> SiteCalibration:
    calibration = fit_site_offset(pairs, offset_now)
    if save:
        store.record_calibration(gate_id, time.time(), calibration.offset_c, calibration.residual_sd_c,
                                 calibration.pairs, {"source": source, "previous_offset_c": offset_now,
                                                     "pairs": [[round(e, 3), round(c, 2)] for e, c in pairs]})
    return calibration
