"""The site's mosquitto configuration with access control (``thermogate broker config``).

From the gate registry (controller/site/gates.py: each gate's broker user
``gate-<id>`` and its password in ``secrets.toml``) this writes four files
into one directory:

- ``mosquitto.conf``: the listeners (plain MQTT for the gates, optionally a TLS
  listener), no anonymous clients, the password and ACL files, and queue
  limits sized for the controller's subscription;
- ``passwd`` (mode 0600): one line per user in mosquitto's PBKDF2-SHA512 format
  ``user:$7$iterations$salt$hash``, as ``mosquitto_passwd`` writes it;
- ``acl``: a gate may publish only on its own ``frame``, ``eeprom``, ``status``,
  ``ack`` and ``credential`` topics and read only its own ``cmd``; the controller
  reads every gate's ``frame``/``eeprom``/``status``/``ack``/``credential``, writes every gate's
  ``cmd``/``result``, and may use ``homeassistant/#`` for discovery;
- ``controller-password`` (mode 0600): the controller's broker password. It
  is installed at :data:`CONTROLLER_PASSWORD_PATH` (/etc/thermogate/,
  owned by the controller's user) and named by ``password_file`` there.

Run as root where mosquitto's user exists, the directory, ``passwd`` and
``acl`` are given to mosquitto's group (0750/0640): mosquitto started as root
drops to its own user before it opens them.

The controller's password is generated once and kept in the site's
secrets.toml (``[controller] mqtt_password``); later runs reuse it, so the
controller's configuration never has to change when gates are added. See
docs/broker.md for installing the files and for the TLS listener.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import os
import re
import secrets as _random
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..protocol.topics import TOPIC_ROOT
from . import gates
from .gates import GateError

DEFAULT_PORT = 1883
DEFAULT_TLS_PORT = 8883
DEFAULT_BIND = "0.0.0.0"
DEFAULT_CONTROLLER_USER = "controller"
CONF_FILE, PASSWD_FILE, ACL_FILE, CONTROLLER_PASSWORD_FILE = "mosquitto.conf", "passwd", "acl", "controller-password"
# The one place the controller reads its broker password from (controller.toml [mqtt] password_file), beside
# /etc/thermogate/controller.toml, owned by the user the controller runs as (docs/operations.md), mode 0600.
CONTROLLER_PASSWORD_PATH = "/etc/thermogate/controller-password"
CONTROLLER_SERVICE_USER = "thermogate"
# mosquitto started as root drops to this user before it opens the password and ACL files.
MOSQUITTO_USER = "mosquitto"

# mosquitto_passwd's own format. Every password here is a random 144-bit token, so the iteration count
# is not what protects it; 1000 keeps a broker restart with hundreds of gates reconnecting cheap.
PBKDF2_ITERATIONS = 1000
SALT_BYTES = 12  # as mosquitto_passwd
HASH_BYTES = 64  # SHA-512

# Queue sizing for the controller's subscription (docs/broker.md): a gate sends up to 8 subpages/s.
GATE_RATE_HZ = 8
DEFAULT_STALL_S = 5.0
MIN_QUEUED_MESSAGES = 1000  # mosquitto's own default
QUEUED_MESSAGE_BYTES = 2048  # a frame is 1692 bytes of payload; a round 2 KiB leaves room for topic and headers
MAX_PACKET_BYTES = 65536  # nothing we send is near this; a bigger packet is an attack, not a message

GATE_PUBLISHES = ("frame", "eeprom", "status", "ack", "credential")
GATE_READS = ("cmd",)
CONTROLLER_READS = ("frame", "eeprom", "status", "ack", "credential")
CONTROLLER_WRITES = ("cmd", "result")
HOME_ASSISTANT = "homeassistant/#"
# A watch login (`broker config --add-watch-user`): what `thermogate watch` and `calibrate reference`/`lens` read, from
# every gate, and nothing else; it publishes nothing. Its password goes to OUT/watch-<user>-password.
WATCH_READS = ("eeprom", "frame", "status", "result")

_USER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_HOST = re.compile(r"[A-Za-z0-9.:_-]+")


def _user_ok(name: str) -> bool:
    """Whether ``name`` may be a broker login of the controller or a watch: a user name mosquitto's files can
    hold, not in the gates' ``gate-`` namespace."""
    return bool(_USER.fullmatch(name)) and not name.startswith("gate-")


@dataclass(frozen=True)
class TlsListener:
    """A TLS listener: the broker's certificate and key, and the CA that signed it (paths on the broker)."""

    cert: str
    key: str
    ca: str
    port: int = DEFAULT_TLS_PORT


@dataclass(frozen=True)
class BrokerOptions:
    """What ``thermogate broker config`` is asked for."""

    port: int = DEFAULT_PORT  # 0: no plain listener (TLS only; the gates' firmware cannot use it yet)
    bind: str = DEFAULT_BIND
    tls: TlsListener | None = None
    controller_user: str = DEFAULT_CONTROLLER_USER
    stall_s: float = DEFAULT_STALL_S
    conf_dir: str | None = None  # where the files will live on the broker machine (default: the output dir)
    rotate_controller_password: bool = False
    add_watchers: tuple[str, ...] = ()  # read-only logins to add (kept in secrets.toml, written every time)
    remove_watchers: tuple[str, ...] = ()


@dataclass(frozen=True)
class BrokerFiles:
    """What :func:`write_broker_config` wrote."""

    conf: Path
    passwd: Path
    acl: Path
    controller_password: Path
    gate_ids: tuple[str, ...]
    controller_user: str
    controller_password_new: bool
    max_queued_messages: int
    max_queued_bytes: int
    mosquitto_group: str | None = None  # set when passwd and acl were given to mosquitto's group (run as root)
    watch_users: tuple[str, ...] = ()  # the read-only logins, each with OUT/watch-<user>-password


# ---------------------------------------------------------------- passwords


def password_entry(user: str, password: str, *, iterations: int = PBKDF2_ITERATIONS,
                   salt: bytes | None = None) -> str:
    """One password-file line, ``user:$7$iterations$salt$hash`` (PBKDF2-HMAC-SHA512, base64), no newline."""
    salt = _random.token_bytes(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations, HASH_BYTES)
    return (f"{user}:$7${iterations}${base64.b64encode(salt).decode()}"
            f"${base64.b64encode(digest).decode()}")


def check_password_entry(line: str, password: str) -> bool:
    """Whether a ``$7$`` password-file line accepts ``password`` (as mosquitto would check it)."""
    _user, _, hashed = line.strip().partition(":")
    parts = hashed.split("$")
    if len(parts) != 5 or parts[0] != "" or parts[1] != "7":
        return False
    try:
        iterations, salt, digest = int(parts[2]), base64.b64decode(parts[3]), base64.b64decode(parts[4])
    except ValueError:
        return False
    computed = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations, len(digest))
    return hmac.compare_digest(computed, digest)


def controller_password(site: str | os.PathLike | None, *, rotate: bool = False) -> tuple[str, bool]:
    """The controller's broker password from the site's secrets, generated (and saved) on first use.

    Returns (password, whether it is new)."""
    data = gates.load_secrets(site)
    if data.controller_mqtt_password and not rotate:
        return data.controller_mqtt_password, False
    data.controller_mqtt_password = _random.token_urlsafe(24)
    gates.save_secrets(site, data)
    return data.controller_mqtt_password, True


def watch_logins(site: str | os.PathLike | None, add: Iterable[str] = (), remove: Iterable[str] = (),
                 controller_user: str = DEFAULT_CONTROLLER_USER) -> dict[str, str]:
    """The site's read-only broker logins (user -> password), after removing ``remove`` and adding ``add``
    (a new one gets a random password; one already there keeps its own); saved when they changed. A login
    that is not a user name, or is the controller's (``controller_user``: two password lines and two ACL
    blocks for one user), is refused: secrets.toml may have been edited by hand, or the controller's user
    changed after the login was added."""
    data = gates.load_secrets(site)
    watchers = dict(data.watchers)
    for user in remove:
        if user not in watchers:
            known = ", ".join(sorted(watchers)) or "none"
            raise GateError(f"no watch user {user!r} to remove (watch users: {known})")
        del watchers[user]
    for user in add:
        watchers.setdefault(user, _random.token_urlsafe(24))
    where = gates.resolve_site(site) / gates.SECRETS_FILE
    for user in watchers:
        if not _user_ok(user):
            raise GateError(f"{where}: [watch] {user!r} is not a user name "
                            "(letters, digits, '.', '_' or '-', not starting with 'gate-')")
        if user == controller_user:
            raise GateError(f"{where}: [watch] {user!r} is the controller's broker user: remove it with "
                            f"--remove-watch-user {user}, or give the controller another --controller-user")
    if watchers != data.watchers:
        data.watchers = watchers
        gates.save_secrets(site, data)
    return watchers


def watch_password_file(user: str) -> str:
    return f"watch-{user}-password"


# ---------------------------------------------------------------- file contents


def queue_limits(gate_count: int, stall_s: float = DEFAULT_STALL_S) -> tuple[int, int]:
    """(max_queued_messages, max_queued_bytes) so a controller stalled for ``stall_s`` loses no frame.

    With N gates at up to 8 subpages/s, a subscriber that stops reading for S
    seconds has N*8*S messages waiting; beyond the limit mosquitto silently
    drops QoS 0 messages (frames) for it."""
    messages = max(MIN_QUEUED_MESSAGES, math.ceil(gate_count * GATE_RATE_HZ * stall_s))
    return messages, messages * QUEUED_MESSAGE_BYTES


def acl_text(gate_ids: Iterable[str], controller_user: str = DEFAULT_CONTROLLER_USER,
             watch_users: Iterable[str] = ()) -> str:
    """The ACL file: the controller, the watch logins, then one block per gate. Anything not listed is denied."""
    lines = [
        "# thermogate broker ACL, generated by `thermogate broker config`: regenerate, do not edit.",
        "# Anything not granted here is denied. A gate's user is gate-<id>; it may publish only under",
        f"# {TOPIC_ROOT}/<id>/ and read only its own cmd. Client ids play no part: the user decides.",
        "",
        "# The controller: every gate's traffic in, signed commands and results out, Home Assistant discovery.",
        f"user {controller_user}",
    ]
    lines += [f"topic read {TOPIC_ROOT}/+/{kind}" for kind in CONTROLLER_READS]
    lines += [f"topic write {TOPIC_ROOT}/+/{kind}" for kind in CONTROLLER_WRITES]
    lines += [f"topic readwrite {HOME_ASSISTANT}"]
    for user in watch_users:
        lines += ["", "# A watch login (thermogate watch, calibrate reference): reads every gate, publishes nothing.",
                  f"user {user}"]
        lines += [f"topic read {TOPIC_ROOT}/+/{kind}" for kind in WATCH_READS]
    for gate_id in gate_ids:
        gates.validate_gate_id(gate_id)
        lines += ["", f"user {gates.mqtt_user(gate_id)}"]
        lines += [f"topic write {TOPIC_ROOT}/{gate_id}/{kind}" for kind in GATE_PUBLISHES]
        lines += [f"topic read {TOPIC_ROOT}/{gate_id}/{kind}" for kind in GATE_READS]
    return "\n".join(lines) + "\n"


def mosquitto_conf(options: BrokerOptions, *, passwd_path: str, acl_path: str, gate_count: int) -> str:
    """The mosquitto.conf text: global security and limits first, then the listeners."""
    messages, nbytes = queue_limits(gate_count, options.stall_s)
    lines = [
        f"# thermogate broker configuration for {gate_count} gate(s), generated by `thermogate broker config`.",
        "# Regenerate it after `thermogate gate add|remove`: do not edit it by hand.",
        "# Use it whole (mosquitto -c mosquitto.conf) or as /etc/mosquitto/conf.d/thermogate.conf",
        "# (docs/broker.md).",
        "",
        "# One set of users and one ACL for every listener below.",
        "per_listener_settings false",
        "allow_anonymous false",
        f"password_file {passwd_path}",
        f"acl_file {acl_path}",
        "",
        "# Queue sizing for the controller's subscription. Each gate sends up to",
        f"# {GATE_RATE_HZ} subpages/s, so with N gates a controller that stops reading for S seconds",
        "# (a garbage-collection pause, a slow disk, a restart of its pipelines) has N*8*S messages",
        "# waiting. Past max_queued_messages mosquitto silently drops QoS 0 messages (frames) for that",
        f"# client. Here: max({MIN_QUEUED_MESSAGES}, {gate_count} gates x {GATE_RATE_HZ}/s x {options.stall_s:g} s) "
        f"= {messages} messages,",
        f"# at {QUEUED_MESSAGE_BYTES} bytes each (a frame is 1692 bytes of payload) = {nbytes} bytes. These are",
        "# caps per client, not reservations: the gates' own queues stay nearly empty.",
        f"max_queued_messages {messages}",
        f"max_queued_bytes {nbytes}",
        "",
        "# Nothing on the wire is near this size; a larger packet is refused and its client disconnected.",
        f"max_packet_size {MAX_PACKET_BYTES}",
        "",
        "# Send each message at once: with Nagle's algorithm a result or a door command can wait ~40 ms",
        "# for the previous segment's delayed acknowledgement.",
        "set_tcp_nodelay true",
    ]
    # use_username_as_clientid on every listener: mosquitto disconnects a client when another connects with
    # its client id, so without it one gate's password could knock any gate, or the controller, off.
    if options.port:
        lines += ["", "# Plain MQTT: the gates connect here (their firmware does not speak TLS yet).",
                  "# A client is known by its user name, not by the client id it sends: one client",
                  "# cannot disconnect another by claiming its id.",
                  f"listener {options.port} {options.bind}", "use_username_as_clientid true"]
    if options.tls is not None:
        t = options.tls
        lines += ["", "# TLS: for clients that cross an untrusted network (a controller or dashboard elsewhere).",
                  "# Clients log in with their user and password as on the plain listener.",
                  f"listener {t.port} {options.bind}", "use_username_as_clientid true",
                  f"cafile {t.ca}", f"certfile {t.cert}", f"keyfile {t.key}", "tls_version tlsv1.2"]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- checks and writing


def check_options(options: BrokerOptions) -> None:
    """GateError naming every problem with ``options``."""
    problems = []
    if not _port_ok(options.port, 0):
        problems.append(f"--port must be 1..65535 (or 0 for no plain listener), not {options.port!r}")
    elif options.port == 0 and options.tls is None:
        problems.append("--port 0 leaves no listener: give --tls-cert/--tls-key/--tls-ca too")
    if options.tls is not None and not _port_ok(options.tls.port, 1):
        problems.append(f"--tls-port must be 1..65535, not {options.tls.port!r}")
    elif options.tls is not None and options.tls.port == options.port:
        problems.append(f"the plain and TLS listeners cannot share port {options.port}")
    if not _HOST.fullmatch(options.bind):
        problems.append(f"--bind {options.bind!r} must be an IP address or host name")
    user = options.controller_user
    if not _user_ok(user):
        problems.append(f"controller user {user!r}: use 1-64 letters, digits, '.', '_' or '-', "
                        "starting with a letter or digit and not with 'gate-' (the gates' prefix)")
    for w in (*options.add_watchers, *options.remove_watchers):  # removing the controller's name is allowed
        if not _user_ok(w) or (w == user and w in options.add_watchers):
            problems.append(f"watch user {w!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter "
                            f"or digit, neither the controller's user nor starting with 'gate-' (the gates' prefix)")
    if set(options.add_watchers) & set(options.remove_watchers):
        problems.append("a watch user cannot be both added and removed")
    if not 0 < options.stall_s <= 600:
        problems.append(f"--stall-seconds must be more than 0 and at most 600, not {options.stall_s!r}")
    paths = [("--conf-dir", options.conf_dir)]
    if options.tls is not None:
        paths += [("--tls-cert", options.tls.cert), ("--tls-key", options.tls.key), ("--tls-ca", options.tls.ca)]
    problems += [p for what, path in paths if path is not None for p in [_path_problem(what, path)] if p]
    if problems:
        raise GateError("; ".join(problems))


def _port_ok(port: object, lowest: int) -> bool:
    return isinstance(port, int) and not isinstance(port, bool) and lowest <= port <= 65535


def _path_problem(what: str, path: str) -> str | None:
    if not path or re.search(r"[\s#]", path):
        return f"{what} {path!r}: give a path without spaces or '#' (mosquitto.conf cannot quote them)"
    return None


def write_broker_config(site: str | os.PathLike | None, out_dir: str | os.PathLike,
                        options: BrokerOptions = BrokerOptions()) -> BrokerFiles:
    """Write mosquitto.conf, passwd, acl and controller-password for the site's gates into ``out_dir``."""
    check_options(options)
    registry = gates.load_registry(site)
    data = gates.load_secrets(site)
    gate_ids = tuple(sorted(registry.gates))
    missing = [g for g in gate_ids if g not in data.gates]
    if missing:
        raise GateError(f"no MQTT password in {registry.secrets_file} for gate(s) {', '.join(missing)}: "
                        f"run `thermogate gate add ID --rotate-secrets` for each")
    out = Path(out_dir)
    conf_dir = (options.conf_dir or str(out.resolve())).rstrip("/") or "/"
    problem = _path_problem("the output directory", conf_dir)
    if problem:
        raise GateError(f"{problem}; choose another, or give --conf-dir")
    if not out.exists():
        try:
            out.mkdir(mode=0o700, parents=True)
        except OSError as exc:
            raise GateError(f"cannot create {out}: {exc.strerror}") from None
    password, new = controller_password(site, rotate=options.rotate_controller_password)
    watchers = watch_logins(site, options.add_watchers, options.remove_watchers, options.controller_user)
    entries = [password_entry(options.controller_user, password)]
    entries += [password_entry(user, watchers[user]) for user in sorted(watchers)]
    entries += [password_entry(gates.mqtt_user(g), data.gates[g].mqtt_password) for g in gate_ids]
    passwd, acl = out / PASSWD_FILE, out / ACL_FILE
    conf, controller_file = out / CONF_FILE, out / CONTROLLER_PASSWORD_FILE
    gates.atomic_write(passwd, "\n".join(entries) + "\n", 0o600)
    gates.atomic_write(acl, acl_text(gate_ids, options.controller_user, sorted(watchers)), 0o644)
    gates.atomic_write(controller_file, password + "\n", 0o600)
    for user in sorted(watchers):
        gates.atomic_write(out / watch_password_file(user), watchers[user] + "\n", 0o600)
    for user in options.remove_watchers:
        (out / watch_password_file(user)).unlink(missing_ok=True)
    gates.atomic_write(conf, mosquitto_conf(options, passwd_path=f"{conf_dir}/{PASSWD_FILE}",
                                            acl_path=f"{conf_dir}/{ACL_FILE}", gate_count=len(gate_ids)), 0o644)
    group = _share_with_mosquitto(out, passwd, acl)
    messages, nbytes = queue_limits(len(gate_ids), options.stall_s)
    return BrokerFiles(conf, passwd, acl, controller_file, gate_ids, options.controller_user, new, messages, nbytes,
                       group, tuple(sorted(watchers)))


def _share_with_mosquitto(out: Path, passwd: Path, acl: Path) -> str | None:
    """Run as root where the ``mosquitto`` user exists: the output directory (0750), passwd and acl (0640)
    go to mosquitto's group, so that ``mosquitto -c out/mosquitto.conf`` started as root can still open
    them after it drops to that user (else: "Unable to open pwfile"). The controller's password stays
    root's own (0600). Returns the group's name, or None when nothing was changed (not root, or no such
    user: the files are then the caller's alone, and docs/broker.md says what to run)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None
    import grp
    import pwd

    try:
        gid = pwd.getpwnam(MOSQUITTO_USER).pw_gid
        name = grp.getgrgid(gid).gr_name
    except KeyError:
        return None
    try:
        for path, mode in ((out, 0o750), (passwd, 0o640), (acl, 0o640)):
            os.chown(path, 0, gid)
            os.chmod(path, mode)
    except OSError as exc:
        raise GateError(f"cannot give {out} to group {name}: {exc.strerror}") from None
    return name
