"""Failure scenarios of the gate's link, run unchanged under CPython and under MicroPython.

Each scenario boots the real firmware (its own MQTT client included) on fake
hardware: the fake network (sim/hardware/fakenet.py) is a byte-level MQTT
broker whose sockets raise where a real socket would block forever. A
scenario returns a dict of plain values; ``measure`` adds what every test
checks: the door's openings, the longest single step of the loop (a hang
would show there, or as a Hang), resets, and whether the gate is back in
service (link up, subscribed, frames flowing, a fresh command obeyed).

Commands are signed here with the firmware's own HMAC (auth.Hmac); the
CPython tests check that it agrees with the controller's signer.
"""

import json

import app
import auth
import config
import fake_mlx90640
import fakeclock
import fakenet
import machine
import network

STEP_MS = 5
FRAME_MS = 125  # 8 Hz
WDT_MS = 30000


class StallingSensor:
    """The sensor on the bus, but the next read takes ``stall_ms``: a loop stuck in a call."""

    def __init__(self, sensor, clock):
        self.sensor = sensor
        self.clock = clock
        self.stall_ms = 0

    def read_into(self, register, buf):
        if self.stall_ms:
            ms, self.stall_ms = self.stall_ms, 0
            self.clock.advance(ms)
        return self.sensor.read_into(register, buf)

    def write(self, register, data):
        return self.sensor.write(register, data)


class Rig:
    def __init__(self, cfg_dict, eeprom, frames, key, boot_bits=0x2A5):
        self.clock = fakeclock.FakeClock(1000)
        machine.clock = self.clock
        machine.devices.clear()
        machine.Pin.pins.clear()
        self.broker = fakenet.FakeBroker()
        self.sensor = fake_mlx90640.FakeMLX90640(eeprom)
        self.bus = StallingSensor(self.sensor, self.clock)
        machine.devices[0x33] = self.bus
        self.frames = frames
        self.key = key
        self.hmac = auth.Hmac(key)
        self.wlan = network.WLAN()
        self.wlan.up = True
        self.cfg = config.Config(cfg_dict)
        self.resets = 0
        self.gate = app.build(self.cfg, clock=self.clock, wlan=self.wlan, open_socket=self.broker.open_socket,
                              random_bits=lambda n: boot_bits & ((1 << n) - 1), reboot=self._reset,
                              heap_free=lambda: 0)
        self.relay = machine.Pin.pins[self.cfg.pin_relay]
        self.gate_id = self.cfg.gate_id
        self.counter = 0
        self.max_step_ms = 0
        self.hang = ""
        self._next_frame = self.clock.now + FRAME_MS
        self._frame_n = 0
        self.gate.start_sensor()

    def _reset(self):
        self.resets += 1

    def topic(self, kind):
        return ("thermogate/" + self.gate_id + "/" + kind).encode()

    def run(self, ms):
        end = self.clock.now + ms
        while self.clock.now < end:
            if self.clock.now >= self._next_frame:
                self.sensor.load(self.frames[self._frame_n % len(self.frames)])
                self._frame_n += 1
                self._next_frame += FRAME_MS
            before = self.clock.now
            try:
                self.gate.step()
            except fakenet.Hang as exc:
                self.hang = str(exc)
                return
            took = self.clock.now - before
            if took > self.max_step_ms:
                self.max_step_ms = took
            self.clock.advance(STEP_MS)

    def command(self, act, arg=0, counter=None, seq=None):
        """A command signed as the controller signs it, decided on the latest frame."""
        if counter is None:
            self.counter += 1
            counter = self.counter
        boot = self.gate.boot_id
        seq = self.gate.sequence if seq is None else seq
        tag = self.hmac.hexdigest(auth.mac_message(self.gate_id, boot, counter, act, arg, seq)).decode()
        return json.dumps({"v": 2, "gate": self.gate_id, "boot": boot, "ctr": counter, "act": act, "arg": arg,
                           "seq": seq, "tag": tag}).encode()

    def send(self, *payloads):
        for p in payloads:
            self.broker.inbox.append((self.topic("cmd"), p))

    def acks(self):
        return [json.loads(p) for p in self.broker.take(self.topic("ack"))]

    def openings(self):
        """(opened at, closed at) for every opening of the relay, in fake ms (closed None if still open)."""
        on = 1 if self.cfg.relay_active_high else 0
        out = []
        opened = None
        for t, v in self.relay.history:
            if v == on and opened is None:
                opened = t
            elif v != on and opened is not None:
                out.append((opened, t))
                opened = None
        if opened is not None:
            out.append((opened, None))
        return out

    def in_service(self):
        """Link up and subscribed, frames flowing, and a fresh open obeyed and acknowledged."""
        self.broker.take(self.topic("frame"))
        self.run(1000)
        frames = len(self.broker.take(self.topic("frame")))
        self.acks()
        self.send(self.command("open", 500))
        self.run(800)
        acks = self.acks()
        return (self.gate.link.state == 4 and self.gate.link.subscribed and frames >= 6
                and len(acks) == 1 and acks[0]["ok"] and acks[0]["applied_ms"] == 500)

    def measure(self, result):
        openings = self.openings()
        longest = 0
        for opened, closed in openings:
            d = (closed if closed is not None else self.clock.now + 10 ** 6) - opened
            if d > longest:
                longest = d
        result["openings"] = len(openings)
        result["longest_opening_ms"] = longest
        result["cap_ms"] = self.cfg.door_cap_ms
        result["max_step_ms"] = self.max_step_ms
        result["hang"] = self.hang
        result["hangs"] = self.broker.hangs + (1 if self.hang else 0)
        result["resets"] = self.resets + (1 if self.max_step_ms >= WDT_MS else 0)
        result["drops"] = self.gate.link.drops
        result["timer_locks"] = self.gate.door.timer_locks
        if not self.hang:
            result["back_in_service"] = self.in_service()
        return result


# -- the scenarios -------------------------------------------------------------


def pass_open_then_indicate(rig):
    """A PASS as the controller sends it: the measuring light while the person stands at the mark, then `open`
    and `indicate` back to back."""
    rig.run(500)
    pins = machine.Pin.pins
    green, red = pins[rig.cfg.pin_led_green], pins[rig.cfg.pin_led_red]
    rig.send(rig.command("indicate", 4))
    rig.run(100)
    lit = (green.level, red.level)
    rig.run(200)  # past the first 250 ms: the blink's off phase
    dark = (green.level, red.level)
    rig.send(rig.command("open", 3000), rig.command("indicate", 1))
    rig.run(300)
    acks = rig.acks()
    shown = (green.level, red.level)
    rig.run(4000)
    return {"acks": [(a["act"], a["ok"], a["applied_ms"]) for a in acks], "lights": [lit, dark, shown]}


def burst_of_ten(rig):
    rig.run(500)
    acts = ("open", "indicate", "indicate", "lock", "indicate", "open", "indicate", "indicate", "lock", "indicate")
    rig.send(*[rig.command(a, 1000 if a == "open" else (1 if a == "indicate" else 0)) for a in acts])
    rig.run(500)
    acks = rig.acks()
    rig.run(2000)
    return {"acks": len(acks), "ok": sum(1 for a in acks if a["ok"]),
            "counters": [a["ctr"] for a in acks]}


def puback_never_comes(rig):
    """The broker takes the ack but never acknowledges it."""
    rig.run(500)
    rig.broker.answer_publish = False
    rig.send(rig.command("open", 5000))
    rig.run(200)
    acks = rig.acks()
    rig.run(12000)  # the PUBACK deadline passes: the link is dropped and tried again
    dropped = rig.gate.link.drops
    rig.broker.answer_publish = True
    rig.run(20000)  # reconnects with backoff
    return {"acks": len(acks), "dropped": dropped}


def silent_at_connect(rig):
    rig.broker.answer_connect = False
    rig.run(12000)
    unsent = rig.gate.frames_unsent
    rig.broker.answer_connect = True
    rig.run(20000)
    return {"unsent_while_silent": unsent, "connects": rig.gate.link.connects}


def silent_at_subscribe(rig):
    rig.broker.answer_subscribe = False
    rig.run(12000)
    dropped = rig.gate.link.drops
    rig.broker.answer_subscribe = True
    rig.run(20000)
    return {"dropped": dropped}


def silent_during_frames(rig):
    """The broker stops reading while the door is open: the send buffer fills mid-frame."""
    rig.run(500)
    rig.send(rig.command("open", 5000))
    rig.run(200)
    rig.broker.stalled = True
    rig.run(15000)
    dropped = rig.gate.link.drops
    rig.broker.stalled = False
    for s in rig.broker.sockets:
        s.unread = 0
    rig.run(20000)
    return {"dropped": dropped, "unsent": rig.gate.frames_unsent}


def silent_during_ack(rig):
    """The broker delivers a command and goes silent before the ack is acknowledged."""
    rig.run(500)
    rig.broker.silent_after_delivery = True
    rig.send(rig.command("open", 5000))
    rig.run(15000)
    dropped = rig.gate.link.drops
    rig.broker.silent_after_delivery = False
    rig.broker.silent = False
    rig.run(20000)
    return {"dropped": dropped}


def reinit_while_command_arrives(rig):
    """The sensor fails and is re-initialised (EEPROM republished at QoS 1) while commands arrive."""
    rig.run(500)
    rig.sensor.fail_reads = 3
    rig.run(2050)  # the read fails, the retry comes 2 s later
    rig.send(rig.command("indicate", 3), rig.command("lock"))
    rig.run(300)
    acks = rig.acks()
    rig.run(1000)
    return {"acks": len(acks), "reinits": rig.gate.sensor_resets,
            "eeproms": len(rig.broker.take(rig.topic("eeprom")))}


def message_of_64k(rig):
    rig.run(500)
    rig.send(b"{" + b"x" * 65536 + b"}")
    rig.run(500)
    acks_after_big = len(rig.acks())
    return {"acks_for_big": acks_after_big, "oversized": rig.gate.link.client.oversized}


def refused_subscription(rig):
    rig.broker.refuse_subscriptions = True
    rig.run(3000)
    subscribed = rig.gate.link.subscribed
    frames = len(rig.broker.take(rig.topic("frame")))
    status = json.loads(rig.gate.status_message())
    rig.broker.refuse_subscriptions = False
    rig.run(31000)  # asked again after RESUBSCRIBE_MS
    return {"subscribed_while_refused": subscribed, "frames_while_refused": frames,
            "status_subscribed": status["subscribed"], "refusals": rig.gate.link.sub_refused}


def loop_stalled_mid_opening(rig):
    """The loop is stuck in one call for 8 s right after the door opened: the timer ends the opening."""
    rig.run(500)
    rig.send(rig.command("open", 5000))
    rig.run(50)
    rig.bus.stall_ms = 8000
    rig.run(200)
    return {}


SCENARIOS = (pass_open_then_indicate, burst_of_ten, puback_never_comes, silent_at_connect, silent_at_subscribe,
             silent_during_frames, silent_during_ack, reinit_while_command_arrives, message_of_64k,
             refused_subscription, loop_stalled_mid_opening)


def run_scenario(name, cfg_dict, eeprom, frames, key):
    for scenario in SCENARIOS:
        if scenario.__name__ == name:
            rig = Rig(cfg_dict, eeprom, frames, key)
            result = scenario(rig)
            return rig.measure(result)
    raise ValueError("no scenario " + name)


def run_all(cfg_dict, eeprom, frames, key):
    return {s.__name__: run_scenario(s.__name__, cfg_dict, eeprom, frames, key) for s in SCENARIOS}
