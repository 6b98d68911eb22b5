"""Wiring: real hardware, the gate, the watchdog. main.py calls main()."""

import gc
import os
import sys
import time

import machine
from micropython import const

import card_reader
import config
import qr_scanner
from door import Door, Indicators
from gate import Gate
from link import Link
from mlx90640 import MLX90640

WDT_TIMEOUT_MS = const(30000)  # far longer than any bounded call: socket connect 3 s, a full send buffer 1 s
CONNECT_TIMEOUT_S = const(3)
DOOR_TIMER = const(0)  # the hardware timer that ends door openings
LOOP_SLEEP_MS = const(2)
MAINTENANCE_FILE = "maintenance"


def maintenance_requested():
    """A file named 'maintenance' on the board, or the maintenance pin (config
    pins.maintenance, GPIO 0 if the config cannot be read) held low at boot."""
    try:
        os.stat(MAINTENANCE_FILE)
        return True
    except OSError:
        pass
    try:
        pin_number = config.load().pin_maintenance
    except config.ConfigError:
        pin_number = 0
    try:
        return machine.Pin(pin_number, machine.Pin.IN, machine.Pin.PULL_UP).value() == 0
    except Exception:
        return False


def _out(hw, number):
    return None if number is None else hw.Pin(number, hw.Pin.OUT, value=0)


def _random_bits(n):
    return int.from_bytes(os.urandom(4), "big") & ((1 << n) - 1)


def open_socket(host, port):
    """A TCP connection to the broker, then non-blocking: the connect is the one wait, bounded.

    Give the broker as an IP address: resolving a name can block for longer."""
    import socket

    addr = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0][-1]
    sock = socket.socket()
    try:
        sock.settimeout(CONNECT_TIMEOUT_S)
        sock.connect(addr)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def build(cfg, hw=machine, clock=time, wlan=None, open_socket=open_socket, random_bits=_random_bits,
          reboot=None, heap_free=None):
    """The gate on this board's pins; the door is locked before anything else happens.

    ``hw`` is where Pin, I2C, Timer and reset come from: the ``machine`` module
    on a board, a virtual board in the simulator. ``open_socket(host, port)``
    gives the broker's socket (a fake network in tests)."""
    door = Door(hw.Pin(cfg.pin_relay, hw.Pin.OUT, value=0 if cfg.relay_active_high else 1),
                cfg.relay_active_high, cfg.door_cap_ms, clock, hw.Timer(DOOR_TIMER))
    indicators = Indicators(_out(hw, cfg.pin_led_green), _out(hw, cfg.pin_led_red), _out(hw, cfg.pin_buzzer),
                            clock)
    def i2c_at(hz):  # on the ESP32, building I2C(0) again re-initialises the one peripheral at hz
        return hw.I2C(0, scl=hw.Pin(cfg.pin_scl), sda=hw.Pin(cfg.pin_sda), freq=hz)

    sensor = MLX90640(i2c_at(cfg.i2c_freq), bus=i2c_at, freq=cfg.i2c_freq)
    if wlan is None:
        import network

        wlan = network.WLAN(network.STA_IF)
    # The radio on before the boot id is drawn: the ESP32's RNG is truly random only with RF running.
    wlan.active(True)
    try:
        wlan.config(pm=wlan.PM_NONE)  # power save off: it delays received commands by up to a beacon interval
    except Exception:
        pass  # a build without power-save control
    readers = []  # the credential readers this gate has fitted (config qr_scanner, card_reader)
    if cfg.qr_scanner is not None:
        readers.append(qr_scanner.QRScanner(qr_scanner.uart(hw, cfg.qr_scanner)))
    if cfg.card_reader is not None:
        readers.append(card_reader.PN532(card_reader.uart(hw, cfg.card_reader), clock))
    gate = Gate(cfg, sensor, door, indicators, clock, random_bits(32), heap_free or gc.mem_free,
                reboot or hw.reset, readers)
    gate.link = Link(cfg, wlan, open_socket, clock, random_bits, gate.on_connect, gate.on_message,
                     (gate.topic_status, gate.offline_message()))
    return gate


def blink_forever(pin_number, message):
    """A config the gate cannot run with: say why, blink, never restart in a loop."""
    led = _out(machine, pin_number)
    while True:
        print(message)
        for _ in range(20):
            if led is not None:
                led.value(1 - led.value())
            time.sleep_ms(250)


def main():
    try:
        cfg = config.load()
    except config.ConfigError as exc:
        blink_forever(2, str(exc))
        return
    gate = build(cfg)
    gate.start_sensor()
    wdt = machine.WDT(timeout=WDT_TIMEOUT_MS)  # only once setup is done
    try:
        while True:
            gate.step()
            wdt.feed()
            time.sleep_ms(LOOP_SLEEP_MS)
    except BaseException as exc:
        gate.door.lock()
        if isinstance(exc, KeyboardInterrupt):
            raise
        sys.print_exception(exc)
        raise
