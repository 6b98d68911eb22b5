"""The simulator's subcommands of ``thermogate``: ``record`` and the ``sim`` group.

- ``thermogate record GATE -o FILE --seconds N [--broker ...]`` -- record a
  live gate's traffic into a recording file (docs/recordings.md)
- ``thermogate sim replay FILE [--gate ID] [--speed X] [--loop] [--broker ...]``
  -- publish a recording as a gate would
- ``thermogate sim run --gates N --scenario NAME [--broker ...]`` -- run N
  virtual gates (the firmware's own code on virtual hardware)
- ``thermogate sim scenarios`` -- list the named scenarios

:func:`add_commands` adds both to ``thermogate``'s subparsers (the entry point
``sim`` of the group ``thermogate.commands``). :func:`add_sim_commands` returns
the ``sim`` subparsers so that more ``sim`` commands can be added next to
``replay``.
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from controller.geometry import Lens
from controller.mqtt.options import add_broker_options, broker_from_args


def _until_interrupted(work: Callable[[threading.Event], Any]) -> tuple[Any, bool]:
    """Run ``work(stop)`` in a thread; Ctrl-C sets ``stop``. (result, interrupted); work's errors re-raised."""
    stop, done = threading.Event(), threading.Event()
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["result"] = work(stop)
        except BaseException as exc:  # handed to the main thread
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=target, name="thermogate-sim", daemon=True).start()
    interrupted = False
    while not done.is_set():
        try:
            done.wait(0.2)
        except KeyboardInterrupt:
            interrupted = True
            stop.set()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"], interrupted


def _fail(message: str) -> int:
    print(f"thermogate: error: {message}", file=sys.stderr)
    return 1


def _record(args: argparse.Namespace) -> int:
    from controller.mqtt.link import LinkError

    from .recorder import RecordError, record

    broker = broker_from_args(args)
    if not args.seconds > 0:
        raise ValueError(f"--seconds must be positive, not {args.seconds}")
    print(f"recording gate {args.gate_id} from {broker} for {args.seconds:g} s (Ctrl-C stops early)",
          file=sys.stderr)
    try:
        recording, interrupted = _until_interrupted(lambda stop: record(
            broker.host, broker.port, args.gate_id, args.seconds, username=broker.username,
            password=broker.password, stop=stop))
    except (LinkError, RecordError) as exc:
        return _fail(str(exc))
    try:
        path = recording.save(args.output)
    except OSError as exc:
        return _fail(f"cannot write {args.output}: {exc.strerror or exc}")
    refused = sum(recording.meta.get("frames_refused", {}).values())
    print(f"{'stopped early: ' if interrupted else ''}{len(recording)} frames over {recording.duration:.2f} s, "
          f"{len(recording.status)} status messages"
          f"{f', {refused} malformed frames left out' if refused else ''} -> {path}")
    return 0


def _replay(args: argparse.Namespace) -> int:
    from controller.mqtt.link import LinkError
    from controller.recording import Recording

    from .replay import replay

    broker = broker_from_args(args)
    recording = Recording.load(args.file)
    gate = args.gate or recording.gate_id
    key = None  # the simulator's key of the gate id
    if args.site:
        from controller.site import gates as site_registry

        try:
            secret = site_registry.load_secrets(Path(args.site)).gates.get(gate)
        except site_registry.GateError as exc:
            return _fail(str(exc))
        if secret is None:
            return _fail(f"{args.site}: no secrets for gate {gate!r}")
        key = bytes.fromhex(secret.hmac_key)
    print(f"replaying {len(recording)} frames ({recording.duration:.2f} s) of gate {recording.gate_id} as "
          f"gate {gate} to {broker} at {args.speed:g}x{', looping' if args.loop else ''} (Ctrl-C stops)",
          file=sys.stderr)
    try:
        result, interrupted = _until_interrupted(lambda stop: replay(
            recording, broker.host, broker.port, gate_id=gate, key=key, speed=args.speed, loop=args.loop,
            username=broker.username, password=broker.password, stop=stop))
    except LinkError as exc:
        return _fail(str(exc))
    dropped = f", {result.frames_dropped} dropped (connection lost)" if result.frames_dropped else ""
    print(f"{'stopped: ' if interrupted else ''}{result.frames_sent} frames sent in {result.elapsed_s:.2f} s "
          f"({result.passes} complete pass{'es' if result.passes != 1 else ''}{dropped}), "
          f"at most {1000 * result.max_late_s:.1f} ms behind schedule")
    return 0 if result.frames_dropped == 0 else 1


def add_commands(commands: Any) -> None:
    """Add ``record`` and the ``sim`` group to the subparsers ``commands`` of the main parser."""
    add_record_command(commands)
    add_sim_commands(commands)


def add_record_command(commands: Any) -> argparse.ArgumentParser:
    """Add ``record`` to the subparsers ``commands`` of the main parser."""
    rec = commands.add_parser(
        "record", help="record a live gate's MQTT traffic into a recording file",
        description="Subscribe to thermogate/GATE/{eeprom,frame,status} and save what arrives, with receive "
                    "times, as a recording (docs/recordings.md): binary messages in the version-1 layout (header "
                    "and words as sent, the tag left out and not checked), status texts as received. The gate's "
                    "EEPROM message is retained on the broker, so it arrives first; without it the recording fails.")
    rec.add_argument("gate_id", metavar="GATE", help="the gate id, e.g. north-1")
    rec.add_argument("-o", "--output", metavar="FILE", required=True, help="the recording to write (.npz)")
    rec.add_argument("--seconds", metavar="N", type=float, required=True, help="how long to record")
    add_broker_options(rec)
    rec.set_defaults(run=_record)
    return rec


def add_sim_commands(commands: Any) -> Any:
    """Add the ``sim`` group to the subparsers ``commands``; return the group's own subparsers."""
    sim = commands.add_parser("sim", help="simulated gates: run them, replay recordings, list scenarios",
                              description="Simulated gates that publish like real ones.")
    sim_commands = sim.add_subparsers(dest="sim_command", metavar="SUBCOMMAND")
    rep = sim_commands.add_parser(
        "replay", help="publish a recording as its gate did",
        description="Publish the recording's EEPROM message (retained), an online status (retained), every "
                    "frame at its recorded time divided by --speed, then an offline status. Every message is "
                    "sealed as protocol version 2 under the key of the gate it is published as: the simulator's "
                    "key of that gate id, or the site's key with --site.")
    rep.add_argument("file", metavar="FILE", help="a recording (docs/recordings.md)")
    rep.add_argument("--gate", metavar="ID", default=None, help="publish as this gate (default: the recording's)")
    rep.add_argument("--speed", metavar="X", type=float, default=1.0,
                     help="time factor: 2 plays twice as fast (default 1)")
    rep.add_argument("--site", metavar="DIR", default=None,
                     help="seal under this site's key of the gate (site/secrets.toml), not the simulator's")
    rep.add_argument("--loop", action="store_true",
                     help="start again after the last frame, until Ctrl-C (same bytes, so same sequence numbers)")
    add_broker_options(rep)
    rep.set_defaults(run=_replay)

    from .scenarios import SCENARIOS

    run = sim_commands.add_parser(
        "run", help="run virtual gates on a broker",
        description="Run N virtual gates: the gate firmware's own code on a virtual MLX90640, relay and Wi-Fi, "
                    "publishing to the broker as boards would, until --seconds pass or Ctrl-C. Gate ids are "
                    "<prefix>-1 .. <prefix>-N; each gate's scenario is seeded with --seed + its index.")
    run.add_argument("--gates", type=int, default=1, metavar="N", help="how many gates (default 1)")
    run.add_argument("--scenario", choices=SCENARIOS, default="normal_queue", help="what the gates see")
    run.add_argument("--seconds", type=float, default=None, help="stop after this long (default: until Ctrl-C)")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--variant", choices=Lens.choices(), default=Lens.NARROW.value,
                     help="field of view of the sensors")
    run.add_argument("--refresh-hz", type=float, default=8.0, help="subpages per second (default 8)")
    run.add_argument("--prefix", default="sim", help="gate id prefix (default sim)")
    add_broker_options(run)
    run.set_defaults(run=_run_gates)

    listing = sim_commands.add_parser("scenarios", help="list the named scenarios")
    listing.set_defaults(run=_list_scenarios)
    return sim_commands


def _run_gates(args: argparse.Namespace) -> int:
    from .runner import make_gates, run
    from .scenarios import scenario

    if not 1 <= args.gates <= 1000:
        return _fail("--gates must be 1..1000")
    broker = broker_from_args(args)
    try:
        gates = make_gates(args.gates, lambda i: scenario(args.scenario, args.seed + i, variant=args.variant,
                                                          refresh_hz=args.refresh_hz),
                           broker.host, broker.port, prefix=args.prefix, seed=args.seed,
                           user=broker.username or "", password=broker.password or "")
    except ValueError as exc:
        return _fail(str(exc))
    ids = f"{gates[0].gate_id} .. {gates[-1].gate_id}" if len(gates) > 1 else gates[0].gate_id
    print(f"{len(gates)} virtual gate(s) {ids}, scenario {args.scenario}, broker {broker.host}:{broker.port}")
    try:
        stats = run(gates, seconds=args.seconds, report=lambda s: print(s.line(), flush=True))
    except KeyboardInterrupt:
        stats = None
    finally:
        for g in gates:
            g.close()
    if stats is not None:
        print(stats.line())
    connected = sum(1 for g in gates if g.gate.link.connects)
    if connected < len(gates):
        return _fail(f"{len(gates) - connected} gate(s) never connected to {broker.host}:{broker.port}")
    return 0


def _list_scenarios(args: argparse.Namespace) -> int:
    from .scenarios import DESCRIPTIONS, SCENARIOS, scenario

    for name in SCENARIOS:
        print(f"{name:15s} {scenario(name).duration_s:6.1f} s  {DESCRIPTIONS[name]}")
    return 0
