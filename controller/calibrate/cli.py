"""``thermogate calibrate``: a gate's site offset against clinical readings, and its reference source's reading.

It composes the screening (the pipeline offline, the site-offset fit, learning the reference), the store
(the decisions and calibrations of a running site) and the service's calibration over MQTT; the screening
itself knows none of those. ``add_commands`` adds the command to the main parser (controller/cli.py).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass, replace
from datetime import datetime, timezone, tzinfo

from ..geometry import Lens
from ..screening.analysis import BLUR_DISAGREE_PX, AnalysisConfig
from ..screening.config import ScreeningConfig, load

LIVE_SECONDS = 10.0  # the reference's and each of the lens's captures, live, unless --seconds says otherwise
FLAT_SECONDS = 30.0  # the flat field's capture, live, unless --seconds says otherwise


def _seconds(args: argparse.Namespace, default: float) -> float:
    return default if args.seconds is None else args.seconds


def _live_gate(args: argparse.Namespace, gate: str):
    """(broker, the gate's screening settings, where they came from, the gate's key or None) for following
    ``gate`` live over MQTT, as ``thermogate watch`` does; a warning on stderr where its frames' tags cannot be
    checked."""
    from ..watch import gate_key_from_args, settings_from_args

    args.gate_id = gate
    broker, screening, source = settings_from_args(args)
    key, why = gate_key_from_args(args)
    if key is None:
        print(f"warning: the frames' tags are NOT checked: {why}", file=sys.stderr)
    return broker, screening, source, key


def _config(path: str | None) -> ScreeningConfig:
    return load(path) if path else ScreeningConfig()


def _load_recording(path: str):
    from ..recording import Recording

    return Recording.load(path)


def _calibrate(args: argparse.Namespace) -> int:
    """The subcommand ``args.what`` names; live, a broker or gate that cannot be followed, or an installer who
    stops it, is one line, status 1, and nothing stored."""
    from ..mqtt.link import LinkError

    try:
        return _calibrate_what(args)
    except LinkError as exc:
        print(f"thermogate calibrate: {exc}; nothing stored", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("thermogate calibrate: stopped; nothing stored", file=sys.stderr)
        return 1


def _calibrate_what(args: argparse.Namespace) -> int:
    what = args.what
    if len(what) == 2 and what[0] == "reference":
        return _calibrate_reference(args, what[1])
    if len(what) == 2 and what[0] == "lens":
        return _calibrate_lens(args, what[1])
    if len(what) == 2 and what[0] == "flat":
        return _calibrate_flat(args, what[1])
    if len(what) != 1:
        raise ValueError("use `thermogate calibrate GATE ...` (site offset), `thermogate calibrate reference GATE "
                         "...` (the reference source's reading), `thermogate calibrate lens GATE ...` (the lens) or "
                         "`thermogate calibrate flat GATE ...` (the sensor's pixel offsets)")
    args.gate = what[0]
    if not args.recording:
        return _calibrate_live(args)
    if args.readings is None:
        raise ValueError("--recording needs --readings CSV (columns time, clinical_c)")
    config = _config(args.config)
    tz = _timezone(args.tz)
    cal, pairs, labels, skipped = fit_recordings([(path, _load_recording(path)) for path in args.recording],
                                                 args.readings, config, tz, args.match_s, args.gate)
    for line in skipped:
        print(line, file=sys.stderr)
    print(json.dumps({"gate": args.gate, **cal.summary(pairs, labels), "recordings": len(args.recording)}))
    for o in cal.summary(pairs, labels)["outliers"]:
        print(f"outlier, left out: {o['reading']}: clinical {o['clinical_c']:.2f} against {o['estimate_c']:.2f} "
              f"degC", file=sys.stderr)
    for problem in cal.problems():
        print(f"fails the installation's checks (docs/installation.md), do not use it yet: {problem}",
              file=sys.stderr)
    print(f"put in the [screening] table of the controller config: site_offset_c = {cal.offset_c:.2f} "
          f"(+-{cal.standard_error_c:.2f}, 95 % {cal.ci95_c[0]:.2f}..{cal.ci95_c[1]:.2f})", file=sys.stderr)
    return 0


def fit_recordings(recordings: list, sheet: str, config: ScreeningConfig, tz: tzinfo, match_s: float, gate: str,
                   decisions: list | None = None):
    """The offline site-offset fit of ``thermogate calibrate GATE --recording ... --readings SHEET``: the
    PASS/FEVER decisions ``thermogate analyze`` makes with ``config`` on each of ``recordings`` ((name,
    Recording) pairs), at the recording's ``created`` time plus their own, pooled; the sheet's readings
    (a bare ``HH:MM`` tried on each recording's day in ``tz``) matched to them by time and fitted
    (controller/screening/site_calibration.py). ``decisions``: one list per recording, when they are
    already made with ``config``. (fit, pairs, a label per pair, a message per reading left out);
    ValueError as :func:`fit_site_offset` and :func:`read_sheet` raise it."""
    from datetime import datetime

    from ..screening.offline import analyze_recording
    from ..screening.site_calibration import Decided, fit_site_offset, match_by_time, read_sheet

    decided, dates = [], set()
    for n, (path, recording) in enumerate(recordings):
        start = recording.created.timestamp()
        dates.add(datetime.fromtimestamp(start, tz).date())
        dates.add(datetime.fromtimestamp(start + recording.duration, tz).date())
        made = analyze_recording(recording, config) if decisions is None else decisions[n]
        for d in made:
            if d.estimate_c is not None:
                decided.append(Decided(start + d.time_s, d.estimate_c, f"{path} track {d.track} at {d.time_s:.1f} s",
                                       (path, d.track, d.time_s)))
    readings = read_sheet(sheet, tz, sorted(dates))
    pairs, labels, skipped = match_by_time(readings, decided, match_s, gate)
    return fit_site_offset(pairs, config.site_offset_c), pairs, labels, skipped


def _timezone(name: str | None) -> tzinfo:
    from datetime import datetime

    if name:
        import zoneinfo

        try:
            return zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"--tz {name!r}: not a time zone (e.g. Asia/Shanghai)") from None
    local = datetime.now().astimezone().tzinfo
    assert local is not None  # astimezone() always sets one
    return local


def _reference_config(args: argparse.Namespace, gate: str, variant: str | None) -> ScreeningConfig:
    """The gate's screening settings for learning its reference offline: from --config (a controller.toml,
    with the gate's own tables, or a file with a [screening] table), else the defaults."""
    if not args.config:
        return ScreeningConfig() if variant is None else load_variant(variant)
    from ..service.config import load_config

    # A file of a [screening] table alone reads as a controller.toml with defaults elsewhere; a file that does not
    # read is refused with its error (taking its [screening] alone would drop the gate's own tables: its box)
    return load_config(args.config, secrets=False).screening_for(gate, variant)


def load_variant(variant: str) -> ScreeningConfig:
    from dataclasses import replace

    from ..screening.analysis import AnalysisConfig

    return ScreeningConfig(analysis=replace(AnalysisConfig(), variant=variant))


def _reference_tables(path: str | None, gate: str) -> dict:
    """The reference settings ``path`` gives the gate now ([screening.reference], then the gate's own), so that
    the gate's table written with the learned reading keeps them (a gate's table replaces the site's whole)."""
    if not path:
        return {}
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    from pathlib import Path

    try:
        doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    site = doc.get("screening", {}).get("reference", {})
    own = doc.get("gates", {}).get(gate, {}).get("screening", {}).get("reference", {})
    return {**(site if isinstance(site, dict) else {}), **(own if isinstance(own, dict) else {})}


def _calibrate_reference(args: argparse.Namespace, gate: str) -> int:
    """Learn the reference's reading through this gate's optics, live or from a recording, and store it."""
    from ..screening.analysis import reference_across_px
    from ..screening.optics import LENS_PSF_SIGMA_PX
    from ..screening.reference_source import (
        MAX_LENS_AGE_S,
        MAX_OFFSET_SPREAD_C,
        OFFSET_BLUR_STEP_PX,
        LearningError,
        learn_reference,
        offset_across_px,
    )
    from ..service.calibration import reference_images_recording, store_reference, toml_lines
    from .live import reference_images_live

    if args.recording and len(args.recording) > 1:
        raise ValueError("calibrate reference learns from one recording at a time")
    if args.recording:
        recording = _load_recording(args.recording[0])
        variant = args.variant or recording.meta.get("variant")
        screening = _reference_config(args, gate, str(variant) if variant else None)
        images, scale, noise_c = reference_images_recording(recording, screening)
        source, at = args.recording[0], recording.created
    else:
        broker, screening, source, key = _live_gate(args, gate)
        seconds = _seconds(args, LIVE_SECONDS)
        print(f"learning {gate}'s reference for {seconds:g} s: keep everyone away from it", file=sys.stderr)
        images, scale, noise_c = reference_images_live(broker, gate, screening, seconds, key)
        at = datetime.now(timezone.utc)
    analysis = screening.analysis
    noise = _sensor_noise(noise_c, scale)
    try:
        learned = learn_reference(images, analysis, frame_scale=scale, at=at)
    except LearningError as exc:
        print(json.dumps({"gate": gate, "learned": False, "reason": exc.reason, "detail": str(exc), **noise.fields}))
        print(f"thermogate calibrate reference: {exc}", file=sys.stderr)
        if noise.warning:
            print(f"thermogate calibrate reference: {noise.warning}", file=sys.stderr)
        return 1
    box = analysis.reference_box
    assert box is not None  # learn_reference refuses an analysis without one
    written = learned.table(box)
    # What this learning measured replaces what an earlier one did: a blur or an offset it could not measure (a
    # smaller disc now) is dropped, not kept from before, where the tracker would still take it off every face.
    kept = {k: v for k, v in _reference_tables(args.config, gate).items() if k not in learned.LEARNED_KEYS}
    table = {**kept, **written}
    stored = bool(args.config) and not args.no_store
    if stored:
        store_reference(args.config, gate, table)
    learned_optics = replace(analysis, lens_blur_px=written.get("blur_px"))  # what the faces are read with from now
    print(json.dumps({"gate": gate, "learned": True, "apparent_c": round(learned.apparent_c, 3),
                      "apparent_sd_c": round(learned.sd_c, 3), "set_point_c": learned.set_point_c,
                      "pixels": learned.pixels, "frames": learned.frames, "size_px": round(learned.size_px, 2),
                      "fraction": round(learned.fraction, 3), "background_c": round(learned.background_c, 2),
                      "excess_c": round(learned.excess_c, 3), "allowed_c": round(learned.allowed_c, 3),
                      "box": list(box),
                      "sensor_offset_c": written.get("sensor_offset_c"), "blur_px": written.get("blur_px"),
                      "lens_drift_c": written.get("lens_drift_c"), "face_blur_px": learned_optics.face_blur_px,
                      **noise.fields,
                      "source": source, "stored": str(args.config) if stored else False}))
    where = (f"stored in {args.config} as [gates.{gate}.screening.reference]; the controller uses it from its next "
             f"start" if stored else "put in controller.toml:\n" + "\n".join(
                 [f"[gates.{gate}.screening.reference]"] + toml_lines(table)))
    across = reference_across_px(learned.size_px)
    blur = learned.blur_px if learned.blur_px is not None else LENS_PSF_SIGMA_PX
    need = offset_across_px(blur, analysis.fov)
    small = (f"the disc ({across:.1f} px across) is too small to tell the sensor's own offset (through this "
             f"lens's {blur:.2f} px blur it needs about {need:g} px, so that its reading hangs little on the blur: "
             f"docs/installation.md)" if across < need else
             f"the disc ({across:.1f} px across) tells no sensor offset: what it would tell moves by more than "
             f"{MAX_OFFSET_SPREAD_C:g} degC with {OFFSET_BLUR_STEP_PX:g} px more or less blur (something warm beside "
             f"it, or lens wings not taken out?)")
    if "sensor_offset_c" in written:
        offset = f"the sensor reads {written['sensor_offset_c']:+.2f} degC off in common, read off the disc and " \
                 f"taken off every face"
    elif "lens_drift_c" in written:
        offset = (f"{small}; the offset `calibrate lens` read is taken off, with the sensor's drift since "
                  f"({written['lens_drift_c']:+.2f} degC: the view's median pixel then and now)")
    elif learned.lens_drift_unread == "lens_too_old":
        assert learned.lens_age_s is not None
        offset = (f"{small}; the lens was measured {abs(learned.lens_age_s) / 60.0:.0f} minutes "
                  f"{'before' if learned.lens_age_s > 0 else 'after'} this (at most {MAX_LENS_AGE_S / 60.0:.0f}), so "
                  f"the room may have changed and the sensor's drift since is not read: the offset it read is taken "
                  f"off as it was; measure the lens again, then learn the reference right after")
    elif learned.lens_drift_unread == "view_crowded":
        offset = (f"{small}; someone was in view nearly all the time, so the sensor's drift since `calibrate lens` "
                  f"could not be read: the offset it read is taken off as it was; learn the reference again with "
                  f"the view clear for a few seconds")
    elif learned.lens_drift_unread == "view_moved":
        assert analysis.lens_view_c is not None
        offset = (f"{small}; the view moved {learned.view_c - analysis.lens_view_c:+.2f} degC since `calibrate "
                  f"lens` read it, more than a sensor drifts (the room changed?): the offset it read is taken off "
                  f"as it was; measure the lens again, then learn the reference")
    else:
        offset = f"{small}, which commissioning then takes out"
    print(f"{gate}'s reference reads {learned.apparent_c:.2f} degC through its optics (set point "
          f"{learned.set_point_c:.1f}, {learned.fraction:.0%} of its contrast); {offset}; {where}", file=sys.stderr)
    blur = _blur_sentence(learned_optics)
    if blur:
        print(f"{gate}'s lens blur: {blur}", file=sys.stderr)
    print(f"{gate}'s sensor's noise: {noise.sentence}", file=sys.stderr)
    return 0


def _blur_sentence(optics: AnalysisConfig) -> str:
    """What ``calibrate reference`` says of the blur the faces will be read with (``optics``: the gate's
    AnalysisConfig with the disc's blur just learned; the faces are read with the lens's core from ``calibrate
    lens`` wherever it was measured, ``face_blur_px``): "" where there is nothing to say (no core to check the
    disc's against)."""
    disc_px, core_px = optics.lens_blur_px, optics.lens_core_px
    if core_px is None:
        return ""
    if disc_px is None:
        return f"the disc tells none; the faces are read with the lens's core, {core_px:.2f} px (calibrate lens)"
    if optics.blur_disagrees:
        return (f"WARNING: the disc reads {disc_px:.2f} px, more than {BLUR_DISAGREE_PX:g} px from the lens's core "
                f"that calibrate lens measured ({core_px:.2f} px): the disc is too small or too far to tell the blur "
                f"(or something warm stands beside it), and the sensor's offset it reads may be as far off; the "
                f"faces are read with the lens's core. A larger or nearer disc (docs/installation.md) tells it")
    return (f"the faces are read with the lens's core, {core_px:.2f} px (calibrate lens); the disc reads "
            f"{disc_px:.2f} px, within {BLUR_DISAGREE_PX:g} px of it")


@dataclass(frozen=True)
class _Noise:
    """The sensor's noise as ``calibrate reference`` reports it: JSON fields, a sentence, a warning or ""."""

    fields: dict
    sentence: str
    warning: str


def _sensor_noise(noise: float, scale: float) -> _Noise:
    """The noise of one reading the gate's pipeline measured (controller.sensor.noise), at the rate its frame
    scale says, and as the datasheet states it (1 Hz)."""
    from ..screening.frame_rate import NOMINAL_FRAME_S
    from ..sensor.noise import DATASHEET_NETD_1HZ_C, NOISY_NETD_1HZ_C, describe_noise, netd_1hz_c, too_noisy_to_screen

    hz = scale / NOMINAL_FRAME_S
    netd = netd_1hz_c(noise, hz)
    if not math.isfinite(netd):
        return _Noise({"noise_c": None, "netd_1hz_c": None},
                      "its noise was not measured (not a second with nobody in view)", "")
    warning = (f"the sensor is noisy: {netd:.2f} degC at 1 Hz, over the {NOISY_NETD_1HZ_C:g} the screening is "
               f"measured up to (the datasheet's typical {DATASHEET_NETD_1HZ_C:g}); it will decide fewer of the "
               f"people at the mark, and later: check its supply and wiring, or replace it (docs/installation.md)"
               if too_noisy_to_screen(noise, hz) else "")
    sentence = describe_noise(noise, hz) + (f"; {warning}" if warning else "")
    return _Noise({"noise_c": round(noise, 3), "netd_1hz_c": round(netd, 3)}, sentence, warning)


def _lens_images_recorded(args: argparse.Namespace, gate: str) -> tuple[list, list, str, str, datetime]:
    """(images with the disc, without it, the lens, where they came from, when the view without it was
    recorded) from the two recordings."""
    from ..service.calibration import reference_images_recording

    if len(args.recording) != 2:
        raise ValueError("calibrate lens needs two recordings: --recording WITH_DISC --recording WITHOUT_DISC "
                         "(or neither, and --config: live from the running gate)")
    recordings = [_load_recording(path) for path in args.recording]
    variants = {str(v) for v in (args.variant or r.meta.get("variant") for r in recordings) if v}
    if len(variants) != 1:
        raise ValueError("give the lens with --variant (the recordings do not say it, or say two)"
                         if not variants else f"the recordings are of different lenses: {sorted(variants)}")
    variant = variants.pop()
    screening = _reference_config(args, gate, variant)
    disc, empty = (reference_images_recording(r, screening).images for r in recordings)
    return disc, empty, variant, " + ".join(args.recording), recordings[1].created


def _lens_images_live(args: argparse.Namespace, gate: str) -> tuple[list, list, str, str, datetime]:
    """The same, live from the running gate over MQTT, the installer prompted between the two captures."""
    from .live import lens_images_live

    if not args.config and args.variant is None:
        raise ValueError("live, give --config controller.toml (the gate's lens from the site registry) or "
                         "--variant; offline, --recording WITH_DISC --recording WITHOUT_DISC")
    broker, screening, source, key = _live_gate(args, gate)
    disc, empty = lens_images_live(broker, gate, screening, _seconds(args, LIVE_SECONDS), key)
    return disc, empty, screening.analysis.variant, f"live from {broker} ({source})", datetime.now(timezone.utc)


def _calibrate_lens(args: argparse.Namespace, gate: str) -> int:
    """Measure the gate's lens from two captures, the heated disc near it and then without it (two recordings,
    or live from the running gate with the installer prompted); store the ``[gates.GATE.screening]`` keys that
    take its wings and its sensor's offset out in --config's controller.toml, or print them
    (docs/installation.md, "Measuring the lens")."""
    from ..geometry import Lens
    from ..screening.lens_measurement import LENS_KEYS, LensMeasurementError, measure_lens
    from ..screening.lens_wings import LensWings
    from ..service.calibration import store_screening_keys, toml_lines

    disc, empty, variant, source, when = (_lens_images_recorded(args, gate) if args.recording
                                          else _lens_images_live(args, gate))
    written = _reference_tables(args.config, gate)  # the disc's set point and coating, where the gate gives them
    set_point = args.set_point if args.set_point is not None else written.get("temp_c")
    emissivity = args.emissivity if args.emissivity is not None else written.get("emissivity", 1.0)
    try:
        m = measure_lens(disc, empty, Lens.parse(variant).fov, set_point_c=set_point, emissivity=emissivity)
    except LensMeasurementError as exc:
        print(json.dumps({"gate": gate, "measured": False, "detail": str(exc)}
                         | ({} if exc.hotter_c is None else {"set_point_needed_c": exc.hotter_c})))
        print(f"thermogate calibrate lens: {exc}", file=sys.stderr)
        return 1
    table = m.table()
    if "lens_view_c" in table:  # the view goes with when it was read: calibrate reference reads it again soon after
        table["lens_measured_at"] = when.isoformat(timespec="seconds")
    # what taking the wings out of every image does to the pixels' noise (1.0: no wings, nothing taken out)
    gain = LensWings(m.wing_share, m.wing_px, disc[0].shape).noise_gain if m.wing_share > 0.0 else 1.0
    stored = bool(args.config) and not args.no_store
    if stored:  # what this measurement measured replaces what an earlier one did, a key it did not write included
        store_screening_keys(args.config, gate, table, replaces=LENS_KEYS)
    print(json.dumps({"gate": gate, "measured": True, "variant": variant, "core_px": m.core_px,
                      "wing_share": round(m.wing_share, 3), "wing_px": round(m.wing_px, 2) if m.wing_share else None,
                      "halo_sd": round(m.halo_sd, 1), "noise_gain": round(gain, 3), "across_px": round(m.across_px, 2),
                      "sensor_offset_c": None if m.sensor_offset_c is None else round(m.sensor_offset_c, 2),
                      "full_pixels": m.full_pixels, "offset_across_px": m.offset_across_px,
                      "set_point_c": set_point, "emissivity": emissivity,
                      "contrast_c": round(m.contrast_c, 2), "residual": round(m.residual, 4),
                      "stray_c": round(m.stray_c, 3), "misfit": round(m.misfit, 4),
                      "frames": list(m.frames), "source": source,
                      "stored": str(args.config) if stored else False}))
    found = (f"wings: {m.wing_share:.0%} of a point's energy spread {m.wing_px:.2f} px wide (seen at "
             f"{m.halo_sd:.0f} standard errors beyond the disc's edge); taking them out of every image lifts the "
             f"pixels' noise by {gain - 1.0:.0%}, and a lens with wings costs decisions (a clean window and lens "
             f"scatter less)" if m.wing_share > 0.0
             else "no wings (the disc's surroundings show none beyond what the pixels' noise allows)")
    offset = (f"the sensor reads {m.sensor_offset_c:+.2f} degC off in common on the {m.full_pixels} pixels wholly "
              f"on the disc (taken off every face where the reference disc does not tell it)"
              if m.sensor_offset_c is not None else
              "the sensor's own offset not read: give the disc's set point (--set-point, and --emissivity)"
              if set_point is None else
              f"the sensor's own offset not read: only {m.full_pixels} pixels wholly on the disc; bring it nearer"
              + (f", to about {m.offset_across_px:.1f} pixels across at this lens's blur (it is {m.across_px:.1f}: "
                 f"stand it at {m.across_px / m.offset_across_px:.2f} of its distance now), and measure again"
                 if m.offset_across_px is not None else ""))
    lines = "\n".join([f"[gates.{gate}.screening]"] + toml_lines(table))
    where = (f"stored in {args.config} as {', '.join(table)} of [gates.{gate}.screening]" if stored
             else f"put in controller.toml:\n{lines}\n")
    print(f"{gate}'s lens: core blur {m.core_px:.2f} px, {found}; the disc {m.across_px:.1f} px across, "
          f"{m.contrast_c:.1f} degC above the wall; {offset}; {where}; then learn the reference (again: thermogate "
          f"calibrate reference {gate}), which reads the disc without the wings, and restart the controller",
          file=sys.stderr)
    return 0


def _flat_images(args: argparse.Namespace, gate: str) -> tuple[list, str]:
    """(the images of the flat field, where they came from): from one recording, or live from the running gate
    with the installer prompted; through the gate's pipeline with no pixel offsets taken off."""
    from ..service.calibration import reference_images_recording

    def plain(screening: ScreeningConfig) -> ScreeningConfig:
        return replace(screening, analysis=replace(screening.analysis, pixel_offsets_c=None))

    seconds = _seconds(args, FLAT_SECONDS)
    if args.recording:
        if len(args.recording) != 1:
            raise ValueError("calibrate flat takes one recording: --recording FILE (or none, and --config: live "
                             "from the running gate)")
        recording = _load_recording(args.recording[0])
        variant = args.variant or recording.meta.get("variant")
        screening = plain(_reference_config(args, gate, str(variant) if variant else None))
        return reference_images_recording(recording, screening).images, args.recording[0]
    from .live import flat_images_live

    if not args.config and args.variant is None:
        raise ValueError("live, give --config controller.toml (the gate's lens from the site registry) or "
                         "--variant; offline, --recording FILE")
    broker, screening, source, key = _live_gate(args, gate)
    return flat_images_live(broker, gate, plain(screening), seconds, key), f"live from {broker} ({source})"


def _calibrate_flat(args: argparse.Namespace, gate: str) -> int:
    """Measure the sensor's fixed per-pixel offsets on a flat field (the heated disc held against the window),
    from a recording or live; store ``[gates.GATE.screening] pixel_offsets_c`` in --config's controller.toml, or
    print it (docs/installation.md, "Measuring the sensor's pixels")."""
    from ..screening.flat_field import FLAT_KEYS, FlatFieldError, measure_flat_field
    from ..service.calibration import store_screening_keys, toml_lines

    images, source = _flat_images(args, gate)
    try:
        flat = measure_flat_field(images)
    except FlatFieldError as exc:
        print(json.dumps({"gate": gate, "measured": False, "detail": str(exc), "frames": len(images)}))
        print(f"thermogate calibrate flat: {exc}", file=sys.stderr)
        return 1
    table = flat.table()
    stored = bool(args.config) and not args.no_store
    if stored:
        store_screening_keys(args.config, gate, table, replaces=FLAT_KEYS)
    print(json.dumps({"gate": gate, "measured": True, "card_c": round(flat.card_c, 2), "frames": flat.frames,
                      "spread_c": round(flat.spread_c, 3), "noise_left_c": round(flat.noise_left_c, 3),
                      "smooth_c": round(flat.smooth_c, 3), "bad_pixels": flat.bad_pixels, "source": source,
                      "stored": str(args.config) if stored else False}))
    where = (f"stored in {args.config} as pixel_offsets_c of [gates.{gate}.screening]" if stored
             else "put in controller.toml:\n" + "\n".join([f"[gates.{gate}.screening]"] + toml_lines(table)) + "\n")
    bad = f"; {flat.bad_pixels} pixels invalid in half the images, given none" if flat.bad_pixels else ""
    print(f"{gate}'s pixels: their own offsets spread {flat.spread_c:.2f} degC (sd), measured to "
          f"{flat.noise_left_c:.3f} from {flat.frames} images of a surface reading {flat.card_c:.1f} degC{bad}; "
          f"{where}; then measure the lens and learn the reference again (thermogate calibrate lens {gate}, "
          f"thermogate calibrate reference {gate}), which read the images with them taken off, and restart the "
          f"controller", file=sys.stderr)
    return 0


def _calibrate_live(args: argparse.Namespace) -> int:
    """On a running site: pairs from a nurse's sheet against the stored decisions, or typed in live;
    the fitted offset is stored when it passes the installation's checks (or with --store-anyway), and the
    controller applies it at its next start."""
    from ..service.calibration import current_offset, fit_and_store, offset_at, pairs_from_sheet
    from ..service.config import load_config
    from ..store import open_store
    from .live import pairs_interactive

    if not args.config:
        raise ValueError("give --recording FILE (offline), or --config controller.toml (the running site)")
    config = load_config(args.config)
    store = open_store(config.store_url)
    try:
        offset_now = current_offset(config, store, args.gate)
        labels = None
        if args.readings:
            made_with = offset_at(config, store, args.gate)  # a sheet may span a calibration stored since
            pairs, labels, skipped = pairs_from_sheet(store, args.gate, args.readings, config.tz, args.match_s,
                                                      restate=lambda t: offset_now - made_with(t))
            for line in skipped:
                print(line, file=sys.stderr)
            source = f"sheet {args.readings}"
        else:
            from ..mqtt.link import Broker

            pairs = pairs_interactive(Broker.of(config.mqtt), args.gate)
            source = "interactive"
        cal, stored = fit_and_store(store, args.gate, pairs, offset_now, source=source, save=not args.no_store,
                                    labels=labels, store_failing=args.store_anyway)
    finally:
        store.close()
    summary = cal.summary(pairs, labels)
    print(json.dumps({"gate": args.gate, **summary, "previous_offset_c": offset_now, "stored": stored}))
    for o in summary["outliers"]:
        print(f"outlier, left out: {o.get('reading', '')}: clinical {o['clinical_c']:.2f} against "
              f"{o['estimate_c']:.2f} degC", file=sys.stderr)
    for problem in summary["problems"]:
        print(f"fails the installation's checks (docs/installation.md): {problem}", file=sys.stderr)
    if stored:
        print(f"stored: the controller uses site_offset_c = {cal.offset_c:.2f} for {args.gate} from its next start "
              f"(unless controller.toml sets one for this gate)", file=sys.stderr)
    elif not args.no_store:
        print(f"not stored: the fit fails the checks above, and {args.gate} keeps site_offset_c = {offset_now:.2f}; "
              f"do what they say and fit again, or add --store-anyway for a fit whose problems you have explained",
              file=sys.stderr)
        return 1
    return 0


def add_commands(subparsers) -> None:
    """Register ``calibrate`` on the ``thermogate`` parser."""
    calibrate = subparsers.add_parser(
        "calibrate", help="fit a gate's site offset against clinical readings, or learn its reference source",
        description="`thermogate calibrate GATE`: fit a gate's site offset against a nurse's clinical readings "
                    "and report it with its uncertainty (standard error, bootstrap 95 % interval), the outliers "
                    "left out and the spread that remains. The readings are a sheet (--readings CSV, columns time "
                    "and clinical_c), each matched by time to the gate's nearest PASS/FEVER decision: on a running "
                    "site (--config controller.toml) the store's decisions, the fit stored when it passes the "
                    "installation's checks and applied at the controller's next start; offline, the "
                    "decisions 'thermogate analyze' makes on any number of "
                    "recordings (--recording A --recording B ...), pooled. Without --readings on a running site, "
                    "the readings are typed in as the gate decides. "
                    "`thermogate calibrate reference GATE`: learn the reference source's reading through this "
                    "gate's optics with nobody near it, live over MQTT (--config) for --seconds, or from "
                    "--recording FILE; with --config it is stored as [gates.GATE.screening.reference] in that "
                    "controller.toml. The reference then corrects drift relative to that reading "
                    "(docs/installation.md, \"The reference source\"). "
                    "`thermogate calibrate lens GATE`: measure the lens's blur and wings from the heated disc "
                    "stood close in front of the gate, then taken away (docs/installation.md, \"Measuring the "
                    "lens\"), and, given the disc's set point, the sensor's own offset: live over MQTT (--config, "
                    "the installer prompted to stand the disc and to take it away, --seconds each) or from "
                    "--recording WITH_DISC --recording WITHOUT_DISC; with --config the [gates.GATE.screening] keys "
                    "that take them out are stored in that controller.toml, else printed. "
                    "`thermogate calibrate flat GATE`: measure the sensor's fixed per-pixel offsets from the heated "
                    "disc held flat against the sensor's window, filling its view (docs/installation.md, "
                    "\"Measuring the sensor's pixels\"): live over MQTT (--config, the installer prompted, --seconds) "
                    "or from --recording FILE; with --config [gates.GATE.screening] pixel_offsets_c is stored in "
                    "that controller.toml, else printed; do it before measuring the lens and learning the "
                    "reference.")
    calibrate.add_argument("what", nargs="+", metavar="GATE",
                           help="the gate; `reference GATE` learns that gate's reference source, `lens GATE` "
                                "measures its lens, `flat GATE` its sensor's pixel offsets")
    calibrate.add_argument("--config", metavar="C", help="controller.toml (its broker, store and [screening])")
    calibrate.add_argument("--recording", metavar="FILE", action="append",
                           help="offline: a recording (repeat for several); for a reference, the empty scene; for "
                                "a lens, two: with the disc near the gate, then without it; for a flat field, the "
                                "disc held against the window")
    calibrate.add_argument("--readings", metavar="CSV", help="the nurse's readings (columns time, clinical_c)")
    calibrate.add_argument("--match-s", type=float, default=20.0,
                           help="a reading pairs with a decision at most this far in time (default 20 s)")
    calibrate.add_argument("--tz", metavar="ZONE", help="offline: the time zone of the sheet's times (default: "
                                                       "this machine's)")
    calibrate.add_argument("--no-store", action="store_true", help="print the fit, store nothing")
    calibrate.add_argument("--store-anyway", action="store_true",
                           help="store the fit even when it fails the installation's checks (docs/installation.md); "
                                "without it such a fit is not stored and the command exits 1")
    calibrate.add_argument("--seconds", type=float, default=None,
                           help=f"reference, lens and flat, live: how long to follow the gate (default "
                                f"{LIVE_SECONDS:g} s; a lens: with the disc and again without it; a flat field "
                                f"{FLAT_SECONDS:g} s)")
    calibrate.add_argument("--set-point", type=float, default=None, metavar="C",
                           help="lens: the disc's set point, degC (default: the gate's [screening.reference] temp_c "
                                "in --config); with it the sensor's own offset is read too")
    calibrate.add_argument("--emissivity", type=float, default=None, metavar="E",
                           help="lens: the disc coating's emissivity (default: the gate's [screening.reference] "
                                "emissivity in --config, else 1.0)")
    calibrate.add_argument("--variant", choices=Lens.choices(), default=None,
                           help="reference, lens and flat: the lens, when neither the site registry nor the recording "
                                "says")
    from ..mqtt.options import add_broker_options

    add_broker_options(calibrate)
    calibrate.set_defaults(broker=None)  # None: controller.toml's broker
    calibrate.add_argument("--controller-login", action="store_true",
                           help="reference, lens and flat, live: use controller.toml's broker user (disconnects a "
                                "running controller on a broker made by `thermogate broker config`)")
    calibrate.set_defaults(run=_calibrate)
