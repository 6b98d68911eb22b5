"""The per-gate settings of a board's config.json: defaults, parsing and checks.

Each :class:`Setting` is one field a gate may override (on the command line or
stored in ``gates.toml``). The ranges match what the firmware checks at boot
(``firmware/config.py``); pins are also checked against the ESP32's wiring
(flash pins, input-only pins) so a bad pin fails here rather than on the board.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class SettingError(ValueError):
    """A setting value that is malformed or out of range."""


REFRESH_HZ = (0.5, 1, 2, 4, 8, 16, 32, 64)
FLASH_PINS = range(6, 12)  # wired to the SPI flash on ESP32 modules
INPUT_ONLY_PINS = range(34, 40)
NONE_WORDS = ("none", "null", "off", "")
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


@dataclass(frozen=True)
class Setting:
    """One overridable config.json field.

    ``key`` names it in gates.toml and as a keyword of ``gate_config``;
    ``path`` is where it sits in config.json; ``kind`` is one of ``int``,
    ``float``, ``bool``, ``rate``, ``pin``, ``input_pin`` and ``optional_pin``.
    """

    key: str
    path: tuple[str, ...]
    default: Any
    kind: str
    help: str
    lo: float | None = None
    hi: float | None = None

    @property
    def option(self) -> str:
        """The command-line option that overrides it."""
        return "--" + {"relay": "relay-pin", "maintenance": "maintenance-pin"}.get(self.key, self.key.replace("_", "-"))

    @property
    def is_pin(self) -> bool:
        return self.kind.endswith("pin")

    def parse(self, value: Any) -> Any:
        """``value`` (command-line text or a TOML/JSON value) as this setting's type, checked."""
        if isinstance(value, str):
            value = self._from_text(value.strip())
        problem = self.check(value)
        if problem:
            raise SettingError(problem)
        if self.kind == "rate" and float(value).is_integer():
            return int(value)
        if self.kind == "float":
            return float(value)
        return value

    def _from_text(self, text: str) -> Any:
        try:
            if self.kind == "optional_pin" and text.lower() in NONE_WORDS:
                return None
            if self.kind == "bool":
                if text.lower() in _TRUE:
                    return True
                if text.lower() in _FALSE:
                    return False
                raise ValueError
            if self.kind in ("float", "rate"):
                return float(text)
            return int(text, 10)
        except ValueError:
            expected = {"bool": "true or false", "float": "a number", "rate": "a number",
                        "optional_pin": "a GPIO number or 'none'"}.get(self.kind, "an integer")
            raise SettingError(f"{self.key} must be {expected}, not {text!r}") from None

    def check(self, value: Any) -> str | None:
        """What is wrong with a typed value, or None if it is acceptable."""
        if value is None and self.kind == "optional_pin":
            return None
        if self.kind == "bool":
            return None if isinstance(value, bool) else f"{self.key} must be true or false"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"{self.key} must be a number"
        if self.kind == "rate":
            if value not in REFRESH_HZ:
                return f"{self.key} is {_num(value)}, must be one of {', '.join(map(_num, REFRESH_HZ))}"
            return None
        if self.kind != "float" and not isinstance(value, int):
            return f"{self.key} must be an integer, not {value!r}"
        if self.is_pin:
            return _pin_problem(self.key, value, output=self.kind != "input_pin")
        if not self.lo <= value <= self.hi:
            return f"{self.key} is {_num(value)}, must be {_num(self.lo)}..{_num(self.hi)}"
        return None


def _num(x: float) -> str:
    """A number as an installer would write it: 8, 0.5, 1000000."""
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _pin_problem(key: str, pin: int, output: bool) -> str | None:
    if not 0 <= pin <= 39:
        return f"{key} is GPIO {pin}, must be 0..39"
    if pin in FLASH_PINS:
        return f"{key} is GPIO {pin}, which is wired to the SPI flash on ESP32 modules (GPIO 6..11 are unusable)"
    if output and pin in INPUT_ONLY_PINS:
        return f"{key} is GPIO {pin}, which is input-only on the ESP32 (34..39): pick an output-capable pin"
    return None


SETTINGS: tuple[Setting, ...] = (
    Setting("keepalive_s", ("mqtt", "keepalive_s"), 30, "int", "MQTT keepalive in seconds", 10, 600),
    Setting("sda", ("pins", "sda"), 21, "pin", "I2C SDA GPIO"),
    Setting("scl", ("pins", "scl"), 22, "pin", "I2C SCL GPIO"),
    Setting("relay", ("pins", "relay"), 26, "pin", "door relay GPIO"),
    Setting("relay_active_high", ("pins", "relay_active_high"), True, "bool",
            "true if driving the relay pin high unlocks the door"),
    Setting("led_green", ("pins", "led_green"), 25, "optional_pin", "green LED GPIO or 'none'"),
    Setting("led_red", ("pins", "led_red"), 33, "optional_pin", "red LED GPIO or 'none'"),
    Setting("buzzer", ("pins", "buzzer"), 32, "optional_pin", "buzzer GPIO or 'none'"),
    Setting("status_led", ("pins", "status_led"), 2, "optional_pin", "status LED GPIO or 'none'"),
    Setting("maintenance", ("pins", "maintenance"), 0, "input_pin",
            "GPIO held low at power-on to enter maintenance mode"),
    Setting("i2c_freq", ("i2c_freq",), 1_000_000, "int", "I2C clock in Hz", 100_000, 1_000_000),
    Setting("refresh_hz", ("refresh_hz",), 8, "rate", "sensor refresh rate in Hz (subpages per second)"),
    Setting("door_pulse_ms", ("door_pulse_ms",), 3000, "int", "default door opening in ms", 100, 10_000),
    Setting("door_cap_ms", ("door_cap_ms",), 5000, "int", "longest opening the firmware allows, in ms", 500, 10_000),
    Setting("status_interval_s", ("status_interval_s",), 5, "int", "seconds between status messages", 1, 60),
    Setting("max_command_age_s", ("max_command_age_s",), 2.0, "float",
            "oldest door command the gate accepts, in seconds", 0.2, 10),
)
BY_KEY: dict[str, Setting] = {s.key: s for s in SETTINGS}


def parse_settings(values: dict[str, Any], where: str = "") -> dict[str, Any]:
    """Typed, checked copies of ``values``; unknown keys are an error naming ``where``."""
    out = {}
    for key, value in values.items():
        setting = BY_KEY.get(key)
        if setting is None:
            raise SettingError(f"{where}unknown setting {key!r} (known: {', '.join(BY_KEY)})")
        try:
            out[key] = setting.parse(value)
        except SettingError as exc:
            raise SettingError(f"{where}{exc}") from None
    return out


def cross_check(values: dict[str, Any]) -> list[str]:
    """Problems between settings: the door pulse within the cap, no GPIO used twice."""
    problems = []
    if values["door_pulse_ms"] > values["door_cap_ms"]:
        problems.append(f"door_pulse_ms ({values['door_pulse_ms']}) must not exceed door_cap_ms "
                        f"({values['door_cap_ms']})")
    seen: dict[int, str] = {}
    for s in SETTINGS:
        pin = values[s.key] if s.is_pin else None
        if pin is None:
            continue
        if pin in seen:
            problems.append(f"GPIO {pin} is used for both {seen[pin]} and {s.key}")
        else:
            seen[pin] = s.key
    return problems
