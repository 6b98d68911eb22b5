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
require_identity = false       # true: a PASS opens only for a known, active person or a valid visitor
                               # pass scanned at the gate; else RETRY register_at_gatehouse (docs/identity.md)
identity_window_s = 10.0       # a credential read serves the screening decided within this after it

[store]
url = "thermogate.db"          # a SQLite file, or postgresql://user@host/db
retention_days = 30            # thermal snapshots older than this are purged; counts are kept

[retention]                    # days per record kind, 0: for ever (docs/privacy.md); snapshots is
screenings = 0                 # [store] retention_days (give one of the two)
visitors = 90
audit = 1095                   # reads of people's files
people_inactive = 365
cases = 1095                   # fever cases, from closing (an open case is never purged)
notifications = 90             # delivered messages (an undelivered one is kept)
absences = 365                 # absences and follow-ups
manual_readings = 0            # hand-held readings

[doors]
open_ms = 3000                 # asked for on PASS; the gate caps it at its door_cap_ms
ack_timeout_s = 3.0            # a command not acknowledged by then raises an alert
measuring_light = true         # both lights blink while the person at the mark is measured (firmware 0.3.0 on)

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

[notify]                       # who hears of FEVER alarms, and how: channels, contacts, routes
timeout_s = 5.0                # (controller/notify/config.py, docs/notifications.md)

[classes."初一(1)班"]           # each class's teacher, named on a fever alarm (controller/identity/classes.py)
teacher = "李老师"
phone = "138 0013 8001"

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

from ..config_fields import ConfigError, Field, defaults, read_table
from ..identity.checks import IdentityError
from ..identity.classes import ClassTeacher
from ..identity.classes import from_table as classes_table
from ..identity.retention import Retention, RetentionError
from ..identity.retention import from_table as retention_table
from ..notify import config as notify_config
from ..notify.config import NotifyConfig
from ..protocol.topics import valid_gate_id
from ..reporting import config as report_config
from ..screening import config as screening_config
from ..screening.config import ScreeningConfig

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

__all__ = ["ConfigError", "ControllerConfig", "DoorConfig", "HttpConfig", "MqttConfig", "from_dict", "load_config"]


def _filled(v: str) -> bool:
    return bool(v)


# -- the field tables: every key of controller.toml, its one default, kind and range ----------------

MQTT_FIELDS = (
    Field("host", str, "127.0.0.1", check=_filled, hint="must not be empty"),
    Field("port", int, 1883, lo=1, hi=65535),
    Field("user", str, ""),
    Field("password", str, ""),
    Field("password_file", str, ""),
    Field("client_id", str, "thermogate-controller", check=lambda v: 0 < len(v) <= 64,
          hint="must be 1..64 characters"),
    Field("keepalive_s", int, 30, lo=5, hi=600),
    Field("queue_frames", int, 64, lo=4, hi=4096),  # per gate: older frames are dropped beyond this
    Field("tls_ca", str, ""),
)
SITE_FIELDS = (
    Field("dir", str, "site"),
    Field("timezone", str, "Asia/Shanghai"),
    Field("simulated_gates", list, ()),
    Field("serve", list, ()),  # gate ids or fnmatch patterns this instance serves; () = every gate
    Field("accept_protocol_v1", bool, False),  # read unauthenticated version-1 messages (upgrade window only)
    Field("require_identity", bool, False),  # a PASS opens only for a known person or a valid visitor pass
    Field("identity_window_s", float, 10.0, lo=1.0, hi=60.0, unit="s"),  # a credential read serves a screening
)
STORE_FIELDS = (
    Field("url", str, "thermogate.db", check=_filled, hint="must not be empty"),
    Field("retention_days", int, 30, lo=1, hi=3650, unit="days"),
)
DOOR_FIELDS = (
    Field("open_ms", int, 3000, lo=100, hi=30000, unit="ms"),
    Field("ack_timeout_s", float, 3.0, lo=0.2, hi=60, unit="s"),
    Field("measuring_light", bool, True),
)
HTTP_FIELDS = (
    Field("bind", str, "127.0.0.1", check=_filled, hint="must not be empty"),
    Field("port", int, 8080, lo=0, hi=65535),
    Field("tls_cert", str, ""),  # PEM certificate (chain) and its key: the console over HTTPS
    Field("tls_key", str, ""),
    Field("allowed_hosts", list, ()),  # Host names the console answers to, besides IPs and this machine's
    Field("trusted_proxies", list, ()),  # addresses whose X-Forwarded-For / -Proto are believed
    Field("metrics_token", str, ""),  # /metrics needs "Authorization: Bearer <token>"; empty: loopback only
    Field("metrics_token_file", str, ""),
    Field("max_connections", int, 200, lo=8, hi=100000),  # open HTTP and WebSocket connections; beyond, 503
)
HOME_ASSISTANT_FIELDS = (
    Field("enabled", bool, False),
    Field("prefix", str, "homeassistant", check=lambda v: bool(v) and "#" not in v and "+" not in v,
          hint="must be a topic prefix without wildcards"),
)
TABLES = ("mqtt", "site", "store", "retention", "doors", "http", "home_assistant", "screening", "gates", "notify",
          "classes", "report")

_M, _S, _ST, _D, _H, _HA = (defaults(f) for f in (MQTT_FIELDS, SITE_FIELDS, STORE_FIELDS, DOOR_FIELDS,
                                                  HTTP_FIELDS, HOME_ASSISTANT_FIELDS))


@dataclass(frozen=True)
class MqttConfig:
    host: str = _M["host"]
    port: int = _M["port"]
    user: str = _M["user"]
    password: str = _M["password"]
    client_id: str = _M["client_id"]
    keepalive_s: int = _M["keepalive_s"]
    queue_frames: int = _M["queue_frames"]
    tls_ca: str = _M["tls_ca"]

@dataclass(frozen=True)
class DoorConfig:
    open_ms: int = _D["open_ms"]
    ack_timeout_s: float = _D["ack_timeout_s"]
    measuring_light: bool = _D["measuring_light"]


@dataclass(frozen=True)
class HttpConfig:
    bind: str = _H["bind"]
    port: int = _H["port"]
    tls_cert: str = _H["tls_cert"]
    tls_key: str = _H["tls_key"]
    allowed_hosts: tuple[str, ...] = _H["allowed_hosts"]
    trusted_proxies: tuple[str, ...] = _H["trusted_proxies"]
    metrics_token: str = _H["metrics_token"]
    max_connections: int = _H["max_connections"]


@dataclass(frozen=True)
class ControllerConfig:
    path: Path | None = None
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    site_dir: Path = Path(_S["dir"])
    timezone: str = _S["timezone"]
    simulated_gates: tuple[str, ...] = _S["simulated_gates"]
    serve: tuple[str, ...] = _S["serve"]
    accept_protocol_v1: bool = _S["accept_protocol_v1"]
    require_identity: bool = _S["require_identity"]  # docs/identity.md, "The door rule"
    identity_window_s: float = _S["identity_window_s"]
    classes: dict[str, ClassTeacher] = field(default_factory=dict)  # [classes]: each class's teacher
    store_url: str = _ST["url"]
    retention_days: int = _ST["retention_days"]  # snapshots; the same as retention.snapshots
    retention: Retention = field(default_factory=Retention)  # [retention]: days per record kind
    doors: DoorConfig = field(default_factory=DoorConfig)
    http: HttpConfig = field(default_factory=HttpConfig)
    home_assistant: bool = _HA["enabled"]
    home_assistant_prefix: str = _HA["prefix"]
    screening: ScreeningConfig = field(default_factory=ScreeningConfig)
    screening_table: dict = field(default_factory=dict)  # [screening] as written, for per-gate merging
    gate_screening: dict[str, dict] = field(default_factory=dict)  # [gates.<id>.screening] tables
    gate_names: dict[str, str] = field(default_factory=dict)  # [gates.<id>] name, simulated gates only
    notify: NotifyConfig = field(default_factory=NotifyConfig)  # [notify] (controller/notify/config.py)
    report: report_config.ReportConfig | None = None  # [report] (controller/reporting/config.py); None: absent

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


def _secret(values: dict, key: str, section: str, where: str, base: Path, read: bool = True) -> str:
    """A secret written in the file (``key``) or in a file of its own (``key_file``), not both; "" for a file
    not to be ``read``."""
    secret, name = values[key], values[f"{key}_file"]
    if secret and name:
        raise ConfigError(f"{where}{section}: give {key} or {key}_file, not both")
    if not name:
        return secret
    if not read:
        return ""
    try:
        return (base / name).read_text().strip()
    except OSError as exc:
        raise ConfigError(f"{where}{section}.{key}_file {name}: {exc.strerror}") from None
    except ValueError as exc:  # not UTF-8, or a NUL in the name
        raise ConfigError(f"{where}{section}.{key}_file {name!r}: {exc}") from None


def _mqtt_config(doc: dict, where: str, base: Path, secrets: bool = True) -> MqttConfig:
    m = read_table(doc, "mqtt", MQTT_FIELDS, where)
    password = _secret(m, "password", "mqtt", where, base, read=secrets)
    if m["tls_ca"] and not (base / m["tls_ca"]).is_file():
        raise ConfigError(f"{where}mqtt.tls_ca {m['tls_ca']}: no such file")
    return MqttConfig(host=m["host"], port=m["port"], user=m["user"], password=password, client_id=m["client_id"],
                      keepalive_s=m["keepalive_s"], queue_frames=m["queue_frames"],
                      tls_ca=str(base / m["tls_ca"]) if m["tls_ca"] else "")


def _http_config(doc: dict, where: str, base: Path, secrets: bool = True) -> HttpConfig:
    """[http]: where the console listens, TLS, which Host names and proxies it believes, /metrics."""
    h = read_table(doc, "http", HTTP_FIELDS, where)
    files = {}
    for key in ("tls_cert", "tls_key"):
        name = h[key]
        if name and not (base / name).is_file():
            raise ConfigError(f"{where}http.{key} {name}: no such file")
        files[key] = str(base / name) if name else ""
    if bool(files["tls_cert"]) != bool(files["tls_key"]):
        raise ConfigError(f"{where}http: give both tls_cert and tls_key, or neither")
    for host in h["allowed_hosts"]:
        if not isinstance(host, str) or not re.fullmatch(r"(\*\.)?[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]", host):
            raise ConfigError(f"{where}http.allowed_hosts: {host!r} is not a host name such as "
                              f"\"gate.school.example\" or \"*.school.example\"")
    for proxy in h["trusted_proxies"]:
        try:
            ipaddress.ip_address(proxy)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}http.trusted_proxies: {proxy!r} is not an IP address") from None
    token = _secret(h, "metrics_token", "http", where, base, read=secrets)
    if token and len(token) < 16:
        raise ConfigError(f"{where}http.metrics_token must be at least 16 characters")
    return HttpConfig(bind=h["bind"], port=h["port"], tls_cert=files["tls_cert"], tls_key=files["tls_key"],
                      allowed_hosts=tuple(h["allowed_hosts"]), trusted_proxies=tuple(h["trusted_proxies"]),
                      metrics_token=token, max_connections=h["max_connections"])


def from_dict(doc: dict, path: Path | None = None, *, secrets: bool = True) -> ControllerConfig:
    """A ControllerConfig from a parsed TOML document; ConfigError names the first problem. ``secrets`` False
    (:func:`load_config`'s): no secret file is read, and [notify] and [report] are left out."""
    where = f"{path}: " if path else ""
    unknown = set(doc) - set(TABLES)
    if unknown:
        raise ConfigError(f"{where}unknown table(s): {', '.join(sorted(unknown))}")
    base = path.parent if path else Path.cwd()
    if not secrets:  # their deliveries' secrets are files of their own, and no tool without secrets uses them
        doc = {k: v for k, v in doc.items() if k not in ("notify", "report")}

    mqtt = _mqtt_config(doc, where, base, secrets)

    s = read_table(doc, "site", SITE_FIELDS, where)
    try:
        zoneinfo.ZoneInfo(s["timezone"])
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{where}site.timezone {s['timezone']!r} is not a known time zone "
                          f"(e.g. \"Asia/Shanghai\")") from None
    simulated = s["simulated_gates"]
    for gate_id in simulated:
        if not isinstance(gate_id, str) or not valid_gate_id(gate_id):
            raise ConfigError(f"{where}site.simulated_gates: {gate_id!r} is not a gate id")
    for pattern in s["serve"]:
        if not isinstance(pattern, str) or not pattern or not all(ch.isalnum() or ch in "-*?[]" for ch in pattern):
            raise ConfigError(f"{where}site.serve: {pattern!r} is not a gate id or pattern such as \"north-*\"")

    st = read_table(doc, "store", STORE_FIELDS, where)
    url = st["url"]
    if "://" not in url and not url.startswith("sqlite:"):
        url = str(base / url)  # a plain SQLite path, relative to the config file

    try:  # [retention] (controller/identity/retention.py); its snapshots are [store] retention_days
        retention = retention_table(doc.get("retention", {}), snapshots=st["retention_days"]
                                    if "retention_days" in doc.get("store", {}) else None)
    except RetentionError as exc:
        raise ConfigError(f"{where}{exc}") from None

    d = read_table(doc, "doors", DOOR_FIELDS, where)
    http = _http_config(doc, where, base, secrets)
    ha = read_table(doc, "home_assistant", HOME_ASSISTANT_FIELDS, where)

    screening_table = doc.get("screening", {})
    try:
        screening = screening_config.from_table(screening_table)
    except screening_config.ConfigError as exc:
        raise ConfigError(f"{where}{exc}") from None
    gate_screening, gate_names = _gates(doc, where, simulated)
    try:
        classes = classes_table(doc.get("classes"))
    except IdentityError as exc:
        raise ConfigError(f"{where}{exc}") from None
    notify = notify_config.from_table(doc, base, where)  # its own loader; ConfigError names the key
    report = report_config.from_table(doc, base, where)  # the same
    config = ControllerConfig(path=path, mqtt=mqtt, site_dir=base / s["dir"], timezone=s["timezone"],
                              simulated_gates=tuple(simulated), serve=tuple(s["serve"]),
                              accept_protocol_v1=s["accept_protocol_v1"], require_identity=s["require_identity"],
                              identity_window_s=s["identity_window_s"], classes=classes, store_url=url,
                              retention_days=retention.snapshots, retention=retention,
                              doors=DoorConfig(open_ms=d["open_ms"], ack_timeout_s=d["ack_timeout_s"],
                                               measuring_light=d["measuring_light"]), http=http,
                              home_assistant=ha["enabled"], home_assistant_prefix=ha["prefix"],
                              screening=screening, screening_table=screening_table,
                              gate_screening=gate_screening, gate_names=gate_names, notify=notify,
                              report=report)
    for gate_id in gate_screening:
        config.screening_for(gate_id)  # validated now, not at the gate's first frame
    return config


def _gates(doc: dict, where: str, simulated) -> tuple[dict[str, dict], dict[str, str]]:
    """[gates.<id>]: each gate's screening overrides, and the names of simulated gates."""
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
    return gate_screening, gate_names


def load_config(path: str | os.PathLike, *, secrets: bool = True) -> ControllerConfig:
    """Read and check ``controller.toml``. ``secrets`` False is for the tools that only read a gate's settings
    (``thermogate watch``, ``calibrate reference``): they run as an installer who may not read the
    controller's secret files (its broker password, the console's metrics token, the notifications' and
    reports' keys), which are then not read, and [notify] and [report] are left out."""
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
    return from_dict(doc, p.resolve(), secrets=secrets)
