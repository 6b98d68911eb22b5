"""``controller.toml``: the controller service's configuration, validated at start.

```toml
[mqtt]
host = "127.0.0.1"
port = 1883
user = "controller"            # optional; broker ACLs (thermogate broker config)
password = ""                  # or password_file = "/etc/thermogate/mqtt-password"
client_id = "thermogate-controller"
keepalive_s = 30
queue_frames = 64              # per gate: older frames are dropped beyond this, never decisions

[site]
dir = "site"                   # the gate registry (thermogate gate add): ids, lenses, HMAC keys
timezone = "Asia/Shanghai"     # the school's day, for daily reports
simulated_gates = []           # ids whose keys are the simulator's own (demo and tests only)
serve = []                     # this instance's share of the gates (ids or patterns like "north-*");
                               # empty: all of them (docs/scaling.md)
accept_protocol_v1 = false     # true only while gates are being re-flashed: reads their unauthenticated
                               # version-1 messages, counted and alerted (docs/protocol.md, "Upgrade")

[store]
url = "thermogate.db"          # a SQLite file, or postgresql://user@host/db
retention_days = 30            # thermal snapshots older than this are purged; counts are kept

[doors]
open_ms = 3000                 # asked for on PASS; the gate caps it at its door_cap_ms
ack_timeout_s = 3.0            # a command not acknowledged by then raises an alert

[http]
bind = "127.0.0.1"             # the console's address; "0.0.0.0" to serve the gatehouse's network
port = 8080                    # health, metrics (and the console)
tls_cert = ""                  # PEM certificate and key: HTTPS (docs/operations.md)
tls_key = ""
allowed_hosts = []             # Host names it answers to, besides IP addresses and this machine's name
trusted_proxies = []           # reverse proxies whose X-Forwarded-For is believed (none by default)
metrics_token = ""             # or metrics_token_file: /metrics needs the token; without, loopback only
max_connections = 200          # open connections (HTTP and WebSocket) before new ones get 503

[home_assistant]
enabled = false                # true: MQTT discovery configs for each gate (home_assistant.py)
prefix = "homeassistant"

[screening]                    # defaults for every gate (controller/screening/config.py)
threshold_c = 37.3

[gates.sim-1]                  # a simulated gate's display name (a registered gate's is in the registry)
name = "东门 1号"

[gates.north-1.screening]      # per-gate overrides of [screening]
site_offset_c = 0.4
```

Every problem is a ``ConfigError`` naming the file and the key.
"""

from __future__ import annotations

import ipaddress
import os
import re
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..protocol.topics import valid_gate_id
from ..screening import config as screening_config
from ..screening.config import ScreeningConfig

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class MqttConfig:
    host: str = "127.0.0.1"
    port: int = 1883
    user: str = ""
    password: str = ""
    client_id: str = "thermogate-controller"
    keepalive_s: int = 30
    queue_frames: int = 64
    tls_ca: str = ""


@dataclass(frozen=True)
class DoorConfig:
    open_ms: int = 3000
    ack_timeout_s: float = 3.0


@dataclass(frozen=True)
class HttpConfig:
    bind: str = "127.0.0.1"
    port: int = 8080
    tls_cert: str = ""  # PEM certificate (chain) and its key: the console over HTTPS
    tls_key: str = ""
    allowed_hosts: tuple[str, ...] = ()  # Host names the console answers to, besides IPs and this machine's
    trusted_proxies: tuple[str, ...] = ()  # addresses whose X-Forwarded-For / -Proto are believed
    metrics_token: str = ""  # /metrics needs "Authorization: Bearer <token>"; empty: loopback clients only
    max_connections: int = 200  # open HTTP and WebSocket connections; beyond this, 503


@dataclass(frozen=True)
class ControllerConfig:
    path: Path | None = None
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    site_dir: Path = Path("site")
    timezone: str = "Asia/Shanghai"
    simulated_gates: tuple[str, ...] = ()
    serve: tuple[str, ...] = ()  # gate ids or fnmatch patterns this instance serves; () = every gate
    accept_protocol_v1: bool = False  # read unauthenticated version-1 messages (upgrade window only)
    store_url: str = "thermogate.db"
    retention_days: int = 30
    doors: DoorConfig = field(default_factory=DoorConfig)
    http: HttpConfig = field(default_factory=HttpConfig)
    home_assistant: bool = False
    home_assistant_prefix: str = "homeassistant"
    screening: ScreeningConfig = field(default_factory=ScreeningConfig)
    screening_table: dict = field(default_factory=dict)  # [screening] as written, for per-gate merging
    gate_screening: dict[str, dict] = field(default_factory=dict)  # [gates.<id>.screening] tables
    gate_names: dict[str, str] = field(default_factory=dict)  # [gates.<id>] name, simulated gates only

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def screening_for(self, gate_id: str, variant: str | None = None, registry: dict | None = None) -> ScreeningConfig:
        """The screening settings of one gate: [screening], its lens and mounting from the registry
        (``registry``: its stored screening settings, ``Gate.screening``), its own overrides."""
        table = dict(self.screening_table)
        if variant is not None and "variant" not in self.gate_screening.get(gate_id, {}):
            table["variant"] = variant
        table.update(registry or {})
        table.update(self.gate_screening.get(gate_id, {}))
        try:
            return screening_config.from_table(table, simulated=gate_id in self.simulated_gates)
        except screening_config.ConfigError as exc:
            raise ConfigError(f"{self._where()}gates.{gate_id}: {exc}") from None

    def _where(self) -> str:
        return f"{self.path}: " if self.path else ""


def _take(table: dict, key: str, kind: type | tuple, where: str, default: Any, check=None, hint: str = "") -> Any:
    if key not in table:
        return default
    value = table[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if float in kinds and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
        names = " or ".join(k.__name__ for k in kinds)
        raise ConfigError(f"{where}.{key} must be {names}, got {value!r}")
    if check is not None and not check(value):
        raise ConfigError(f"{where}.{key} = {value!r}: {hint}")
    return value


def _table(doc: dict, key: str, where: str, allowed: set[str]) -> dict:
    table = doc.get(key, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{where}[{key}] must be a table")
    unknown = set(table) - allowed
    if unknown:
        raise ConfigError(f"{where}unknown key(s) in [{key}]: {', '.join(sorted(unknown))} "
                          f"(known: {', '.join(sorted(allowed))})")
    return table


def _http_config(doc: dict, where: str, base: Path) -> HttpConfig:
    """[http]: where the console listens, TLS, which Host names and proxies it believes, /metrics."""
    h = _table(doc, "http", where, {"bind", "port", "tls_cert", "tls_key", "allowed_hosts", "trusted_proxies",
                                    "metrics_token", "metrics_token_file", "max_connections"})
    files = {}
    for key in ("tls_cert", "tls_key"):
        name = _take(h, key, str, "http", "")
        if name and not (base / name).is_file():
            raise ConfigError(f"{where}http.{key} {name}: no such file")
        files[key] = str(base / name) if name else ""
    if bool(files["tls_cert"]) != bool(files["tls_key"]):
        raise ConfigError(f"{where}http: give both tls_cert and tls_key, or neither")
    hosts = _take(h, "allowed_hosts", list, "http", [])
    for host in hosts:
        if not isinstance(host, str) or not re.fullmatch(r"(\*\.)?[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]", host):
            raise ConfigError(f"{where}http.allowed_hosts: {host!r} is not a host name such as "
                              f"\"gate.school.example\" or \"*.school.example\"")
    proxies = _take(h, "trusted_proxies", list, "http", [])
    for proxy in proxies:
        try:
            ipaddress.ip_address(proxy)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}http.trusted_proxies: {proxy!r} is not an IP address") from None
    token = _take(h, "metrics_token", str, "http", "")
    token_file = _take(h, "metrics_token_file", str, "http", "")
    if token and token_file:
        raise ConfigError(f"{where}http: give metrics_token or metrics_token_file, not both")
    if token_file:
        try:
            token = (base / token_file).read_text().strip()
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{where}http.metrics_token_file {token_file}: {exc}") from None
    if token and len(token) < 16:
        raise ConfigError(f"{where}http.metrics_token must be at least 16 characters")
    return HttpConfig(bind=_take(h, "bind", str, "http", "127.0.0.1", lambda v: bool(v), "must not be empty"),
                      port=_take(h, "port", int, "http", 8080, lambda v: 0 <= v <= 65535, "must be 0..65535"),
                      tls_cert=files["tls_cert"], tls_key=files["tls_key"], allowed_hosts=tuple(hosts),
                      trusted_proxies=tuple(proxies), metrics_token=token,
                      max_connections=_take(h, "max_connections", int, "http", 200, lambda v: 8 <= v <= 100000,
                                            "must be 8..100000"))


def from_dict(doc: dict, path: Path | None = None) -> ControllerConfig:
    """A ControllerConfig from a parsed TOML document; ConfigError names the first problem."""
    where = f"{path}: " if path else ""
    unknown = set(doc) - {"mqtt", "site", "store", "doors", "http", "home_assistant", "screening", "gates"}
    if unknown:
        raise ConfigError(f"{where}unknown table(s): {', '.join(sorted(unknown))}")
    base = path.parent if path else Path.cwd()

    m = _table(doc, "mqtt", where, {"host", "port", "user", "password", "password_file", "client_id",
                                    "keepalive_s", "queue_frames", "tls_ca"})
    port_ok = (lambda v: 1 <= v <= 65535, "must be 1..65535")
    password = _take(m, "password", str, "mqtt", "")
    password_file = _take(m, "password_file", str, "mqtt", "")
    if password and password_file:
        raise ConfigError(f"{where}mqtt: give password or password_file, not both")
    if password_file:
        try:
            password = (base / password_file).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"{where}mqtt.password_file {password_file}: {exc.strerror}") from None
        except ValueError as exc:  # not UTF-8, or a NUL in the name
            raise ConfigError(f"{where}mqtt.password_file {password_file!r}: {exc}") from None
    tls_ca = _take(m, "tls_ca", str, "mqtt", "")
    if tls_ca and not (base / tls_ca).is_file():
        raise ConfigError(f"{where}mqtt.tls_ca {tls_ca}: no such file")
    mqtt = MqttConfig(
        host=_take(m, "host", str, "mqtt", "127.0.0.1", lambda v: bool(v), "must not be empty"),
        port=_take(m, "port", int, "mqtt", 1883, *port_ok),
        user=_take(m, "user", str, "mqtt", ""), password=password,
        client_id=_take(m, "client_id", str, "mqtt", "thermogate-controller",
                        lambda v: 0 < len(v) <= 64, "must be 1..64 characters"),
        keepalive_s=_take(m, "keepalive_s", int, "mqtt", 30, lambda v: 5 <= v <= 600, "must be 5..600"),
        queue_frames=_take(m, "queue_frames", int, "mqtt", 64, lambda v: 4 <= v <= 4096, "must be 4..4096"),
        tls_ca=str(base / tls_ca) if tls_ca else "")

    s = _table(doc, "site", where, {"dir", "timezone", "simulated_gates", "serve", "accept_protocol_v1"})
    accept_v1 = _take(s, "accept_protocol_v1", bool, "site", False)
    timezone = _take(s, "timezone", str, "site", "Asia/Shanghai")
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{where}site.timezone {timezone!r} is not a known time zone "
                          f"(e.g. \"Asia/Shanghai\")") from None
    simulated = _take(s, "simulated_gates", list, "site", [])
    for gate_id in simulated:
        if not isinstance(gate_id, str) or not valid_gate_id(gate_id):
            raise ConfigError(f"{where}site.simulated_gates: {gate_id!r} is not a gate id")
    site_dir = base / _take(s, "dir", str, "site", "site")
    serve = _take(s, "serve", list, "site", [])
    for pattern in serve:
        if not isinstance(pattern, str) or not pattern or not all(ch.isalnum() or ch in "-*?[]" for ch in pattern):
            raise ConfigError(f"{where}site.serve: {pattern!r} is not a gate id or pattern such as \"north-*\"")

    st = _table(doc, "store", where, {"url", "retention_days"})
    url = _take(st, "url", str, "store", "thermogate.db", lambda v: bool(v), "must not be empty")
    if "://" not in url and not url.startswith("sqlite:"):
        url = str(base / url)  # a plain SQLite path, relative to the config file
    retention = _take(st, "retention_days", int, "store", 30, lambda v: 1 <= v <= 3650, "must be 1..3650 days")

    d = _table(doc, "doors", where, {"open_ms", "ack_timeout_s"})
    doors = DoorConfig(
        open_ms=_take(d, "open_ms", int, "doors", 3000, lambda v: 100 <= v <= 30000, "must be 100..30000 ms"),
        ack_timeout_s=_take(d, "ack_timeout_s", float, "doors", 3.0, lambda v: 0.2 <= v <= 60, "must be 0.2..60 s"))

    http = _http_config(doc, where, base)

    ha = _table(doc, "home_assistant", where, {"enabled", "prefix"})
    ha_enabled = _take(ha, "enabled", bool, "home_assistant", False)
    ha_prefix = _take(ha, "prefix", str, "home_assistant", "homeassistant",
                      lambda v: bool(v) and "#" not in v and "+" not in v, "must be a topic prefix without wildcards")

    screening_table = doc.get("screening", {})
    try:
        screening = screening_config.from_table(screening_table)
    except screening_config.ConfigError as exc:
        raise ConfigError(f"{where}{exc}") from None
    gate_screening: dict[str, dict] = {}
    gate_names: dict[str, str] = {}
    gates = doc.get("gates", {})
    if not isinstance(gates, dict):
        raise ConfigError(f"{where}[gates] must be a table of gate ids")
    for gate_id, table in gates.items():
        if not valid_gate_id(gate_id):
            raise ConfigError(f"{where}gates.{gate_id}: not a gate id")
        if not isinstance(table, dict) or set(table) - {"screening", "name"}:
            raise ConfigError(f"{where}gates.{gate_id}: only a [gates.{gate_id}.screening] table may go here "
                              "(and, for a simulated gate, its name)")
        if "name" in table:  # a registered gate's name is in the site registry (thermogate gate set --name)
            name = table["name"]
            if gate_id not in simulated:
                raise ConfigError(f"{where}gates.{gate_id}.name: only a simulated gate is named here; name a "
                                  f"registered gate with `thermogate gate set {gate_id} --name ...`")
            if not isinstance(name, str) or not name.strip() or len(name) > 64 or not name.isprintable():
                raise ConfigError(f"{where}gates.{gate_id}.name must be printable text of 1-64 characters")
            gate_names[gate_id] = name.strip()
        gate_screening[gate_id] = table.get("screening", {})
    config = ControllerConfig(path=path, mqtt=mqtt, site_dir=site_dir, timezone=timezone,
                              simulated_gates=tuple(simulated), serve=tuple(serve), accept_protocol_v1=accept_v1,
                              store_url=url, retention_days=retention,
                              doors=doors, http=http, home_assistant=ha_enabled, home_assistant_prefix=ha_prefix,
                              screening=screening, screening_table=screening_table,
                              gate_screening=gate_screening, gate_names=gate_names)
    for gate_id in gate_screening:
        config.screening_for(gate_id)  # validated now, not at the gate's first frame
    return config


def load_config(path: str | os.PathLike) -> ControllerConfig:
    """Read and check ``controller.toml``."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{p}: {exc.strerror}") from None
    except ValueError as exc:  # UnicodeDecodeError: saved in another encoding (e.g. GBK)
        raise ConfigError(f"{p}: not UTF-8 text ({exc}); save it as UTF-8") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML ({exc})") from None
    return from_dict(doc, p.resolve())
