"""``thermogate broker config``: the site's mosquitto configuration, users and ACL
(controller/site/broker_config.py)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from . import broker_config as bc
from . import gates


def _broker_config(args: argparse.Namespace) -> int:
    tls_given = [v for v in (args.tls_cert, args.tls_key, args.tls_ca) if v]
    if tls_given and len(tls_given) != 3:
        raise gates.GateError("a TLS listener needs all three of --tls-cert, --tls-key and --tls-ca")
    tls = bc.TlsListener(args.tls_cert, args.tls_key, args.tls_ca, args.tls_port) if tls_given else None
    options = bc.BrokerOptions(port=args.port, bind=args.bind, tls=tls, controller_user=args.controller_user,
                               stall_s=args.stall_seconds, conf_dir=args.conf_dir,
                               rotate_controller_password=args.rotate_controller_password,
                               add_watchers=tuple(args.add_watch_user or ()),
                               remove_watchers=tuple(args.remove_watch_user or ()))
    site = gates.resolve_site(args.site)
    if not site.is_dir():  # a new, empty site would give a broker no gate can log in to, and a new password
        how = "--site" if args.site else f"${gates.SITE_ENV}" if os.environ.get(gates.SITE_ENV) else \
            f"the default (neither --site nor ${gates.SITE_ENV} is set)"
        raise gates.GateError(f"no site directory at {site} ({how}): give the site `thermogate gate add` wrote "
                              f"to, with --site DIR or ${gates.SITE_ENV}")
    files = bc.write_broker_config(args.site, args.output, options)
    print(f"wrote {files.conf}, {files.acl}")
    print(f"  and {files.passwd}, {files.controller_password} (mode 0600: they hold secrets)")
    shown = ", ".join(gates.mqtt_user(g) for g in files.gate_ids[:5]) + (", ..." if len(files.gate_ids) > 5 else "")
    print(f"  users: {files.controller_user} and {len(files.gate_ids)} gate(s){': ' + shown if shown else ''}")
    print(f"  queue per client: max_queued_messages {files.max_queued_messages}, "
          f"max_queued_bytes {files.max_queued_bytes} ({len(files.gate_ids)} gates x {bc.GATE_RATE_HZ}/s x "
          f"{options.stall_s:g} s, at least {bc.MIN_QUEUED_MESSAGES})")
    listeners = ([f"{options.bind}:{options.port} (plain)"] if options.port else []) + (
        [f"{options.bind}:{tls.port} (TLS)"] if tls else [])
    print(f"  listeners: {', '.join(listeners)}; anonymous clients refused")
    state = "new" if files.controller_password_new else "unchanged"
    for user in files.watch_users:
        print(f"  watch user {user} (reads every gate's eeprom, frame, status and result; publishes nothing): "
              f"its password is in {files.conf.parent / bc.watch_password_file(user)}")
    for user in args.remove_watch_user or ():
        print(f"  watch user {user} removed")
    if files.mosquitto_group:
        print(f"  {files.passwd.name} and {files.acl.name}: group {files.mosquitto_group}, mode 0640 (mosquitto "
              "started as root reads them after dropping to its own user)")
    else:
        print(f"  to run mosquitto as root on these files: sudo chgrp {bc.MOSQUITTO_USER} {files.conf.parent} "
              f"{files.passwd} {files.acl} && sudo chmod 0750 {files.conf.parent} && "
              f"sudo chmod 0640 {files.passwd} {files.acl}")
    print(f"controller password: {state}, kept in {site / gates.SECRETS_FILE}; install it for the controller:")
    print(f"  sudo install -D -m 0600 -o {bc.CONTROLLER_SERVICE_USER} -g {bc.CONTROLLER_SERVICE_USER} "
          f"{files.controller_password} {bc.CONTROLLER_PASSWORD_PATH}")
    print("  and in controller.toml [mqtt]:")
    print(f'  user = "{files.controller_user}"')
    print(f'  password_file = "{bc.CONTROLLER_PASSWORD_PATH}"')
    if args.rotate_controller_password:
        print("the old controller password no longer works once the broker reloads these files", file=sys.stderr)
    if not files.gate_ids:
        print("no gates registered yet: only the controller can connect "
              "(thermogate gate add ID, then run this again)", file=sys.stderr)
    print("install it on the broker machine and reload mosquitto: see docs/broker.md")
    return 0


def add_commands(commands: Any) -> None:
    """Add ``broker`` to the subparsers ``commands`` of the main parser."""
    broker = commands.add_parser("broker", help="the MQTT broker: configuration with users and access control")
    sub = broker.add_subparsers(dest="broker_command", metavar="SUBCOMMAND")
    cfg = sub.add_parser(
        "config", help="write mosquitto.conf, its password file and ACL for the site's gates",
        description="Write mosquitto.conf, passwd, acl and controller-password into DIR, from the site's gates "
                    "(each gate's user gate-<id> and its MQTT password in secrets.toml). A gate may publish "
                    "only under thermogate/<id>/ and read only its own cmd; anonymous clients are refused. "
                    "Run it again after adding or removing a gate; the watch logins (--add-watch-user) are "
                    "kept.")
    cfg.add_argument("-o", "--output", metavar="DIR", required=True, help="directory to write the files into")
    cfg.add_argument("--port", type=int, default=bc.DEFAULT_PORT,
                     help=f"plain MQTT listener port (default {bc.DEFAULT_PORT}; 0: none, TLS only)")
    cfg.add_argument("--bind", default=bc.DEFAULT_BIND, metavar="ADDRESS",
                     help=f"address the listeners bind to (default {bc.DEFAULT_BIND}: every interface)")
    cfg.add_argument("--tls-cert", metavar="FILE", help="TLS listener: the broker's certificate (path on the broker)")
    cfg.add_argument("--tls-key", metavar="FILE", help="TLS listener: its private key (path on the broker)")
    cfg.add_argument("--tls-ca", metavar="FILE", help="TLS listener: the CA certificate that signed it")
    cfg.add_argument("--tls-port", type=int, default=bc.DEFAULT_TLS_PORT,
                     help=f"TLS listener port (default {bc.DEFAULT_TLS_PORT})")
    cfg.add_argument("--controller-user", default=bc.DEFAULT_CONTROLLER_USER, metavar="USER",
                     help=f"the controller's broker user (default {bc.DEFAULT_CONTROLLER_USER})")
    cfg.add_argument("--rotate-controller-password", action="store_true",
                     help="generate a new controller password (else the one in secrets.toml is kept)")
    cfg.add_argument("--add-watch-user", action="append", metavar="USER",
                     help="a read-only login for `thermogate watch` and `calibrate reference`/`lens` (an installer's): "
                          "it reads every gate's eeprom, frame, status and result and publishes nothing; its "
                          "password is kept in secrets.toml and written to DIR/watch-USER-password, and it "
                          "stays on every later run until removed (repeatable)")
    cfg.add_argument("--remove-watch-user", action="append", metavar="USER",
                     help="remove a watch login (repeatable)")
    cfg.add_argument("--stall-seconds", type=float, default=bc.DEFAULT_STALL_S, metavar="S",
                     help="size the broker's queue so a controller may stop reading for S seconds without "
                          f"losing frames (default {bc.DEFAULT_STALL_S:g})")
    cfg.add_argument("--conf-dir", metavar="DIR",
                     help="where the files will be on the broker machine, e.g. /etc/mosquitto/thermogate "
                          "(default: the output directory)")
    cfg.add_argument("--site", metavar="DIR", default=None,
                     help=f"site directory (default ${gates.SITE_ENV} or ./{gates.DEFAULT_SITE})")
    cfg.set_defaults(run=_broker_config)
