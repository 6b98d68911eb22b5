"""``thermogate watch GATE``: the command, its settings and its loop.

- :func:`settings_from_args` -- the broker and the gate's screening settings from the command line
- :func:`gate_key_from_args` -- the gate's key, from the site of ``--config``
- :func:`run` -- connect, then draw until Ctrl-C, ``--frames`` or ``--once``
- :func:`add_commands` -- ``watch`` on the main parser
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import queue
import signal
import sys
import threading
import time
from typing import TextIO, cast

from ..geometry import Lens
from ..mqtt.link import DEFAULT_PORT, Broker, LinkError
from ..mqtt.options import add_broker_options, parse_broker_arg, password_from_args
from ..protocol.topics import valid_gate_id
from ..screening.analysis import AnalysisConfig
from ..screening.config import ScreeningConfig
from .link import Link
from .render import NO_COLOR, PALETTE_256, TRUECOLOR, Terminal, color_mode, render_view
from .state import GateWatch

MAX_FPS = 8.0  # redraws per second at most


def _parse_range(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        lo, hi = (float(v) for v in text.split(":"))
    except ValueError:
        raise ValueError(f"--range {text!r}: expected LOW:HIGH in degC, e.g. 20:38") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"--range {text!r}: LOW must be below HIGH")
    return lo, hi


def settings_from_args(args: argparse.Namespace) -> tuple[Broker, ScreeningConfig, str]:
    """(broker, the gate's screening settings, where they came from) from the command line; ValueError
    (ConfigError included) for anything unusable."""
    gate = args.gate_id
    if not valid_gate_id(gate):
        raise ValueError(f"invalid gate id {gate!r}: use lowercase letters, digits and hyphens")
    config_user = ""
    tls_ca = ""
    if args.config:
        from ..service.config import load_config
        from ..site import gates as site_registry

        cfg = load_config(args.config, secrets=False)  # an installer need not be able to read the controller's
        variant = args.variant
        registry = site_registry.load_registry(cfg.site_dir)
        mounting = registry.gates[gate].screening if gate in registry.gates else {}
        if variant is None and gate in registry.gates:
            variant = registry.gates[gate].variant
        screening = cfg.screening_for(gate, variant, mounting)
        source = f"{args.config}"
        if args.broker is None:  # the password is read below, only if the controller's login is used
            host, port, user, password = cfg.mqtt.host, cfg.mqtt.port, cfg.mqtt.user, cfg.mqtt.password
            tls_ca = cfg.mqtt.tls_ca
            config_user = user
        else:
            b = parse_broker_arg(args.broker)
            host, port, user, password = b.host, b.port, b.username, b.password
    else:
        screening = ScreeningConfig(analysis=AnalysisConfig(variant=args.variant or Lens.NARROW))
        source = "defaults"
        b = parse_broker_arg(args.broker or f"localhost:{DEFAULT_PORT}")
        host, port, user, password = b.host, b.port, b.username, b.password
    user = args.username if args.username is not None else (user or None)
    if config_user and user == config_user and args.controller_login:
        from ..service.config import load_config

        password = load_config(args.config).mqtt.password  # the controller's own, for its own login only
    elif config_user and user != config_user:
        password = ""  # the controller's password is not this user's
    password = password_from_args(args, password or None)  # --password-file, $THERMOGATE_MQTT_PASSWORD, ...
    if config_user and user == config_user and not args.controller_login:
        raise ValueError(
            f"{args.config} logs in to the broker as {config_user!r}, the controller's user. A broker made by "
            f"`thermogate broker config` knows clients by their user name, so a second client logged in as "
            f"{config_user!r} disconnects the running controller (and they then knock each other off). Give "
            f"this watch a login of its own with --username and --password-file, or add --controller-login if the "
            f"controller is stopped")
    return Broker(host, port, user, password, tls_ca), screening, source


def gate_key_from_args(args: argparse.Namespace) -> tuple[bytes | None, str]:
    """(the gate's key K from the site of --config (registered or simulated gates), "") or (None, why not: no
    --config, a gate the site does not know, or a site this user cannot read)."""
    if not args.config:
        return None, "no key for this gate: give --config"
    from ..service.config import load_config
    from ..service.registry import load_gates

    try:
        gates = load_gates(load_config(args.config, secrets=False))
    except (ValueError, OSError) as exc:  # ConfigError, or a site this user may not read: go on, unchecked
        return None, f"the site's gate keys could not be read ({exc}); run as a user who may read them"
    info = gates.get(args.gate_id)
    if info is None:
        return None, f"{args.gate_id} is not a gate of the site of {args.config}"
    return info.key, ""


# Ctrl-C and SIGTERM only set this; the loop below sees it within STOP_POLL_S and leaves by its own exit
# path. (A KeyboardInterrupt raised at an arbitrary point of the main thread can land between a lock's
# acquire and its ``with`` block, e.g. inside queue.get: the queue's lock then stays held, paho's thread
# blocks for ever in inbox.put, and link.close() waits for that thread: the process never exits.)
_STOP = threading.Event()
STOP_POLL_S = 0.2
LINK_CLOSE_S = 3.0  # paho's network thread is a daemon: past this the process exits without it


def _interrupt(_signum, _frame) -> None:
    _STOP.set()


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """The ``watch`` command: connect, then draw the gate's view until Ctrl-C, ``--frames`` or ``--once``."""
    out = out or cast(TextIO, sys.stdout)  # sys.stdout is typed Any-or-TextIO
    if args.frames is not None and args.frames < 1:
        raise ValueError(f"--frames must be at least 1, not {args.frames}")
    fixed = _parse_range(args.range)
    broker, screening, source = settings_from_args(args)
    mode = color_mode(args.colors, out, os.environ)
    timeout = args.timeout
    if timeout is None and (args.once or args.frames is not None):
        timeout = 30.0
    # The worker logs refused messages; here they are counted on screen instead of printed over the view.
    logging.getLogger("thermogate").addHandler(logging.NullHandler())
    logging.getLogger("thermogate").propagate = False
    key, why = gate_key_from_args(args)
    if key is None:  # shown in the title: what is drawn may come from anyone who can publish on the topics
        source = f"{source}; tags NOT checked ({why})"
    state = GateWatch(args.gate_id, screening, str(broker), source, key=key)
    state.fixed_range = fixed
    inbox: queue.Queue[tuple[str, bytes, float]] = queue.Queue()
    link = Link(broker, args.gate_id, inbox)
    try:
        link.connect()
    except LinkError as exc:
        print(f"thermogate watch: {exc}", file=sys.stderr)
        return 1
    isatty = getattr(out, "isatty", lambda: False)()
    term = Terminal(out, live=isatty and not args.once)
    _STOP.clear()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    started = time.monotonic()
    last_draw = -math.inf
    dirty = True
    code = 0
    try:
        while not _STOP.is_set():
            now = time.monotonic()
            wait = min(STOP_POLL_S, max(0.0, last_draw + 1.0 / MAX_FPS - now) if dirty else 1.0)
            try:
                kind, payload, at = inbox.get(timeout=wait)
            except queue.Empty:
                pass
            else:
                dirty |= state.on_message(kind, payload, at)
                while args.frames is None or state.frames < args.frames:
                    try:
                        kind, payload, at = inbox.get_nowait()
                    except queue.Empty:
                        break
                    dirty |= state.on_message(kind, payload, at)
            now = time.monotonic()
            done = (args.once and state.has_image) or (args.frames is not None and state.frames >= args.frames)
            if done:
                term.draw(render_view(state.view(connected=link.connected, reconnects=link.reconnects,
                                                 result_readable=link.result_readable), mode))
                break
            if timeout is not None and now - started > timeout:
                what = "no image" if not state.has_image else f"{state.frames} frames"
                print(f"thermogate watch: {what} from gate {args.gate_id} on {broker} within {timeout:g} s "
                      f"(is the gate on, and publishing to this broker?)", file=sys.stderr)
                code = 1
                break
            due = now - last_draw >= 1.0 / MAX_FPS
            if due and (dirty or (term.live and now - last_draw >= 1.0)) and not args.once:
                if term.live or state.has_image:
                    term.draw(render_view(state.view(connected=link.connected, reconnects=link.reconnects,
                                                     result_readable=link.result_readable), mode))
                last_draw, dirty = now, False
    except KeyboardInterrupt:  # Ctrl-C where no handler of ours is installed (run() outside the main thread)
        code = 0
    finally:
        term.close()
        link.close(LINK_CLOSE_S)
        if previous is not None:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    return code


def add_commands(commands) -> argparse.ArgumentParser:
    """Add ``watch`` to the subparsers ``commands`` of the main parser."""
    p = commands.add_parser(
        "watch", help="live terminal view of one gate's thermal image and screening, to aim its sensor",
        description="Connect to the broker, follow one gate's EEPROM, frames, status and results, run the frames "
                    "through the controller's screening pipeline, and draw the image in colour blocks with the "
                    "face box, face width, distance (with come-closer/step-back hints), reference source, "
                    "tracker state, latest decision and the gate's status, redrawn in place up to 8 times a "
                    "second. Ctrl-C quits. See docs/installation.md (\"Aiming the sensor\").")
    p.add_argument("gate_id", metavar="GATE", help="the gate id, e.g. north-1")
    add_broker_options(p)
    p.set_defaults(broker=None)  # None: from --config, else localhost:1883
    p.add_argument("--config", metavar="TOML",
                   help="controller.toml: its broker (unless --broker is given) and this gate's screening settings")
    p.add_argument("--controller-login", action="store_true",
                   help="use controller.toml's broker user even though that disconnects a running controller "
                        "on a broker that knows clients by user name (for when the controller is stopped)")
    p.add_argument("--variant", choices=Lens.choices(), default=None,
                   help="lens variant (default: the gate's in the site registry with --config, else 55)")
    colors = p.add_mutually_exclusive_group()
    colors.add_argument("--colors", choices=("auto", TRUECOLOR, PALETTE_256, NO_COLOR), default="auto",
                        help="colour escapes: auto (a terminal gets 256 colours, or truecolor if COLORTERM says so; "
                             "a pipe gets none), truecolor, 256, none")
    colors.add_argument("--no-color", dest="colors", action="store_const", const=NO_COLOR,
                        help="ASCII shading characters, no escapes (same as --colors none)")
    p.add_argument("--range", metavar="LOW:HIGH", help="fixed colour range in degC (default: each image's own)")
    p.add_argument("--once", action="store_true", help="print one view, once the first full image is in, and exit")
    p.add_argument("--frames", metavar="N", type=int, help="exit after N frames (subpages) from the gate")
    p.add_argument("--timeout", metavar="S", type=float, default=None,
                   help="give up (status 1) if --once or --frames has not finished in S seconds (default 30)")
    p.set_defaults(run=run)
    return p
