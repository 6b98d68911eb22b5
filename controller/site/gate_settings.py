"""The per-gate settings: defaults, parsing and checks.

Each :class:`Setting` is one field a gate may override (on the command line or
stored in ``gates.toml``). Most go into the board's config.json (``target``
"board"); their ranges match what the firmware checks at boot
(``firmware/config.py``), and pins are also checked against the ESP32's wiring
(flash pins, input-only pins) so a bad pin fails here rather than on the board.
The credential readers (``qr_scanner``, ``card_reader``) are board settings
too, each a small table (UART, RX and TX pins, baud rate) or None for not
fitted; their pins follow the same rules as the other pins. The others
(``target`` "screening") never reach the board: the controller reads
them from the registry into the gate's screening settings, as it does the lens
(the mounting: sensor height, tilt and the mark's distance).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..screening.frame_rate import SLOWEST_SCREENING_HZ, too_slow_to_screen
from ..sensor.frame import REFRESH_RATES_HZ


class SettingError(ValueError):
    """A setting value that is malformed or out of range."""


REFRESH_HZ = tuple(int(hz) if hz.is_integer() else hz for hz in REFRESH_RATES_HZ)  # 0.5, 1, 2 .. 64 as config.json
FLASH_PINS = range(6, 12)  # wired to the SPI flash on ESP32 modules
INPUT_ONLY_PINS = range(34, 40)
# Pins that are driven, pulsed or sampled while the ESP32 boots (Espressif's ESP32 datasheet, strapping
# pins; the UART0 console): a relay on one of them can pulse the door open on every reset.
BOOT_GLITCH_PINS = {
    0: "a strapping pin (held low at reset it starts the ROM bootloader) that outputs a clock signal at boot",
    1: "the serial console's TX line (UART0), which carries the boot messages",
    2: "a strapping pin, sampled at reset (many boards also wire an LED to it)",
    3: "the serial console's RX line (UART0), high at boot",
    5: "a strapping pin that outputs a signal at boot",
    12: "a strapping pin that sets the flash voltage: held high at power-on, the board does not even boot",
    14: "a pin that outputs a signal at boot",
    15: "a strapping pin that outputs a signal at boot",
}
# I2C time per subpage against the refresh rate: the same figures and wording as firmware/config.py,
# which checks a hand-written config.json on the board (tests/test_gates_cli.py holds the two together).
# One subpage as firmware/mlx90640.py reads it: status (6 bytes on the bus with address and register),
# clear (5), RAM (4 + 1664), status (6), control (6) = 1691 bytes of 9 clocks, plus 14 start/stop conditions.
I2C_FREQ_MAX = 1_000_000
SUBPAGE_CLOCKS = 1691 * 9 + 14
LOOP_US = 4000  # the rest of the gate's loop per subpage: MQTT write, CRC, MAC, the loop's sleep
NONE_WORDS = ("none", "null", "off", "")
# The credential readers (firmware/config.py's _reader): UART 1 or 2 (UART 0 is the USB console), an RX pin
# that may be input-only, a TX pin that must drive, one of these baud rates.
READER_UARTS = (1, 2)
READER_BAUDS = (9600, 19200, 38400, 57600, 115200)
READER_FIELDS = ("uart", "rx", "tx", "baud")
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


@dataclass(frozen=True)
class Setting:
    """One overridable config.json field.

    ``key`` names it in gates.toml and as a keyword of ``gate_config``;
    ``path`` is where it sits in config.json (board settings) or in the
    ``[screening]`` table (screening settings); ``kind`` is one of ``int``,
    ``float``, ``bool``, ``rate``, ``pin``, ``input_pin``, ``optional_pin``
    and ``reader`` (a credential reader: a dict of ``uart``, ``rx``, ``tx``
    and ``baud``, or None when not fitted; ``baud`` is its default baud rate,
    ``tx_required`` whether it needs its TX line); ``target`` is "board" or
    "screening".
    """

    key: str
    path: tuple[str, ...]
    default: Any
    kind: str
    help: str
    lo: float | None = None
    hi: float | None = None
    target: str = "board"
    baud: int | None = None
    tx_required: bool = False

    @property
    def option(self) -> str:
        """The command-line option that overrides it."""
        return "--" + _OPTIONS.get(self.key, self.key.replace("_", "-"))

    @property
    def on_board(self) -> bool:
        """Whether it goes into the board's config.json (else into the controller's screening settings)."""
        return self.target == "board"

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
        if self.kind == "reader" and value is not None:
            baud = value.get("baud")
            return {**{k: value[k] for k in ("uart", "rx", "tx") if value.get(k) is not None},
                    "baud": self.baud if baud is None else baud}  # the firmware's default made explicit
        return value

    def _from_text(self, text: str) -> Any:
        if self.kind == "reader":
            return self._reader_from_text(text)
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

    def _reader_from_text(self, text: str) -> dict[str, int] | None:
        """``uart=2,rx=16,tx=17,baud=9600`` (any order, tx and baud optional) or 'none'."""
        if text.lower() in NONE_WORDS:
            return None
        out: dict[str, int] = {}
        for part in text.split(","):
            name, eq, number = (x.strip() for x in part.partition("="))
            if not eq or name not in READER_FIELDS:
                raise SettingError(f"{self.key}: {part.strip()!r} is not one of uart=1|2, rx=GPIO, tx=GPIO, "
                                   f"baud=N (e.g. {self.option} {self.help_example}), or 'none'")
            if name in out:
                raise SettingError(f"{self.key}: {name} is given twice")
            try:
                out[name] = int(number, 10)
            except ValueError:
                raise SettingError(f"{self.key}.{name} must be an integer, not {number!r}") from None
        return out

    @property
    def help_example(self) -> str:
        """A reader's default wiring as its option takes it (docs/installation.md, "Credential readers")."""
        return {"qr_scanner": "uart=2,rx=16,tx=17", "card_reader": "uart=1,rx=18,tx=19"}.get(self.key, "")

    def _reader_problem(self, value: Any) -> str | None:
        """What is wrong with a reader's table; the same rules and words as firmware/config.py's _reader."""
        if not isinstance(value, dict):
            return f"{self.key} must be a table of uart, rx, tx and baud, or none"
        unknown = [k for k in value if k not in READER_FIELDS]
        if unknown:
            return f"{self.key} has unknown fields {', '.join(map(str, unknown))} (known: {', '.join(READER_FIELDS)})"
        for name in ("uart", "rx") + (("tx",) if self.tx_required else ()):
            if value.get(name) is None:
                return f"{self.key}.{name} is missing"
        for name in READER_FIELDS:
            number = value.get(name)
            if number is not None and (isinstance(number, bool) or not isinstance(number, int)):
                return f"{self.key}.{name} must be an integer, not {number!r}"
        if value["uart"] not in READER_UARTS:
            return (f"{self.key}.uart is {value['uart']}, must be 1..2 (UART 0 carries the board's USB console)")
        for name, output in (("rx", False), ("tx", True)):
            if value.get(name) is not None:
                problem = _pin_problem(f"{self.key}.{name}", value[name], output)
                if problem:
                    return problem
        if value.get("baud") is not None and value["baud"] not in READER_BAUDS:
            return f"{self.key}.baud must be one of {', '.join(map(str, READER_BAUDS))}"
        return None

    def check(self, value: Any) -> str | None:
        """What is wrong with a typed value, or None if it is acceptable."""
        if value is None and self.kind in ("optional_pin", "reader"):
            return None
        if self.kind == "reader":
            return self._reader_problem(value)
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
        if self.is_pin and isinstance(value, int):  # a pin that is not an int was refused above
            return _pin_problem(self.key, value, output=self.kind != "input_pin")
        lo = -math.inf if self.lo is None else self.lo  # a missing bound is no bound
        hi = math.inf if self.hi is None else self.hi
        if not lo <= value <= hi:
            return f"{self.key} is {_num(value)}, must be {_num(lo)}..{_num(hi)}"
        return None


_OPTIONS = {"relay": "relay-pin", "maintenance": "maintenance-pin", "sensor_height_m": "sensor-height",
            "tilt_deg": "tilt", "mark_distance_m": "mark-distance"}


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



def subpage_i2c_us(freq: float) -> float:
    """Microseconds a subpage takes on an I2C bus clocked at ``freq`` Hz."""
    return SUBPAGE_CLOCKS * 1_000_000 / freq


def slowest_i2c_freq(refresh_hz: float) -> int | None:
    """The slowest I2C clock (Hz, rounded up to a kHz, at least 100 kHz) that reads a subpage within
    the subpage period less LOOP_US; None if the period is shorter than LOOP_US."""
    budget_us = 1_000_000 / refresh_hz - LOOP_US
    if budget_us <= 0:
        return None
    hz = SUBPAGE_CLOCKS * 1_000_000 / budget_us
    khz = int(hz / 1000)
    if khz * 1000 < hz:
        khz += 1
    return max(khz * 1000, 100_000)


def fastest_refresh_hz(freq: float) -> float:
    """The highest refresh rate an I2C clock of ``freq`` Hz keeps up with."""
    fitting = [hz for hz in REFRESH_HZ if (slowest_i2c_freq(hz) or freq + 1) <= freq]
    return fitting[-1] if fitting else REFRESH_HZ[0]


def i2c_freq_problem(freq: int, refresh_hz: float) -> str | None:
    """Why an I2C clock of ``freq`` Hz cannot keep up with ``refresh_hz``, naming the slowest clock that
    can (or the fastest refresh rate any clock can keep up with); None if it can."""
    need = slowest_i2c_freq(refresh_hz)
    if need is not None and freq >= need:
        return None
    budget = (f"at {_num(refresh_hz)} Hz a subpage comes every {_num(1000 / refresh_hz)} ms, and "
              f"{LOOP_US // 1000} ms of that go to the rest of the loop")
    if need is None or need > I2C_FREQ_MAX:
        return (f"refresh_hz {_num(refresh_hz)} is too fast for any I2C clock up to {I2C_FREQ_MAX} Hz: a subpage "
                f"takes {subpage_i2c_us(I2C_FREQ_MAX) / 1000:.1f} ms on the bus at {I2C_FREQ_MAX} Hz; {budget}; "
                f"use refresh_hz {_num(fastest_refresh_hz(I2C_FREQ_MAX))} or lower")
    return (f"i2c_freq {freq} Hz is too slow for refresh_hz {_num(refresh_hz)}: a subpage takes "
            f"{subpage_i2c_us(freq) / 1000:.1f} ms on the bus; {budget}; the slowest clock that works is {need} Hz")


def relay_pin_problem(pin: int) -> str | None:
    """Why the relay should not be on GPIO ``pin`` (a pin that glitches at boot), or None."""
    why = BOOT_GLITCH_PINS.get(pin)
    if why is None:
        return None
    return (f"relay is GPIO {pin}, {why}: a relay on a pin that glitches or is strapped at boot can pulse the "
            f"door open on every reset or power-up. Pick another pin (GPIO 26, the default, or 25, 27, 32, 33) "
            f"or give --force if the relay's driver keeps it off while the board boots")


def wiring_warnings(values: dict[str, Any]) -> list[str]:
    """Warnings about a gate's door wiring that are allowed but risky: a relay on a boot-glitch pin
    (accepted with --force), an active-low relay module."""
    warnings = []
    pin = values.get("relay")
    if isinstance(pin, int) and pin in BOOT_GLITCH_PINS:
        warnings.append(f"the relay is on GPIO {pin}, {BOOT_GLITCH_PINS[pin]}: it can pulse the door open on "
                        "every reset or power-up. Check it: with the lock wired, press EN (reset) a few times and "
                        "power the gate off and on; the door must stay locked each time")
    if values.get("relay_active_high") is False:
        warnings.append("the relay is active-low: such a module energises when its input is low, and its input "
                        "is not held high while the ESP32 is unpowered, held in reset or starting (the module's "
                        "input current then flows into the board's pin), so the door can open. Prefer an "
                        "active-high module or the transistor driver of docs/installation.md. With an active-low "
                        "module, power it from the same supply as the ESP32, and check that the door stays locked "
                        "while EN is held down and while the ESP32 alone is unpowered")
    return warnings


def sensor_warnings(values: dict[str, Any]) -> list[str]:
    """Warnings about a gate's sensor settings that are allowed but cost the screening: a refresh rate
    below SLOWEST_SCREENING_HZ (kept for wiring that cannot carry a faster clock, and for tests)."""
    rate = values.get("refresh_hz")
    if isinstance(rate, (int, float)) and not isinstance(rate, bool) and too_slow_to_screen(rate):
        return [f"the sensor refreshes at {_num(rate)} Hz: below {SLOWEST_SCREENING_HZ} Hz people who stand "
                f"1-2 s at the mark are rarely decided (a decision needs half a second of standing frames, and "
                f"the reference's window 16 frames). Keep refresh_hz at {SLOWEST_SCREENING_HZ} or more; with long "
                f"I2C wires, move the ESP32 to the sensor (docs/installation.md, \"The sensor\")"]
    return []


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
    Setting("i2c_freq", ("i2c_freq",), 1_000_000, "int",
            "I2C clock in Hz for images (the calibration is read at 400 kHz); it must keep up with the "
            "refresh rate: at least 126000 at 8 Hz, 261000 at 16 Hz, 560000 at 32 Hz", 100_000, 1_000_000),
    Setting("refresh_hz", ("refresh_hz",), 8, "rate", "sensor refresh rate in Hz (subpages per second)"),
    Setting("door_pulse_ms", ("door_pulse_ms",), 3000, "int", "default door opening in ms", 100, 10_000),
    Setting("door_cap_ms", ("door_cap_ms",), 5000, "int", "longest opening the firmware allows, in ms", 500, 10_000),
    Setting("status_interval_s", ("status_interval_s",), 5, "int", "seconds between status messages", 1, 60),
    Setting("max_command_age_s", ("max_command_age_s",), 2.0, "float",
            "oldest door command the gate accepts, in seconds", 0.2, 10),
    # The credential readers (docs/installation.md, "Credential readers"), as firmware/config.py reads them.
    Setting("qr_scanner", ("qr_scanner",), None, "reader",
            "the QR-code scanner: its UART (1 or 2), rx = the GPIO its TX is wired to, tx = the GPIO its RX "
            "is wired to (optional), baud (default 9600), e.g. uart=2,rx=16,tx=17; 'none' if not fitted "
            "(the default)", baud=9600),
    Setting("card_reader", ("card_reader",), None, "reader",
            "the PN532 card reader: its UART (1 or 2, not the scanner's), rx = the GPIO its TXD is wired to, "
            "tx = the GPIO its RXD is wired to (required), baud (default 115200), e.g. uart=1,rx=18,tx=19; "
            "'none' if not fitted (the default)", baud=115200,
            tx_required=True),
    # The mounting (docs/installation.md, "Mounting geometry"): read by the controller's screening, not the board.
    Setting("sensor_height_m", ("screening", "sensor_height_m"), 1.30, "float",
            "height of the sensor's lens above the floor, in metres", 0.5, 3.0, target="screening"),
    Setting("tilt_deg", ("screening", "tilt_deg"), 0.0, "float",
            "how far the sensor looks up (+) or down (-) from level, in degrees", -45.0, 45.0, target="screening"),
    Setting("mark_distance_m", ("screening", "mark_distance_m"), None, "float",
            "along the floor from below the sensor to the face of someone on the mark, in metres "
            "(default: the lens's recommended 0.90 m for 55, 0.45 m for 110)", 0.2, 2.0, target="screening"),
)
BY_KEY: dict[str, Setting] = {s.key: s for s in SETTINGS}
BOARD_SETTINGS: tuple[Setting, ...] = tuple(s for s in SETTINGS if s.on_board)
SCREENING_SETTINGS: tuple[Setting, ...] = tuple(s for s in SETTINGS if not s.on_board)


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


def reader_pins(values: dict[str, Any]) -> list[tuple[str, int]]:
    """The fitted readers' pins as (name, GPIO), e.g. ("qr_scanner.rx", 16), in the firmware's order."""
    pins = []
    for s in SETTINGS:
        reader = values.get(s.key) if s.kind == "reader" else None
        if isinstance(reader, dict):
            pins += [(f"{s.key}.{name}", reader[name]) for name in ("rx", "tx") if reader.get(name) is not None]
    return pins


def describe(value: Any) -> str:
    """A setting's value as the installer gives it on the command line."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items())
    return str(value)


def cross_check(values: dict[str, Any]) -> list[str]:
    """Problems between settings: the door pulse within the cap, no GPIO used twice (readers' pins
    included), the two readers on different UARTs, an I2C clock fast enough for the refresh rate."""
    problems = []
    if values["door_pulse_ms"] > values["door_cap_ms"]:
        problems.append(f"door_pulse_ms ({values['door_pulse_ms']}) must not exceed door_cap_ms "
                        f"({values['door_cap_ms']})")
    seen: dict[int, str] = {}
    pins = [(s.key, values[s.key]) for s in SETTINGS if s.is_pin] + reader_pins(values)
    for key, pin in pins:
        if pin is None:
            continue
        if pin in seen:
            problems.append(f"GPIO {pin} is used for both {seen[pin]} and {key}")
        else:
            seen[pin] = key
    uarts: dict[int, str] = {}
    for s in SETTINGS:
        reader = values.get(s.key) if s.kind == "reader" else None
        if not isinstance(reader, dict):
            continue
        if reader["uart"] in uarts:
            problems.append(f"{uarts[reader['uart']]} and {s.key} are both on UART {reader['uart']}: "
                            f"give each reader its own UART (1 or 2)")
        else:
            uarts[reader["uart"]] = s.key
    freq, refresh = values.get("i2c_freq"), values.get("refresh_hz")
    if isinstance(freq, int) and refresh in REFRESH_HZ:
        problem = i2c_freq_problem(freq, refresh)
        if problem:
            problems.append(problem)
    return problems
