"""Wiring: real hardware, the gate, the watchdog. main.py calls main()."""

import gc
import os
import sys
import time

import machine
from micropython import const

import config
from door import Door, Indicators
from gate import Gate
from link import Link
from mlx90640 import MLX90640

WDT_TIMEOUT_MS = const(30000)  # longer than any bounded call: socket timeout 5 s, Wi-Fi steps
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


def _mqtt_client(client_id, host, port, user, password, keepalive):
    from umqtt.simple import MQTTClient

    return MQTTClient(client_id, host, port, user or None, password or None, keepalive)


def build(cfg, hw=machine, clock=time, wlan=None, make_client=_mqtt_client, random_bits=_random_bits,
          reboot=None, heap_free=None):
    """The gate on this board's pins; the door is locked before anything else happens.

    ``hw`` is where Pin, I2C and reset come from: the ``machine`` module on a
    board, a virtual board in the simulator."""
    door = Door(hw.Pin(cfg.pin_relay, hw.Pin.OUT, value=0 if cfg.relay_active_high else 1),
                cfg.relay_active_high, cfg.door_cap_ms, clock)
    indicators = Indicators(_out(hw, cfg.pin_led_green), _out(hw, cfg.pin_led_red), _out(hw, cfg.pin_buzzer),
                            clock)
    i2c = hw.I2C(0, scl=hw.Pin(cfg.pin_scl), sda=hw.Pin(cfg.pin_sda), freq=cfg.i2c_freq)
    sensor = MLX90640(i2c)
    gate = Gate(cfg, sensor, door, indicators, clock, random_bits(32), heap_free or gc.mem_free,
                reboot or hw.reset)
    if wlan is None:
        import network

        wlan = network.WLAN(network.STA_IF)
    gate.link = Link(cfg, wlan, make_client, clock, random_bits, gate.on_connect, gate.on_message,
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
