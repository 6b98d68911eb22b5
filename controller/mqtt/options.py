"""The broker options of every command that talks to a broker, and the :class:`Broker` they give.

- :func:`add_broker_options` -- ``--broker``, ``--username``, ``--password-file`` (and the
  deprecated ``--password``)
- :func:`password_from_args` -- the password: the file, ``$THERMOGATE_MQTT_PASSWORD``, the
  deprecated option, or a fallback
- :func:`broker_from_args` -- the :class:`Broker` of those options
"""

from __future__ import annotations

import argparse
import os
import sys

from .link import DEFAULT_PORT, Broker, parse_broker

DEFAULT_BROKER = f"localhost:{DEFAULT_PORT}"
PASSWORD_ENV = "THERMOGATE_MQTT_PASSWORD"
def add_broker_options(parser: argparse.ArgumentParser) -> None:
    """``--broker``, ``--username`` and the password options, for every command that talks to a broker."""
    parser.add_argument("--broker", metavar="HOST[:PORT]|URL", default=DEFAULT_BROKER,
                        help=f"MQTT broker: HOST, HOST:PORT or mqtt://[USER@]HOST[:PORT] (default {DEFAULT_BROKER})")
    parser.add_argument("--username", metavar="USER", default=None, help="MQTT user name")
    parser.add_argument("--password-file", metavar="FILE", default=None,
                        help=f"read the MQTT password from the first line of FILE (or set {PASSWORD_ENV})")
    parser.add_argument("--password", metavar="PASSWORD", default=None,
                        help=f"deprecated: a password on the command line is visible to every user of this "
                             f"machine (ps) and stays in the shell's history; use --password-file or "
                             f"{PASSWORD_ENV}")


def password_from_args(args: argparse.Namespace, fallback: str | None = None) -> str | None:
    """The MQTT password: --password-file, else $THERMOGATE_MQTT_PASSWORD, else the deprecated --password
    (with a warning), else ``fallback`` (a config file's, or a URL's). ValueError if the file is unusable."""
    path = getattr(args, "password_file", None)
    given = getattr(args, "password", None)
    if path is not None and given is not None:
        raise ValueError("give --password-file or --password, not both")
    if path is not None:
        try:
            with open(path, encoding="utf-8") as f:
                return f.readline().rstrip("\r\n")
        except OSError as exc:
            raise ValueError(f"--password-file {path}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise ValueError(f"--password-file {path}: not UTF-8 text") from None
    env = os.environ.get(PASSWORD_ENV)
    if given is not None:
        print(f"thermogate: warning: --password on the command line is visible to other users of this machine "
              f"and kept in the shell's history; use --password-file FILE or {PASSWORD_ENV} instead",
              file=sys.stderr)
        return given
    if env:
        return env
    return fallback


def parse_broker_arg(spec: str) -> Broker:
    """``--broker``'s broker (:func:`parse_broker`), warning of a password written in it."""
    b = parse_broker(spec)
    if b.password is not None:
        print("thermogate: warning: a password in the --broker URL is visible to other users of this machine; "
              f"use --password-file FILE or {PASSWORD_ENV} instead", file=sys.stderr)
    return b


def broker_from_args(args: argparse.Namespace) -> Broker:
    """The broker of ``--broker``, with ``--username`` and the password options taking precedence over the URL's."""
    b = parse_broker_arg(args.broker)
    return Broker(b.host, b.port, args.username if args.username is not None else b.username,
                  password_from_args(args, b.password))
