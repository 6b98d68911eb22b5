"""The site's gate registry, its secrets, and each board's config.json.

A site is a directory (``./site`` unless ``--site`` or ``THERMOGATE_SITE`` says
otherwise) holding two files:

- ``gates.toml``: site-wide settings (Wi-Fi SSID, MQTT broker) and one table per
  gate (name, location, sensor variant, creation time, stored setting
  overrides). No secrets: a school may keep it in version control.
- ``secrets.toml`` (mode 0600): the Wi-Fi password and, per gate, the HMAC key
  that signs door commands and the gate's MQTT password. Never committed: the
  site directory gets a ``.gitignore`` naming it.

Both are rewritten atomically (temporary file, then ``os.replace``).
"""

from __future__ import annotations

import os
import re
import secrets as _random
import stat
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..geometry import Lens, MountingView
from ..protocol.topics import valid_gate_id
from . import mounting_check
from .gate_settings import (
    BOARD_SETTINGS,
    BY_KEY,
    SETTINGS,
    SettingError,
    cross_check,
    parse_settings,
    relay_pin_problem,
    sensor_warnings,
    wiring_warnings,
)
from .tomlwrite import dumps

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

GATES_FILE = "gates.toml"
SECRETS_FILE = "secrets.toml"
SITE_ENV = "THERMOGATE_SITE"
DEFAULT_SITE = "site"
DEFAULT_BROKER_PORT = 1883
VARIANTS = Lens.choices()  # "55", "110": stored as these strings
DEFAULT_VARIANT = Lens.NARROW.value
_GATE_META = ("name", "location", "variant", "created")
_GATES_HEADER = """\
thermogate site registry: site-wide settings and the gates.
No secrets here: this file may be committed. secrets.toml beside it must never be.
Change it with `thermogate site set` and `thermogate gate add|set|remove`."""
_SECRETS_HEADER = """\
thermogate secrets: Wi-Fi password, per-gate HMAC keys and MQTT passwords, the broker's other logins.
NEVER commit, copy or share this file. It must stay mode 0600."""


class GateError(ValueError):
    """A registry, secrets or config problem, worded for the installer."""


@dataclass(frozen=True)
class Gate:
    """One registered gate (what gates.toml holds; no secrets)."""

    id: str
    variant: str
    created: datetime
    name: str | None = None
    location: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def mqtt_user(self) -> str:
        return mqtt_user(self.id)

    @property
    def screening(self) -> dict[str, Any]:
        """Its stored settings that go to the controller's screening, not the board (the mounting),
        by their ``[screening]`` key."""
        return {BY_KEY[k].path[-1]: v for k, v in self.settings.items() if not BY_KEY[k].on_board}


@dataclass(frozen=True)
class SiteSettings:
    """Site-wide, non-secret settings from gates.toml's ``[site]`` table."""

    wifi_ssid: str | None = None
    broker_host: str | None = None
    broker_port: int | None = None


@dataclass(frozen=True)
class GateSecrets:
    hmac_key: str
    mqtt_password: str


@dataclass
class Secrets:
    """What secrets.toml holds."""

    wifi_password: str | None = None
    gates: dict[str, GateSecrets] = field(default_factory=dict)
    controller_mqtt_password: str | None = None  # the controller's broker password (thermogate broker config)
    watchers: dict[str, str] = field(default_factory=dict)  # read-only broker logins: user -> password (idem)


@dataclass
class Registry:
    """A site's gates.toml, loaded."""

    site: Path
    settings: SiteSettings = field(default_factory=SiteSettings)
    gates: dict[str, Gate] = field(default_factory=dict)

    @property
    def gates_file(self) -> Path:
        return self.site / GATES_FILE

    @property
    def secrets_file(self) -> Path:
        return self.site / SECRETS_FILE

    def gate(self, gate_id: str) -> Gate:
        """The gate called ``gate_id``; GateError naming the known ids if absent."""
        gate_id = validate_gate_id(gate_id)
        if gate_id not in self.gates:
            known = ", ".join(sorted(self.gates)) or "none yet"
            raise GateError(f"no gate {gate_id!r} in {self.gates_file} (gates: {known}); "
                            f"add it with `thermogate gate add {gate_id}`")
        return self.gates[gate_id]


def resolve_site(site: str | os.PathLike | None = None) -> Path:
    """The site directory: ``site`` if given, else $THERMOGATE_SITE, else ./site."""
    if site is not None and str(site) != "":
        return Path(site)
    return Path(os.environ.get(SITE_ENV) or DEFAULT_SITE)


def validate_gate_id(gate_id: str) -> str:
    """``gate_id`` if it is a valid gate id, else GateError saying what is allowed."""
    if not isinstance(gate_id, str) or not valid_gate_id(gate_id):
        raise GateError(f"invalid gate id {gate_id!r}: use 1-32 lowercase letters, digits and hyphens, "
                        "starting with a letter or digit and not ending with a hyphen (e.g. north-1)")
    return gate_id


def mqtt_user(gate_id: str) -> str:
    """The broker user name of a gate."""
    return f"gate-{gate_id}"


# ---------------------------------------------------------------- files


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise GateError(f"cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise GateError(f"{path} is not valid TOML: {exc}") from None


def atomic_write(path: Path, text: str, mode: int) -> None:
    """Replace ``path`` with ``text`` in one step; the file gets ``mode`` from the start."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise GateError(f"cannot write {path}: {exc.strerror}") from None
    try:
        os.chmod(tmp, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise GateError(f"cannot write {path}: {exc.strerror}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _expect(table: Any, where: str) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise GateError(f"{where} must be a table")
    return table


def _optional_str(table: dict[str, Any], key: str, where: str) -> str | None:
    value = table.get(key)
    if value is not None and not isinstance(value, str):
        raise GateError(f"{where}.{key} must be a string")
    return value


def load_registry(site: str | os.PathLike | None = None) -> Registry:
    """The site's gates.toml (an empty registry if the file does not exist yet)."""
    root = resolve_site(site)
    path = root / GATES_FILE
    doc = _read_toml(path)
    unknown = set(doc) - {"site", "gates"}
    if unknown:
        raise GateError(f"{path}: unknown top-level entries {sorted(unknown)}")
    site_table = _expect(doc.get("site", {}), f"{path}: [site]")
    extra = set(site_table) - {"wifi_ssid", "broker_host", "broker_port"}
    if extra:
        raise GateError(f"{path}: [site] has unknown keys {sorted(extra)}")
    where = f"{path}: site"
    port = site_table.get("broker_port")
    if port is not None:
        _check_port(port, f"{where}.broker_port")
    settings = SiteSettings(_optional_str(site_table, "wifi_ssid", where),
                            _optional_str(site_table, "broker_host", where), port)
    gates = {}
    for gate_id, table in _expect(doc.get("gates", {}), f"{path}: [gates]").items():
        gates[gate_id] = _gate_from_toml(gate_id, _expect(table, f"{path}: [gates.{gate_id}]"), path)
    return Registry(root, settings, gates)


def _gate_from_toml(gate_id: str, table: dict[str, Any], path: Path) -> Gate:
    where = f"{path}: gates.{gate_id}"
    try:
        validate_gate_id(gate_id)
    except GateError as exc:
        raise GateError(f"{path}: {exc}") from None
    variant = table.get("variant")
    if variant not in VARIANTS:
        raise GateError(f"{where}.variant must be one of {', '.join(map(repr, VARIANTS))}")
    created = table.get("created")
    if not isinstance(created, datetime):
        raise GateError(f"{where}.created must be a date and time")
    raw = {k: v for k, v in table.items() if k not in _GATE_META}
    try:
        stored = parse_settings(raw, f"{where}: ")
    except SettingError as exc:
        raise GateError(str(exc)) from None
    return Gate(gate_id, variant, created, _optional_str(table, "name", where),
                _optional_str(table, "location", where), stored)


def save_registry(registry: Registry) -> None:
    """Write gates.toml (mode 0644)."""
    site: dict[str, Any] = {}
    s = registry.settings
    for key, value in (("wifi_ssid", s.wifi_ssid), ("broker_host", s.broker_host), ("broker_port", s.broker_port)):
        if value is not None:
            site[key] = value
    gates: dict[str, Any] = {}
    for gate_id in sorted(registry.gates):
        gate = registry.gates[gate_id]
        table: dict[str, Any] = {}
        if gate.name is not None:
            table["name"] = gate.name
        if gate.location is not None:
            table["location"] = gate.location
        table["variant"] = gate.variant
        table["created"] = gate.created
        for setting in SETTINGS:
            if setting.key in gate.settings:
                value = gate.settings[setting.key]
                table[setting.key] = "none" if value is None else value
        gates[gate_id] = table
    atomic_write(registry.gates_file, dumps({"site": site, "gates": gates}, _GATES_HEADER), 0o644)


def load_secrets(site: str | os.PathLike | None = None) -> Secrets:
    """The site's secrets.toml; GateError if other users can read it."""
    path = resolve_site(site) / SECRETS_FILE
    if os.name == "posix" and path.exists():
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise GateError(f"{path} is readable by other users (mode {mode:04o}): run `chmod 600 {path}`")
    doc = _read_toml(path)
    site_table = _expect(doc.get("site", {}), f"{path}: [site]")
    result = Secrets(_optional_str(site_table, "wifi_password", f"{path}: site"))
    for gate_id, table in _expect(doc.get("gates", {}), f"{path}: [gates]").items():
        table = _expect(table, f"{path}: [gates.{gate_id}]")
        key, password = table.get("hmac_key"), table.get("mqtt_password")
        if not (isinstance(key, str) and re.fullmatch(r"[0-9a-f]{64}", key)):
            raise GateError(f"{path}: gates.{gate_id}.hmac_key must be 64 lowercase hex characters")
        if not (isinstance(password, str) and password):
            raise GateError(f"{path}: gates.{gate_id}.mqtt_password must be a non-empty string")
        result.gates[gate_id] = GateSecrets(key, password)
    controller = _expect(doc.get("controller", {}), f"{path}: [controller]")
    result.controller_mqtt_password = _optional_str(controller, "mqtt_password", f"{path}: controller")
    for user, password in _expect(doc.get("watch", {}), f"{path}: [watch]").items():
        if not (isinstance(password, str) and password):
            raise GateError(f"{path}: watch.{user} must be a non-empty string (the watch login's password)")
        result.watchers[user] = password
    return result


def save_secrets(site: str | os.PathLike | None, data: Secrets) -> None:
    """Write secrets.toml (mode 0600) and make sure the site's .gitignore names it."""
    root = resolve_site(site)
    doc: dict[str, Any] = {"site": {}, "gates": {}}
    if data.wifi_password is not None:
        doc["site"]["wifi_password"] = data.wifi_password
    for gate_id in sorted(data.gates):
        g = data.gates[gate_id]
        doc["gates"][gate_id] = {"hmac_key": g.hmac_key, "mqtt_password": g.mqtt_password}
    if data.controller_mqtt_password is not None:
        doc["controller"] = {"mqtt_password": data.controller_mqtt_password}
    if data.watchers:
        doc["watch"] = dict(sorted(data.watchers.items()))
    atomic_write(root / SECRETS_FILE, dumps(doc, _SECRETS_HEADER), 0o600)
    _ignore_secrets(root)


def _ignore_secrets(root: Path) -> None:
    ignore = root / ".gitignore"
    try:
        lines = ignore.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        lines = []
    except OSError as exc:
        raise GateError(f"cannot read {ignore}: {exc.strerror}") from None
    if not {"secrets.toml", "/secrets.toml"} & {line.strip() for line in lines}:
        lines += ["# thermogate: the site's secrets never go into git", SECRETS_FILE]
        atomic_write(ignore, "\n".join(lines) + "\n", 0o644)


def new_gate_secrets() -> GateSecrets:
    """A fresh HMAC key (32 random bytes, hex) and MQTT password."""
    return GateSecrets(_random.token_hex(32), _random.token_urlsafe(24))


# ---------------------------------------------------------------- changes


def _check_port(port: Any, what: str) -> int:
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise GateError(f"{what} must be an integer 1..65535, not {port!r}")
    return port


def set_site(site: str | os.PathLike | None = None, *, wifi_ssid: str | None = None,
             wifi_password: str | None = None, broker_host: str | None = None,
             broker_port: int | None = None) -> Registry:
    """Change the site-wide settings given (others are kept); the Wi-Fi password goes to secrets.toml."""
    if wifi_ssid is not None and not 1 <= len(wifi_ssid.encode()) <= 32:
        raise GateError("the Wi-Fi SSID must be 1-32 bytes long")
    if wifi_password is not None and len(wifi_password.encode()) > 64:
        raise GateError("the Wi-Fi password must be at most 64 bytes long")
    if broker_host is not None and (not broker_host or re.search(r"\s|://|/", broker_host)):
        raise GateError(f"invalid broker host {broker_host!r}: give a host name or IP address only "
                        "(no scheme, port or path), e.g. 192.168.1.10 or broker.school.lan")
    if broker_port is not None:
        _check_port(broker_port, "the broker port")
    registry = load_registry(site)
    if wifi_password is not None:
        data = load_secrets(site)
        data.wifi_password = wifi_password
        save_secrets(site, data)
    changes = {k: v for k, v in (("wifi_ssid", wifi_ssid), ("broker_host", broker_host),
                                 ("broker_port", broker_port)) if v is not None}
    if changes or not registry.gates_file.exists():
        registry.settings = replace(registry.settings, **changes)
        save_registry(registry)
    return registry


def _check_meta(variant: str | None, name: str | None, location: str | None) -> None:
    if variant is not None and variant not in VARIANTS:
        raise GateError(f"sensor variant must be 55 or 110 (the MLX90640's field of view in degrees), "
                        f"not {variant!r}")
    for what, text in (("name", name), ("location", location)):
        if text is not None and ("\n" in text or len(text) > 200):
            raise GateError(f"the gate {what} must be one line of at most 200 characters")


def _parse(settings: dict[str, Any] | None, force: bool = False) -> dict[str, Any]:
    """Typed, checked settings; a relay pin that glitches at boot needs ``force``."""
    try:
        parsed = parse_settings(settings or {})
    except SettingError as exc:
        raise GateError(str(exc)) from None
    problem = relay_pin_problem(parsed["relay"]) if "relay" in parsed else None
    if problem and not force:
        raise GateError(problem)
    return parsed


def gate_warnings(gate: Gate) -> list[str]:
    """Risky but accepted settings of a gate (docs/installation.md): a relay on a pin that glitches at boot,
    an active-low relay module, a refresh rate too slow to screen people well, a mounting that keeps the
    faces of no school population wholly in view on the mark, keeps them under 4 x 4 pixels or sees them more
    steeply than 30 degrees (mounting_check.py)."""
    values = gate_values(gate)
    return (wiring_warnings(values) + sensor_warnings(values)
            + mounting_check.warnings(mounting_check.view_of(values, gate.variant)))


def gate_values(gate: Gate) -> dict[str, Any]:
    """Every setting of a gate: its stored ones, the defaults for the rest."""
    return {s.key: gate.settings.get(s.key, s.default) for s in SETTINGS}


def mounting_view_of(gate: Gate) -> MountingView:
    """What the gate's mounting (stored or default) shows of the people on its mark."""
    return mounting_check.view_of(gate_values(gate), gate.variant)


def config_warnings(cfg: dict[str, Any]) -> list[str]:
    """The same warnings for a config.json dict."""
    return wiring_warnings(cfg["pins"]) + sensor_warnings({"refresh_hz": cfg.get("refresh_hz")})


def add_gate(site: str | os.PathLike | None, gate_id: str, *, name: str | None = None,
             location: str | None = None, variant: str | None = None,
             settings: dict[str, Any] | None = None, rotate_secrets: bool = False,
             now: datetime | None = None, force: bool = False) -> tuple[Gate, bool]:
    """Register a gate and generate its secrets; returns the gate and whether it already existed.

    An existing id is an error unless ``rotate_secrets``, which generates new
    secrets for it (and applies any name, location, variant or settings given).
    A relay on a pin that glitches at boot is an error unless ``force``.
    """
    validate_gate_id(gate_id)
    _check_meta(variant, name, location)
    parsed = _parse(settings, force)
    registry = load_registry(site)
    existing = registry.gates.get(gate_id)
    if existing and not rotate_secrets:
        raise GateError(f"gate {gate_id!r} already exists in {registry.gates_file}; use --rotate-secrets "
                        "to give it new secrets, or `thermogate gate set` to change its settings")
    data = load_secrets(site)
    if existing:
        gate = replace(existing, name=existing.name if name is None else name,
                       location=existing.location if location is None else location,
                       variant=variant or existing.variant, settings={**existing.settings, **parsed})
    else:
        created = (now or datetime.now(timezone.utc)).replace(microsecond=0)
        gate = Gate(gate_id, variant or DEFAULT_VARIANT, created, name, location, parsed)
    _check_stored(gate)
    data.gates[gate_id] = new_gate_secrets()
    save_secrets(site, data)
    registry.gates[gate_id] = gate
    save_registry(registry)
    return gate, existing is not None


def update_gate(site: str | os.PathLike | None, gate_id: str, *, name: str | None = None,
                location: str | None = None, variant: str | None = None,
                settings: dict[str, Any] | None = None, unset: Iterable[str] = (), force: bool = False) -> Gate:
    """Change a gate's description or stored settings; ``unset`` returns keys to their defaults.
    A relay on a pin that glitches at boot is an error unless ``force``."""
    _check_meta(variant, name, location)
    parsed = _parse(settings, force)
    unset = list(unset)
    bad = [k for k in unset if k not in BY_KEY and k not in ("name", "location")]
    if bad:
        raise GateError(f"cannot unset {', '.join(bad)}: use name, location or one of {', '.join(BY_KEY)}")
    registry = load_registry(site)
    gate = registry.gate(gate_id)
    stored = {k: v for k, v in {**gate.settings, **parsed}.items() if k not in unset}
    gate = replace(gate, name=None if "name" in unset else (gate.name if name is None else name),
                   location=None if "location" in unset else (gate.location if location is None else location),
                   variant=variant or gate.variant, settings=stored)
    _check_stored(gate)
    registry.gates[gate_id] = gate
    save_registry(registry)
    return gate


def _check_stored(gate: Gate) -> None:
    values = {s.key: gate.settings.get(s.key, s.default) for s in SETTINGS}
    problems = cross_check(values)
    if problems:
        raise GateError(f"gate {gate.id}: {'; '.join(problems)}")


def remove_gate(site: str | os.PathLike | None, gate_id: str) -> Gate:
    """Forget a gate and its secrets; returns what was removed."""
    registry = load_registry(site)
    gate_id = validate_gate_id(gate_id)
    if gate_id not in registry.gates:
        known = ", ".join(sorted(registry.gates)) or "none"
        raise GateError(f"no gate {gate_id!r} to remove in {registry.gates_file} (gates: {known})")
    gate = registry.gate(gate_id)
    del registry.gates[gate_id]
    save_registry(registry)
    data = load_secrets(site)
    if data.gates.pop(gate_id, None) is not None:
        save_secrets(site, data)
    return gate


# ---------------------------------------------------------------- config.json


def gate_config(site: str | os.PathLike | None, gate_id: str, *, force: bool = False,
                **overrides: Any) -> dict[str, Any]:
    """The board's config.json content for ``gate_id``.

    Settings come from the defaults, then the gate's stored settings, then
    ``overrides`` (keyword names as in :data:`controller.site.gate_settings.SETTINGS`,
    values typed or as command-line text). GateError if a site setting is missing
    or any value is out of range, or if an override puts the relay on a pin
    that glitches at boot without ``force`` (a stored one was accepted when it
    was stored; :func:`config_warnings` still names it).
    """
    registry = load_registry(site)
    gate = registry.gate(gate_id)
    data = load_secrets(site)
    s = registry.settings
    missing = []
    if not s.wifi_ssid:
        missing.append("the Wi-Fi SSID (`thermogate site set --wifi-ssid NAME`)")
    if data.wifi_password is None:
        missing.append("the Wi-Fi password (`thermogate site set --wifi-password PASSWORD`, "
                       "or --wifi-password '' for an open network)")
    if not s.broker_host:
        missing.append("the MQTT broker host (`thermogate site set --broker-host HOST`)")
    if missing:
        raise GateError(f"site settings missing from {registry.site}: {'; '.join(missing)}")
    gate_secrets = data.gates.get(gate_id)
    if gate_secrets is None:
        raise GateError(f"gate {gate_id!r} has no secrets in {registry.secrets_file}: "
                        f"run `thermogate gate add {gate_id} --rotate-secrets`")
    values = {st.key: st.default for st in SETTINGS}
    values.update(gate.settings)
    values.update(_parse(overrides, force))
    cfg: dict[str, Any] = {
        "gate_id": gate_id,
        "wifi": {"ssid": s.wifi_ssid, "password": data.wifi_password},
        "mqtt": {"host": s.broker_host, "port": s.broker_port or DEFAULT_BROKER_PORT, "user": mqtt_user(gate_id),
                 "password": gate_secrets.mqtt_password, "keepalive_s": values["keepalive_s"]},
        "hmac_key": gate_secrets.hmac_key,
        "pins": {k: values[k] for k in ("sda", "scl", "relay", "relay_active_high", "led_green", "led_red",
                                        "buzzer", "status_led", "maintenance")},
    }
    for key in ("i2c_freq", "refresh_hz", "door_pulse_ms", "door_cap_ms", "status_interval_s", "max_command_age_s"):
        cfg[key] = values[key]
    for key in _READERS:  # a reader not fitted is left out, as the firmware reads it (docs/installation.md)
        if values[key] is not None:
            cfg[key] = values[key]
    validate_config(cfg)
    return cfg


_SHAPE = {
    "": ("gate_id", "wifi", "mqtt", "hmac_key", "pins", "i2c_freq", "refresh_hz", "door_pulse_ms",
         "door_cap_ms", "status_interval_s", "max_command_age_s"),
    "wifi": ("ssid", "password"),
    "mqtt": ("host", "port", "user", "password", "keepalive_s"),
    "pins": ("sda", "scl", "relay", "relay_active_high", "led_green", "led_red", "buzzer", "status_led",
             "maintenance"),
}
_READERS = tuple(s.key for s in SETTINGS if s.kind == "reader")  # optional top-level keys: absent or null = not fitted


def validate_config(cfg: dict[str, Any]) -> None:
    """GateError listing every problem of a config.json dict (exact keys, types, ranges)."""
    problems = []
    for section, keys in _SHAPE.items():
        table = cfg.get(section) if section else cfg
        if not isinstance(table, dict):
            problems.append(f"{section} must be an object")
            continue
        prefix = f"{section}." if section else ""
        problems += [f"missing {prefix}{k}" for k in keys if k not in table]
        optional = _READERS if not section else ()
        problems += [f"unexpected {prefix}{k}" for k in table if k not in keys and k not in optional]
    if problems:
        raise GateError(f"config keys differ from the schema: {', '.join(problems)}")
    gate_id = cfg["gate_id"]
    try:
        validate_gate_id(gate_id)
    except GateError as exc:
        problems.append(str(exc))
    wifi, mqtt = cfg["wifi"], cfg["mqtt"]
    if not isinstance(wifi["ssid"], str) or not wifi["ssid"]:
        problems.append("wifi.ssid must be a non-empty string")
    if not isinstance(wifi["password"], str):
        problems.append("wifi.password must be a string (it may be empty)")
    if not isinstance(mqtt["host"], str) or not mqtt["host"]:
        problems.append("mqtt.host must be a non-empty string")
    try:
        _check_port(mqtt["port"], "mqtt.port")
    except GateError as exc:
        problems.append(str(exc))
    if isinstance(gate_id, str) and mqtt["user"] != mqtt_user(gate_id):
        problems.append(f"mqtt.user must be {mqtt_user(gate_id)!r}")
    if not isinstance(mqtt["password"], str) or not mqtt["password"]:
        problems.append("mqtt.password must be a non-empty string")
    if not (isinstance(cfg["hmac_key"], str) and re.fullmatch(r"[0-9a-f]{64}", cfg["hmac_key"])):
        problems.append("hmac_key must be 64 lowercase hex characters")
    values = {s.key: s.default for s in SETTINGS}
    for setting in BOARD_SETTINGS:
        table = cfg
        for part in setting.path[:-1]:
            table = table[part]
        value = table.get(setting.path[-1]) if setting.key in _READERS else table[setting.path[-1]]
        problem = setting.check(value)
        if problem:
            problems.append(problem)
        values[setting.key] = value
    if not problems:
        problems = cross_check(values)
    if problems:
        raise GateError("; ".join(problems))
