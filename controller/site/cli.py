"""The installer's subcommands of ``thermogate``: ``site``, ``gate`` and ``flash``.

``add_commands`` adds them to the main parser (controller/cli.py).
Secrets are never printed: commands say where they were written instead.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import timezone
from pathlib import Path
from typing import Any

from . import gates, mounting_check
from .flash import DEFAULT_BAUD, DEFAULT_FIRMWARE_DIR, MICROPYTHON_VERSION, config_json, flash
from .gate_settings import BY_KEY, SETTINGS, describe

_SETTING_PREFIX = "setting_"


def _add_site_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--site", metavar="DIR", default=None,
                        help=f"site directory (default: ${gates.SITE_ENV} or ./{gates.DEFAULT_SITE})")


def _add_setting_options(parser: argparse.ArgumentParser, title: str, board_only: bool = False) -> None:
    group = parser.add_argument_group(title)
    for s in SETTINGS:
        if board_only and not s.on_board:
            continue
        if s.kind == "bool":
            group.add_argument("--relay-active-low", dest=_SETTING_PREFIX + s.key, action="store_const",
                               const=False, default=argparse.SUPPRESS,
                               help="the relay unlocks the door when its pin is driven low")
            group.add_argument("--relay-active-high", dest=_SETTING_PREFIX + s.key, action="store_const",
                               const=True, default=argparse.SUPPRESS,
                               help="the relay unlocks the door when its pin is driven high (default)")
            continue
        unit = "M" if s.key.endswith("_m") else "DEG" if s.key.endswith("_deg") else "N"
        metavar = "GPIO" if s.is_pin else ("HZ" if s.kind == "rate" else unit)
        if s.kind == "reader":
            metavar = "uart=N,rx=N,tx=N"
        default = "" if s.default is None and not s.is_pin else \
            f" (default {'none' if s.default is None else s.default})"
        where = "" if s.on_board else "; used by the controller's screening, not sent to the board"
        group.add_argument(s.option, dest=_SETTING_PREFIX + s.key, metavar=metavar, default=argparse.SUPPRESS,
                           help=f"{s.help}{default}{where}")


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    return {k[len(_SETTING_PREFIX):]: v for k, v in vars(args).items() if k.startswith(_SETTING_PREFIX)}


def _warn(warnings: list[str]) -> None:
    """Risky but accepted settings (docs/installation.md, "The door lock and relay", "The sensor"), on stderr."""
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)


def _add_force_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--force", action="store_true",
                        help="accept a relay on a pin that glitches or is strapped at boot (GPIO 0, 1, 2, 3, 5, 12, "
                             "14, 15), which can pulse the door open on every reset; a warning is printed")


def _note_one_off(args: argparse.Namespace) -> None:
    if _settings(args):
        print(f"note: these settings apply to this config only; `thermogate gate set {args.gate_id} ...` "
              "stores them for the gate", file=sys.stderr)


# ---------------------------------------------------------------- site


def _site_set(args: argparse.Namespace) -> int:
    password = args.wifi_password
    if args.ask_wifi_password:
        password = getpass.getpass("Wi-Fi password (empty for an open network): ")
    port = None
    if args.broker_port is not None:
        try:
            port = int(args.broker_port)
        except ValueError:
            raise gates.GateError(f"the broker port must be an integer 1..65535, not {args.broker_port!r}") from None
    if args.wifi_ssid is None and password is None and args.broker_host is None and port is None:
        raise gates.GateError("nothing to set: give --wifi-ssid, --wifi-password (or --ask-wifi-password), "
                              "--broker-host and/or --broker-port")
    registry = gates.set_site(args.site, wifi_ssid=args.wifi_ssid, wifi_password=password,
                              broker_host=args.broker_host, broker_port=port)
    print(f"site settings saved in {registry.gates_file}")
    if password is not None:
        print(f"Wi-Fi password saved in {registry.secrets_file} (mode 0600; never commit it)")
    return 0


def _site_show(args: argparse.Namespace) -> int:
    registry = gates.load_registry(args.site)
    secrets = gates.load_secrets(args.site)
    s = registry.settings
    if secrets.wifi_password is None:
        password = "not set (thermogate site set --wifi-password ...)"
    elif secrets.wifi_password == "":
        password = "empty (open network)"
    else:
        password = f"set (in {registry.secrets_file})"
    broker = (f"{s.broker_host}:{s.broker_port or gates.DEFAULT_BROKER_PORT}" if s.broker_host
              else "not set (thermogate site set --broker-host ...)")
    print(f"site directory {registry.site} ({gates.GATES_FILE}, {gates.SECRETS_FILE})")
    print(f"  Wi-Fi SSID:      {s.wifi_ssid or 'not set (thermogate site set --wifi-ssid ...)'}")
    print(f"  Wi-Fi password:  {password}")
    print(f"  MQTT broker:     {broker}")
    print(f"  gates:           {len(registry.gates)}")
    return 0


# ---------------------------------------------------------------- gate


def _gate_add(args: argparse.Namespace) -> int:
    gate, existed = gates.add_gate(args.site, args.gate_id, name=args.name, location=args.location,
                                   variant=args.variant, settings=_settings(args),
                                   rotate_secrets=args.rotate_secrets, force=args.force)
    registry_site = gates.resolve_site(args.site)
    if existed:
        print(f"gate {gate.id}: new secrets generated")
    else:
        print(f"gate {gate.id} added to {registry_site / gates.GATES_FILE} (sensor variant {gate.variant} degrees)")
    print(f"its HMAC key and MQTT password (user {gate.mqtt_user}) are in "
          f"{registry_site / gates.SECRETS_FILE} (mode 0600; never commit it)")
    if existed:
        print(f"reflash the board (thermogate flash {gate.id} --port PORT) and give the broker the new "
              f"password of {gate.mqtt_user}: until then the gate cannot connect")
    print(mounting_check.summary(gates.mounting_view_of(gate)))
    _warn(gates.gate_warnings(gate))
    return 0


def _gate_set(args: argparse.Namespace) -> int:
    changed = list(_settings(args)) + list(args.unset or ())
    gate = gates.update_gate(args.site, args.gate_id, name=args.name, location=args.location,
                             variant=args.variant, settings=_settings(args), unset=args.unset or (),
                             force=args.force)
    print(f"gate {gate.id} updated; stored settings: {_describe_settings(gate) or 'none (all defaults)'}")
    print(mounting_check.summary(gates.mounting_view_of(gate)))
    _warn(gates.gate_warnings(gate))
    if any(k in BY_KEY and BY_KEY[k].on_board for k in changed):
        print(f"reflash the board for the change to take effect (thermogate flash {gate.id} --port PORT)")
    if args.variant is not None or any(k in BY_KEY and not BY_KEY[k].on_board for k in changed):
        print("restart the controller for its screening to use the new lens or mounting")
    return 0


def _describe_settings(gate: gates.Gate) -> str:
    return ", ".join(f"{k}={describe(v)}" for k, v in gate.settings.items())


def _gate_list(args: argparse.Namespace) -> int:
    registry = gates.load_registry(args.site)
    if not registry.gates:
        print(f"no gates in {registry.gates_file}; add one with `thermogate gate add ID`")
        return 0
    secrets = gates.load_secrets(args.site)
    rows = [("ID", "VARIANT", "CREATED (UTC)", "SECRETS", "NAME", "LOCATION", "SETTINGS")]
    for gate_id in sorted(registry.gates):
        g = registry.gates[gate_id]
        created = g.created.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M")
        rows.append((g.id, g.variant, created, "ok" if gate_id in secrets.gates else "MISSING",
                     g.name or "-", g.location or "-", _describe_settings(g) or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _gate_remove(args: argparse.Namespace) -> int:
    gate = gates.remove_gate(args.site, args.gate_id)
    print(f"gate {gate.id} and its secrets removed; also remove the broker user {gate.mqtt_user}")
    return 0


def _gate_config(args: argparse.Namespace) -> int:
    config = gates.gate_config(args.site, args.gate_id, force=args.force, **_settings(args))
    _note_one_off(args)
    _warn(gates.config_warnings(config))
    text = config_json(config)
    if args.output in (None, "-"):
        sys.stdout.write(text)
    else:
        gates.atomic_write(Path(args.output), text, 0o600)
        print(f"wrote {args.output} (mode 0600: it holds the gate's secrets)", file=sys.stderr)
    return 0


# ---------------------------------------------------------------- flash


def _flash(args: argparse.Namespace) -> int:
    config = gates.gate_config(args.site, args.gate_id, force=args.force, **_settings(args))
    _note_one_off(args)
    _warn(gates.config_warnings(config))
    flash(config, args.port, firmware_dir=Path(args.firmware_dir),
          build_dir=Path(args.build_dir) if args.build_dir else None,
          dry_run=args.dry_run, tail=not args.no_tail, baud=args.baud)
    return 0


def add_commands(commands: Any) -> None:
    """Add ``site``, ``gate`` and ``flash`` to the subparsers ``commands`` of the main parser."""
    site = commands.add_parser("site", help="site-wide settings: Wi-Fi and MQTT broker")
    site_commands = site.add_subparsers(dest="site_command", metavar="SUBCOMMAND")
    site_set = site_commands.add_parser("set", help="set the site's Wi-Fi and broker (only the options given)")
    site_set.add_argument("--wifi-ssid", metavar="NAME", help="the Wi-Fi network the gates join")
    site_set.add_argument("--wifi-password", metavar="PASSWORD",
                          help="its password, stored in secrets.toml ('' for an open network)")
    site_set.add_argument("--ask-wifi-password", action="store_true",
                          help="prompt for the Wi-Fi password instead (keeps it out of shell history)")
    site_set.add_argument("--broker-host", metavar="HOST", help="MQTT broker host name or IP address")
    site_set.add_argument("--broker-port", metavar="PORT",
                          help=f"MQTT broker port (default {gates.DEFAULT_BROKER_PORT})")
    _add_site_option(site_set)
    site_set.set_defaults(run=_site_set)
    site_show = site_commands.add_parser("show", help="show the site settings (never the secrets)")
    _add_site_option(site_show)
    site_show.set_defaults(run=_site_show)

    gate = commands.add_parser("gate", help="the site's gates: add, list, settings, config.json")
    gate_commands = gate.add_subparsers(dest="gate_command", metavar="SUBCOMMAND")
    add = gate_commands.add_parser("add", help="register a gate and generate its secrets")
    add.add_argument("gate_id", metavar="ID", help="gate id: lowercase letters, digits, hyphens (e.g. north-1)")
    add.add_argument("--name", help="a description, e.g. 'Main entrance, left lane'")
    add.add_argument("--location", help="where it is, e.g. 'Building A'")
    add.add_argument("--variant", choices=gates.VARIANTS, default=None,
                     help=f"MLX90640 field of view in degrees (default {gates.DEFAULT_VARIANT} for a new gate)")
    add.add_argument("--rotate-secrets", action="store_true",
                     help="the gate exists: generate a new HMAC key and MQTT password for it")
    _add_force_option(add)
    _add_setting_options(add, "gate settings (stored in gates.toml)")
    _add_site_option(add)
    add.set_defaults(run=_gate_add)

    gset = gate_commands.add_parser(
        "set", help="change a gate's description or stored settings",
        description="Change a registered gate's name, location, lens or stored settings in gates.toml; only "
                    "the options given change. Its secrets stay as they are. A setting the board reads "
                    "(pins, credential readers, door, Wi-Fi timing) reaches the gate with the next "
                    "`thermogate flash`; the controller reads the name, lens and mounting at its next start.")
    gset.add_argument("gate_id", metavar="ID", help="the gate's id, as given to `thermogate gate add`")
    gset.add_argument("--name", help="a description shown on the console, e.g. 'Main entrance, left lane'")
    gset.add_argument("--location", help="where it is, e.g. 'Building A'")
    gset.add_argument("--variant", choices=gates.VARIANTS, default=None,
                      help="MLX90640 field of view in degrees (the lens of the sensor fitted)")
    _add_force_option(gset)
    gset.add_argument("--unset", metavar="KEY", action="append",
                      help="forget a stored setting (back to the default), or the name or location; repeatable")
    _add_setting_options(gset, "gate settings (stored in gates.toml)")
    _add_site_option(gset)
    gset.set_defaults(run=_gate_set)

    glist = gate_commands.add_parser("list", help="list the gates")
    _add_site_option(glist)
    glist.set_defaults(run=_gate_list)

    remove = gate_commands.add_parser("remove", help="forget a gate and its secrets")
    remove.add_argument("gate_id", metavar="ID")
    _add_site_option(remove)
    remove.set_defaults(run=_gate_remove)

    config = gate_commands.add_parser("config", help="write a gate's config.json (it holds secrets)")
    config.add_argument("gate_id", metavar="ID")
    config.add_argument("-o", "--output", metavar="FILE",
                        help="write to FILE with mode 0600 (default: standard output)")
    _add_force_option(config)
    _add_setting_options(config, "setting overrides (for this config only)", board_only=True)
    _add_site_option(config)
    config.set_defaults(run=_gate_config)

    fl = commands.add_parser(
        "flash", help="put the firmware and config.json on a gate's ESP32",
        description=f"Check mpy-cross is MicroPython {MICROPYTHON_VERSION}, compile firmware/*.py (except "
                    "boot.py and main.py) into the build directory, write config.json there, then with mpremote: "
                    "restart the board in maintenance mode (no app, no watchdog), copy it all to the board, "
                    "remove every other file in the board's root, leave maintenance mode, reset the board and "
                    "show its serial log until Ctrl-C. "
                    "The board must already run MicroPython (see the README).")
    fl.add_argument("gate_id", metavar="ID")
    fl.add_argument("--port", default=None,
                    help="the board's serial port, e.g. /dev/ttyUSB0 (not needed with --dry-run)")
    fl.add_argument("--dry-run", action="store_true",
                    help="still build locally (check mpy-cross, compile, write config.json in the build "
                         "directory) but only print the mpremote commands: nothing is written to the board")
    fl.add_argument("--no-tail", action="store_true", help="do not show the serial log after the reset")
    _add_force_option(fl)
    fl.add_argument("--baud", type=int, default=DEFAULT_BAUD, help=f"serial log speed (default {DEFAULT_BAUD})")
    fl.add_argument("--firmware-dir", metavar="DIR", default=str(DEFAULT_FIRMWARE_DIR),
                    help="firmware sources (default: the checkout's firmware/)")
    fl.add_argument("--build-dir", metavar="DIR", default=None, help="build directory (default build/firmware/ID)")
    _add_setting_options(fl, "setting overrides (for this flash only)", board_only=True)
    _add_site_option(fl)
    fl.set_defaults(run=_flash)
