"""The calibration's live captures from a running gate, over MQTT (``thermogate calibrate GATE``).

- ``pairs_interactive``: follows the gate's ``result`` topic and asks for the clinical reading of each person
  the gate decides on (Enter skips one, ``done`` ends);
- ``reference_images_live``: the gate's full images over a few seconds, through the watch's gate worker (the
  frames checked as the controller checks them);
- ``lens_images_live``: the two captures of the lens measurement, the installer prompted to stand the heated
  disc near the gate and then to take it away;
- ``flat_images_live``: the flat field's capture, the installer prompted to hold the disc against the window.

They live beside the calibrate command, above the service, because they use the watch; the offline parts
(the sheet, the fit, the store, the config file) are in ``controller/service/calibration.py``.
"""

from __future__ import annotations

import json
import math
import queue
import sys
import time

from ..service.calibration import DECIDED, GateImages


def pairs_interactive(broker, gate_id: str, ask=input, out=sys.stdout, wait_s: float = 600.0):
    """(estimate, clinical) pairs typed in as the gate decides on each person."""
    from ..mqtt.link import close, connect

    results: queue.Queue = queue.Queue()

    def on_message(_c, _u, message):
        try:
            results.put(json.loads(message.payload))
        except ValueError:
            pass

    client = connect(broker, f"calibrate-{gate_id}-{time.monotonic_ns() % 10**6}", on_message=on_message,
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
            try:
                answer = ask(f"person {r.get('track')}: gate estimate {r['estimate_c']:.2f} degC; clinical reading? ")
            except EOFError:  # the input closed: as 'done'
                break
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



def reference_images_live(broker, gate_id: str, screening, seconds: float, key: bytes | None = None,
                          timeout_s: float = 30.0, skip_s: float = 0.0) -> GateImages:
    """The gate's full images over ``seconds`` (after its first image, and ``skip_s`` more), live over MQTT,
    through the controller's own gate worker (the frames checked as the controller checks them), with the gate's
    frame scale and its sensor's noise as its pipeline measured them."""
    from ..mqtt.link import LinkError
    from ..watch import GateWatch, Link

    inbox: queue.Queue = queue.Queue()
    watch = GateWatch(gate_id, screening, str(broker), key=key)
    link = Link(broker, gate_id, inbox)
    link.connect()
    images: list = []
    started = time.monotonic()
    first: float | None = None
    try:
        while True:
            now = time.monotonic()
            if first is None and now - started > timeout_s:
                raise LinkError(f"no image from gate {gate_id} on {broker} within {timeout_s:g} s "
                                f"(is the gate on, and publishing to this broker?)")
            if first is not None and now - first >= skip_s + seconds:
                pipeline = watch.worker.pipeline
                if pipeline is None:
                    return GateImages(images, 1.0, math.nan)
                return GateImages(images, pipeline.tracker.rate.scale, pipeline.noise_c)
            try:
                kind, payload, at = inbox.get(timeout=0.2)
            except queue.Empty:
                continue
            if watch.on_message(kind, payload, at) and kind == "frame":
                pipeline = watch.worker.pipeline
                assert pipeline is not None  # a frame is accepted only into a pipeline
                first = at if first is None else first
                if at - first >= skip_s:
                    images.append(pipeline.image)
    finally:
        link.close()


SETTLE_S = 2.0  # the lens measurement: images left out after the installer says they are out of view


def prompted_captures(broker, gate_id: str, screening, seconds: float, steps: tuple[str, ...], key: bytes | None = None,
                      ask=None, out=None, what: str = "measurement") -> list[list]:
    """For each of ``steps`` (what the installer is to do), the prompt, the installer's Enter, then the gate's
    images for ``seconds``, from SETTLE_S after the Enter (their hand, the last frame read while it moved).
    ``ask(prompt)`` waits for the installer (the prompts go to ``out``, the command's output stays one JSON
    line; default: input() and stderr)."""
    ask = input if ask is None else ask
    out = sys.stderr if out is None else out
    captures = []
    for step in steps:
        print(step, file=out, flush=True)
        try:
            ask("")
        except EOFError:
            raise ValueError(f"the live {what} waits for the installer's Enter, and the input is closed: run it at "
                             f"a terminal, or measure from recordings (--recording)") from None
        print(f"recording {seconds:g} s ...", file=out, flush=True)
        captures.append(reference_images_live(broker, gate_id, screening, seconds, key, skip_s=SETTLE_S).images)
    return captures


def lens_images_live(broker, gate_id: str, screening, seconds: float, key: bytes | None = None, ask=None,
                     out=None) -> tuple[list, list]:
    """The lens measurement's two captures (docs/installation.md, "Measuring the lens"), live: the installer is
    asked to stand the heated disc near the gate, and the gate's images are taken for ``seconds``; then to take
    it away, and ``seconds`` more (:func:`prompted_captures`)."""
    steps = (f"Stand the heated disc in front of {gate_id}, in the middle of its view, as near as the guide's "
             f"table says (7-10 pixels across), nobody else in view; step out of view and press Enter.",
             f"Take the disc away, out of {gate_id}'s view, leaving the scene as it was; step out of view and press "
             f"Enter.")
    disc, empty = prompted_captures(broker, gate_id, screening, seconds, steps, key, ask, out, "lens measurement")
    return disc, empty


def flat_images_live(broker, gate_id: str, screening, seconds: float, key: bytes | None = None, ask=None,
                     out=None) -> list:
    """The flat field's capture (docs/installation.md, "Measuring the sensor's pixels"), live: the installer is
    asked to hold the heated disc flat against the sensor's window, and the gate's images are taken for
    ``seconds`` (:func:`prompted_captures`); ``screening`` must take no pixel offsets off (the ones measured
    before, if any, would be measured again on top)."""
    steps = (f"Hold the heated disc (or a flat card at a steady temperature) flat against {gate_id}'s window, "
             f"covering it wholly, and keep it still until told; press Enter.",)
    images = prompted_captures(broker, gate_id, screening, seconds, steps, key, ask, out, "flat field")[0]
    print("done: take it away", file=sys.stderr if out is None else out, flush=True)
    return images
