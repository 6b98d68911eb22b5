"""config.json on the board: read once at boot and checked field by field.

A bad config raises ConfigError with a message naming the field; main.py
prints it on the serial console and blinks the status LED instead of
restarting in a loop.
"""

import json

REFRESH_HZ = (0.5, 1, 2, 4, 8, 16, 32, 64)  # control register codes 0..7
FLASH_PINS = (6, 7, 8, 9, 10, 11)  # wired to the SPI flash on ESP32 modules
INPUT_ONLY_PINS = (34, 35, 36, 37, 38, 39)  # no output driver: cannot drive a relay, an LED or the I2C lines
READER_BAUDS = (9600, 19200, 38400, 57600, 115200)
I2C_FREQ_MIN = 100000
I2C_FREQ_MAX = 1000000  # Fast-mode Plus, the MLX90640's and the ESP32's fastest
# One subpage on the bus, as mlx90640.py reads it: status read (address, register, address, 2 bytes: 6
# bytes), clear (5), RAM (4 + 1664), status (6), control (6) = 1691 bytes of 9 clocks (8 bits and an
# acknowledge), plus a clock for each start, repeated start and stop (14). The same figures are in
# controller/gate_settings.py.
SUBPAGE_CLOCKS = 1691 * 9 + 14
LOOP_US = 4000  # the rest of the loop per subpage: MQTT write, CRC, MAC, the loop's sleep


class ConfigError(Exception):
    pass


def subpage_i2c_us(freq):
    """Microseconds a subpage takes on an I2C bus clocked at ``freq`` Hz."""
    return SUBPAGE_CLOCKS * 1000000 / freq


def slowest_i2c_freq(refresh_hz):
    """The slowest I2C clock (Hz, rounded up to a kHz) that reads a subpage and leaves LOOP_US
    of the subpage period for the rest of the loop; None if no clock can (the period is too short)."""
    budget_us = 1000000 / refresh_hz - LOOP_US
    if budget_us <= 0:
        return None
    hz = SUBPAGE_CLOCKS * 1000000 / budget_us
    khz = int(hz / 1000)
    if khz * 1000 < hz:
        khz += 1
    return max(khz * 1000, I2C_FREQ_MIN)


def i2c_freq_problem(freq, refresh_hz):
    """Why ``freq`` cannot keep up with ``refresh_hz``, or None if it can."""
    need = slowest_i2c_freq(refresh_hz)
    if need is not None and freq >= need:
        return None
    budget = "at %s Hz a subpage comes every %s ms, and %d ms of that go to the rest of the loop" % (
        _num(refresh_hz), _num(1000 / refresh_hz), LOOP_US // 1000)
    if need is None or need > I2C_FREQ_MAX:
        return ("refresh_hz %s is too fast for any I2C clock up to %d Hz: a subpage takes %.1f ms on the bus at "
                "%d Hz; %s; use refresh_hz %s or lower" % (_num(refresh_hz), I2C_FREQ_MAX,
                                                          subpage_i2c_us(I2C_FREQ_MAX) / 1000, I2C_FREQ_MAX, budget,
                                                          _num(fastest_refresh_hz(I2C_FREQ_MAX))))
    return ("i2c_freq %d Hz is too slow for refresh_hz %s: a subpage takes %.1f ms on the bus; %s; the slowest "
            "clock that works is %d Hz" % (freq, _num(refresh_hz), subpage_i2c_us(freq) / 1000, budget, need))


def fastest_refresh_hz(freq):
    """The highest refresh rate an I2C clock of ``freq`` Hz keeps up with."""
    best = REFRESH_HZ[0]
    for hz in REFRESH_HZ:
        need = slowest_i2c_freq(hz)
        if need is not None and need <= freq:
            best = hz
    return best


def _num(x):
    return str(int(x)) if x == int(x) else str(x)


def _get(d, key, kind, where):
    if key not in d:
        raise ConfigError("config.json: %s%s is missing" % (where, key))
    value = d[key]
    if kind is float and type(value) is int:
        value = float(value)
    if type(value) is not kind:
        raise ConfigError("config.json: %s%s must be %s" % (where, key, kind.__name__))
    return value


def _int_in(d, key, lo, hi, where=""):
    value = _get(d, key, int, where)
    if not lo <= value <= hi:
        raise ConfigError("config.json: %s%s is %d, must be %d..%d" % (where, key, value, lo, hi))
    return value


def _pin(pins, name, used, optional=False, output=True, where="pins."):
    """A GPIO number 0..39, not a flash pin, able to drive if ``output``, not used twice; None for an
    optional pin left out or null."""
    if optional and pins.get(name, None) is None:
        return None
    value = _int_in(pins, name, 0, 39, where)
    if value in FLASH_PINS:
        raise ConfigError("config.json: %s%s is GPIO %d, which is wired to the SPI flash on ESP32 modules "
                          "(GPIO 6..11 are unusable)" % (where, name, value))
    if output and value in INPUT_ONLY_PINS:
        raise ConfigError("config.json: %s%s is GPIO %d, which is input-only on the ESP32 (34..39): "
                          "pick an output-capable pin" % (where, name, value))
    if value in used:
        raise ConfigError("config.json: %s%s uses GPIO %d twice" % (where, name, value))
    used.append(value)
    return value


def _reader(d, name, used, uarts, baud, tx_optional):
    """An optional credential reader on a UART: (uart id, rx pin, tx pin or None, baud rate), or None when
    the section is absent or null (not fitted). UART 0 is the board's USB console: 1 or 2 only."""
    # controller/site/gate_settings.py checks the same rules for `thermogate gate set --qr-scanner` and
    # `--card-reader` (tests/test_gates_cli.py holds the two together).
    r = d.get(name, None)
    if r is None:
        return None
    where = name + "."
    if type(r) is not dict:
        raise ConfigError("config.json: %s must be an object or null" % name)
    uart_id = _int_in(r, "uart", 1, 2, where)
    if uart_id in uarts:
        raise ConfigError("config.json: %suart %d is already used by another reader" % (where, uart_id))
    uarts.append(uart_id)
    rx = _pin(r, "rx", used, output=False, where=where)
    tx = _pin(r, "tx", used, optional=tx_optional, where=where)
    if r.get("baud", None) is not None:
        baud = _get(r, "baud", int, where)
        if baud not in READER_BAUDS:
            raise ConfigError("config.json: %sbaud must be one of 9600, 19200, 38400, 57600, 115200" % where)
    return (uart_id, rx, tx, baud)


def _valid_gate_id(s):
    if not 1 <= len(s) <= 32 or s[0] == "-" or s[-1] == "-":
        return False
    for c in s:
        if not ("a" <= c <= "z" or "0" <= c <= "9" or c == "-"):
            return False
    return True


def _hex_key(s):
    if len(s) != 64:
        raise ConfigError("config.json: hmac_key must be 64 hex characters (32 bytes)")
    try:
        return bytes(int(s[i:i + 2], 16) for i in range(0, 64, 2))
    except ValueError:
        raise ConfigError("config.json: hmac_key must be 64 hex characters (32 bytes)")


class Config:
    def __init__(self, d):
        if type(d) is not dict:
            raise ConfigError("config.json: must be a JSON object")
        self.gate_id = _get(d, "gate_id", str, "")
        if not _valid_gate_id(self.gate_id):
            raise ConfigError("config.json: gate_id %r: use lowercase letters, digits and hyphens" % self.gate_id)
        wifi = _get(d, "wifi", dict, "")
        self.wifi_ssid = _get(wifi, "ssid", str, "wifi.")
        self.wifi_password = _get(wifi, "password", str, "wifi.")
        if not self.wifi_ssid:
            raise ConfigError("config.json: wifi.ssid is empty")
        mqtt = _get(d, "mqtt", dict, "")
        self.mqtt_host = _get(mqtt, "host", str, "mqtt.")
        if not self.mqtt_host:
            raise ConfigError("config.json: mqtt.host is empty")
        self.mqtt_port = _int_in(mqtt, "port", 1, 65535, "mqtt.")
        self.mqtt_user = _get(mqtt, "user", str, "mqtt.")
        self.mqtt_password = _get(mqtt, "password", str, "mqtt.")
        self.keepalive_s = _int_in(mqtt, "keepalive_s", 10, 600, "mqtt.")
        self.hmac_key = _hex_key(_get(d, "hmac_key", str, ""))
        pins = _get(d, "pins", dict, "")
        used = []
        self.pin_sda = _pin(pins, "sda", used)
        self.pin_scl = _pin(pins, "scl", used)
        self.pin_relay = _pin(pins, "relay", used)
        self.pin_maintenance = _pin(pins, "maintenance", used, output=False)
        self.pin_led_green = _pin(pins, "led_green", used, True)
        self.pin_led_red = _pin(pins, "led_red", used, True)
        self.pin_buzzer = _pin(pins, "buzzer", used, True)
        self.pin_status_led = _pin(pins, "status_led", used, True)
        self.relay_active_high = _get(pins, "relay_active_high", bool, "pins.")
        # Credential readers, each optional: absent or null = not fitted (docs/installation.md).
        uarts = []
        self.qr_scanner = _reader(d, "qr_scanner", used, uarts, 9600, True)
        self.card_reader = _reader(d, "card_reader", used, uarts, 115200, False)
        self.i2c_freq = _int_in(d, "i2c_freq", I2C_FREQ_MIN, I2C_FREQ_MAX)
        refresh = _get(d, "refresh_hz", float, "")
        if refresh not in REFRESH_HZ:
            raise ConfigError("config.json: refresh_hz must be one of 0.5, 1, 2, 4, 8, 16, 32, 64")
        problem = i2c_freq_problem(self.i2c_freq, refresh)
        if problem:
            raise ConfigError("config.json: " + problem)
        self.refresh_hz = refresh
        self.refresh_code = REFRESH_HZ.index(refresh)
        # the fastest rate a 'refresh' command may set with this bus clock
        self.max_refresh_code = REFRESH_HZ.index(fastest_refresh_hz(self.i2c_freq))
        self.door_cap_ms = _int_in(d, "door_cap_ms", 500, 10000)
        self.door_pulse_ms = _int_in(d, "door_pulse_ms", 100, self.door_cap_ms)
        self.status_interval_s = _int_in(d, "status_interval_s", 1, 60)
        age = _get(d, "max_command_age_s", float, "")
        if not 0.2 <= age <= 10:
            raise ConfigError("config.json: max_command_age_s must be 0.2..10")
        self.max_command_age_ms = int(age * 1000)


def load(path="config.json"):
    try:
        with open(path) as f:
            d = json.load(f)
    except OSError:
        raise ConfigError("config.json: not found on the board (write it with 'thermogate flash')")
    except ValueError as exc:
        raise ConfigError("config.json: not valid JSON (%s)" % exc)
    return Config(d)
