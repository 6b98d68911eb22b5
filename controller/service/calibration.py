"""Site calibration against a clinical thermometer, on a running site (``thermogate calibrate GATE``).

A nurse takes clinical readings of a few people as they pass the gate. Each
reading is paired with the controller's estimate for that person:

- **interactively**: the command follows the gate's ``result`` topic and asks
  for the clinical reading of each person the gate decides on (Enter skips one,
  ``done`` ends); that live capture is ``controller/calibrate/live.py``'s;
- **from a sheet**: ``--readings CSV`` with columns ``time`` (when the person
  passed: ``HH:MM[:SS]`` on the school's clock today, or an ISO date and time)
  and ``clinical_c``. Each row is paired with the gate's stored PASS/FEVER
  screening nearest in time, within ``--match-s`` seconds.

The offset that makes the gate agree with the thermometer on the median is
stored in the store's calibrations. A sheet's stored decisions are each taken
as made with the offset in force at their time (:func:`offset_at`: a stored
calibration applies from the controller's restart, which is to follow it), and
restated at today's before the fit. The controller applies the gate's latest
calibration when it starts, unless controller.toml sets ``site_offset_c`` for
that gate. The spread that remains is reported: it is the person-to-person
variation that no offset can remove.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple

from ..screening.site_calibration import (
    Decided,
    SiteCalibration,
    bare_time,
    fit_site_offset,
    match_by_time,
    read_sheet,
)

DECIDED = ("PASS", "FEVER")


def current_offset(config, store, gate_id: str) -> float:
    """The site offset the gate's estimates are made with now (as ControllerService applies it)."""
    return offset_at(config, store, gate_id)(math.inf)


def offset_at(config, store, gate_id: str) -> Callable[[float], float]:
    """The site offset the gate's estimates were made with at a time ``t`` (store time): the gate's own
    controller.toml value, else its latest calibration stored by ``t``, else [screening]'s. A stored
    calibration applies from the controller's next start: this takes that start to have followed it, as
    docs/installation.md asks (restart after storing)."""
    table = config.gate_screening.get(gate_id, {})
    if "site_offset_c" in table:
        fixed = float(table["site_offset_c"])
        return lambda t: fixed
    history = [(c.time, c.offset_c) for c in store.calibrations(gate_id)]  # in time order
    default = config.screening.site_offset_c

    def at(t: float) -> float:
        before = [offset for when, offset in history if when <= t]
        return before[-1] if before else default

    return at


def pairs_from_sheet(store, gate_id: str, path: str, tz, match_s: float = 20.0, today=None,
                     restate: Callable[[float], float] | None = None):
    """(pairs, labels, skipped): a nurse's CSV (time, clinical_c) matched by time to the gate's stored PASS/FEVER
    screenings (site_calibration.match_by_time); a bare HH:MM is on ``today`` (the school's date by default).
    ``restate(t)``: what to add to an estimate made at ``t`` to state it at the offset in force now (a sheet
    spanning a calibration holds decisions made with the offset before it)."""
    today = today or datetime.now(tz).date()
    readings = read_sheet(path, tz, [today])
    moments = [t for r in readings for t in r.times]
    since, until = min(moments) - match_s, max(moments) + match_s
    decided = [Decided(s.time, s.estimate_c + (restate(s.time) if restate else 0.0), f"screening {s.id}", s.id)
               for s in store.screenings(gate=gate_id, since=since, until=until, limit=100000, snapshots=False)
               if s.decision in DECIDED and s.estimate_c is not None]
    pairs, labels, skipped = match_by_time(readings, decided, match_s, gate_id)
    if skipped and any(bare_time(r.text) for r in readings):  # a sheet from another day matches nothing
        skipped.append(f"a time without a date (HH:MM) is read as {today.isoformat()} ({tz}): a sheet taken on "
                       f"another day needs the date on every line, e.g. {today.isoformat()}T07:41:12")
    return pairs, labels, skipped


def fit_and_store(store, gate_id: str, pairs, offset_now: float, *, source: str, save: bool = True,
                  labels: list[str] | None = None, store_failing: bool = False) -> tuple[SiteCalibration, bool]:
    """Fit ``pairs`` and, with ``save``, store the fit, but only when it passes the installation's checks
    (:meth:`SiteCalibration.problems`) unless ``store_failing``. (The fit, whether it was stored.)"""
    calibration = fit_site_offset(pairs, offset_now)
    save = save and (store_failing or not calibration.problems())
    if save:
        summary = calibration.summary(pairs, labels)
        store.record_calibration(gate_id, time.time(), calibration.offset_c, calibration.residual_sd_c,
                                 calibration.used, {"source": source, "previous_offset_c": offset_now,
                                                    "pairs": [[round(e, 3), round(c, 2)] for e, c in pairs],
                                                    "standard_error_c": summary["standard_error_c"],
                                                    "ci95_c": summary["ci95_c"], "outliers": summary["outliers"]})
    return calibration, save


# ---------------------------------------------------------------------------------------------- the reference source


class GateImages(NamedTuple):
    """What the calibrations learn from: a gate's full images, its frame scale (frame_rate.FrameRate.scale: 0.5
    at 4 Hz) and its sensor's noise of one reading as its pipeline measured it (controller.sensor.noise; NaN:
    never nobody in view long enough)."""

    images: list
    scale: float
    noise_c: float


def reference_images_recording(recording, screening) -> GateImages:
    """The full images of a recording, through the pipeline as live (assembled, analysed: the sensor's noise is
    measured while nobody is in view), and the gate's frame scale measured from their times."""
    from ..screening.pipeline import GatePipeline

    pipeline = GatePipeline(recording.gate_id, recording.eeprom_message().words, screening)
    images = []
    for item in recording.frames():
        pipeline.push(item.message.words, item.time, item.message.sequence)
        if pipeline.image is not None and (not images or pipeline.image is not images[-1]):
            images.append(pipeline.image)
    return GateImages(images, pipeline.tracker.rate.scale, pipeline.noise_c)


def _toml_value(v) -> str:
    """``v`` (a number, bool, string or list of them) as TOML writes it."""
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, bool):
        return "true" if v else "false"
    return repr(v) if isinstance(v, (int, float)) else '"' + str(v).replace('"', '\\"') + '"'


def toml_lines(table: dict) -> list[str]:
    """``table``'s keys as the lines of a TOML table, ``key = value``."""
    return [f"{k} = {_toml_value(v)}" for k, v in table.items()]


def _edit_gate_table(config_path, header: str, body, written, what: str, paste: list[str]) -> None:
    """Rewrite the table ``header`` of controller.toml, in place: ``body(old lines)`` gives its new lines under
    the header (``body([])`` for a file without it, which gets it at the end); the rest of the file (comments
    included) is kept. ``written(document)`` says whether the result reads as meant; if not (or it does not
    read), ValueError naming ``what`` with the ``paste`` lines to put in by hand, and the file untouched."""
    from pathlib import Path

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]

    path = Path(config_path)
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.split("#")[0].strip() == header), None)
    if start is None:
        new = text.rstrip("\n") + "\n\n" + "\n".join([header] + body([]))
    else:
        end = next((j for j in range(start + 1, len(lines)) if lines[j].lstrip().startswith("[")), len(lines))
        new = "\n".join(lines[:start + 1] + body(lines[start + 1:end]) + lines[end:])
    new = new.rstrip("\n") + "\n"
    try:
        ok = bool(written(tomllib.loads(new)))
    except (tomllib.TOMLDecodeError, KeyError, TypeError, AttributeError):
        ok = False
    if not ok:
        raise ValueError(f"{path} holds {what} in a form this command does not edit; put these lines in it by "
                         f"hand:\n" + "\n".join(paste))
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(new, encoding="utf-8")
    tmp.replace(path)


def store_screening_keys(config_path, gate_id: str, keys: dict, replaces: tuple[str, ...] = ()) -> None:
    """Write ``keys`` into the ``[gates.<gate_id>.screening]`` table of controller.toml, in place: the table's
    lines for them, and for the keys of ``replaces`` (written by an earlier run of the same command), are
    dropped and the new ones put right under its header; a file without the table gets it at the end. The rest
    of the file (comments included) is kept. ValueError (with the lines to paste by hand) when the file holds
    the gate's screening settings in another form."""
    header = f"[gates.{gate_id}.screening]"
    own = toml_lines(keys)
    gone = set(keys) | set(replaces)

    def written(doc: dict) -> bool:
        table = doc["gates"][gate_id]["screening"]
        return all(table.get(k) == v for k, v in keys.items()) and not any(
            k in table for k in replaces if k not in keys)

    _edit_gate_table(config_path, header, lambda old: own + [ln for ln in old if ln.split("=")[0].strip() not in gone],
                     written, f"gate {gate_id}'s screening settings", [header] + own)


def store_reference(config_path, gate_id: str, table: dict) -> None:
    """Write ``table`` as ``[gates.<gate_id>.screening.reference]`` into controller.toml, in place: that table's
    lines are replaced, or it is added at the end; the rest of the file (comments included) is kept. ValueError
    (with the lines to paste by hand) when the file holds the gate's reference in another form."""
    header = f"[gates.{gate_id}.screening.reference]"
    own = toml_lines(table)
    _edit_gate_table(config_path, header, lambda old: own + [""],
                     lambda doc: doc["gates"][gate_id]["screening"]["reference"] == table,
                     f"gate {gate_id}'s reference", [header] + own)
