"""The gate: sensor frames out, authenticated commands in, door fail-secure.

One `step()` does a bounded amount of work: advance the link, send a subpage
if one is ready, handle waiting commands, send their acks, run the door and
indicator timers, and send the heartbeat when due. Nothing in it waits for
the network. Commands act inside the client's poll; their acks are queued and
published after it returns, so no publish ever runs inside another.
"""

import json

from micropython import const

import auth
import wire
from config import REFRESH_HZ
from credential import Credentials, Debounce
from link import Link  # noqa: F401 (the type of self.link, in a type comment)
from mlx90640 import SensorError

FIRMWARE_VERSION = "0.3.0"
PROTOCOL = const(2)
INDICATIONS = const(4)  # the highest `indicate` argument this firmware shows (4: measuring), told in the status
SENSOR_RETRY_MS = const(2000)
MAX_QUEUED_ACKS = const(16)  # more than one poll delivers (mqtt.MAX_PACKETS_PER_POLL)
MAX_SEQUENCE = const(0x3FFFFFFF)  # 2**30 - 1 frames: 4 years at 8 Hz; then a clean restart


class Gate:
    def __init__(self, cfg, sensor, door, indicators, clock, boot_id, heap_free, reboot, readers=()):
        """``readers``: the credential readers fitted (qr_scanner.QRScanner, card_reader.PN532), each with
        ``KIND``, ``code`` and ``poll(now)``."""
        self.cfg = cfg
        self.sensor = sensor
        self.door = door
        self.indicators = indicators
        self.clock = clock
        self.boot_id = boot_id
        self._heap_free = heap_free
        self._reboot = reboot
        # Set by app.build, since the link needs this gate's callbacks.
        self.link = None  # type: Link | None
        prefix = "thermogate/" + cfg.gate_id + "/"
        self.topic_frame = (prefix + "frame").encode()
        self.topic_eeprom = (prefix + "eeprom").encode()
        self.topic_status = (prefix + "status").encode()
        self.topic_cmd = (prefix + "cmd").encode()
        self.topic_ack = (prefix + "ack").encode()
        self.mac = auth.SensorMac(cfg.hmac_key)
        self.readers = [(r, Debounce(clock)) for r in readers]
        self.credentials = Credentials(cfg.gate_id, boot_id, self.mac, (prefix + "credential").encode(), clock)
        self.reader_faults = 0  # exceptions from a reader's UART, each one a skipped poll
        self.frame = wire.frame_message(boot_id, self.mac)
        self.eeprom = wire.eeprom_message(boot_id, self.mac)
        self._frame_header = None  # the frame's PUBLISH header, made at the first connection
        self._acks = []  # ack payloads waiting to be published after the poll
        self.acks_dropped = 0
        sensor.bind(self.frame.words)
        # A refresh rate the I2C clock cannot keep up with would only make the sensor fail and re-initialise.
        self.guard = auth.CommandGuard(cfg.gate_id, cfg.hmac_key, boot_id, cfg.max_command_age_ms, clock,
                                       {"refresh": cfg.max_refresh_code})
        self.refresh_code = cfg.refresh_code
        self.sensor_ok = False
        self.eeprom_ok = False
        self.sensor_resets = 0
        self.sequence = 0
        self.frames_sent = 0
        self.frames_unsent = 0
        self._reinit = False
        self._next_sensor_try = clock.ticks_ms()
        self._last_tick = clock.ticks_ms()
        self.uptime_ms = 0
        self._next_status = self._last_tick
        self._frames_at_status = 0
        self._reboot_pending = False

    # -- lifecycle ------------------------------------------------------------

    def offline_message(self):
        body = json.dumps({"v": PROTOCOL, "gate": self.cfg.gate_id, "online": False, "boot": self.boot_id})
        return self.mac.seal_json(b"status", body.encode())

    def start_sensor(self):
        """Dump the EEPROM and configure the sensor; False (and a retry later) on failure."""
        now = self.clock.ticks_ms()
        try:
            self.sensor.dump_eeprom(self.eeprom.words)
            self.eeprom.seal(0, now)
            self.sensor.configure(self.refresh_code, chess=True)
        except SensorError as exc:
            print("sensor:", exc)
            self.sensor_ok = False
            self._next_sensor_try = self.clock.ticks_add(now, SENSOR_RETRY_MS)
            return False
        if self.sequence:
            self.sensor_resets += 1
            self._reinit = True
        self.sensor_ok = self.eeprom_ok = True
        if self.link is not None:
            self.link.publish(self.topic_eeprom, self.eeprom.buf, True, 1)
        return True

    def on_connect(self, link):
        """After every (re)connection: retained state first, then commands."""
        if self._frame_header is None:
            self._frame_header = link.frame_header(self.topic_frame, wire.FRAME_BYTES)
        if self.eeprom_ok:
            link.publish(self.topic_eeprom, self.eeprom.buf, True, 1)
        link.publish(self.topic_status, self.status_message(), True, 1)
        link.subscribe(self.topic_cmd, 1)

    # -- the loop -------------------------------------------------------------

    def step(self):
        now = self.clock.ticks_ms()
        self.uptime_ms += self.clock.ticks_diff(now, self._last_tick)
        self._last_tick = now
        if self.link is not None:
            self.link.tick()
        if self.sensor_ok:
            self._read_frame(now)
        elif self.clock.ticks_diff(self._next_sensor_try, now) <= 0:
            self.start_sensor()
        if self.link is not None:
            self.link.poll()
            self._send_acks()
        if self.readers:
            self._read_credentials(now)
        self.door.tick()
        self.indicators.tick()
        if self.clock.ticks_diff(self._next_status, now) <= 0:
            self._next_status = self.clock.ticks_add(now, self.cfg.status_interval_s * 1000)
            if self.link is not None:
                self.link.publish(self.topic_status, self.status_message(), True, 0)
            self._frames_at_status = self.frames_sent
        if self._reboot_pending:
            self.door.lock()
            self._reboot()

    def _read_frame(self, now):
        try:
            if not self.sensor.data_ready():
                return
            self.sensor.read_subpage()
        except SensorError as exc:
            print("sensor:", exc)
            self.door.lock()  # fail-secure on every error
            self.sensor_ok = False
            self._next_sensor_try = self.clock.ticks_add(now, SENSOR_RETRY_MS)
            return
        self.sequence += 1
        if self.sequence >= MAX_SEQUENCE:
            self._reboot_pending = True  # new boot id, sequence from 1: commands can never alias
        flags = (wire.FLAG_SENSOR_REINIT if self._reinit else 0) | (wire.FLAG_I2C_RETRY if self.sensor.retried else 0)
        self._reinit = False
        self.frame.seal(self.sequence, now, flags)
        if self.link is not None and self.link.publish(self.topic_frame, self.frame.buf, False, 0,
                                                       self._frame_header):
            self.frames_sent += 1
            self.guard.frames.sent(self.sequence, now)
        else:
            self.frames_unsent += 1

    # -- commands -------------------------------------------------------------

    def on_message(self, topic, msg):
        try:
            cmd = json.loads(msg)
        except Exception:  # not JSON, or too deep or too big to parse (RecursionError, MemoryError)
            cmd = None
        reason, counter = self.guard.check(cmd)
        act, applied = "", 0
        if reason is None and type(cmd) is dict:
            act = cmd["act"]
            applied = self._apply(act, cmd["arg"])
        elif type(cmd) is dict and type(cmd.get("act")) is str:
            act = cmd["act"][:16]
        ack = {"v": PROTOCOL, "gate": self.cfg.gate_id, "ctr": counter, "ok": reason is None, "reason": reason or "",
               "act": act, "applied_ms": applied, "seq": self.sequence, "last": self.guard.last_counter}
        if len(self._acks) < MAX_QUEUED_ACKS:
            self._acks.append(self.mac.seal_json(b"ack", json.dumps(ack).encode()))
        else:
            self.acks_dropped += 1

    def _send_acks(self):
        """Publish the acks of the commands the last poll delivered (QoS 1, never from inside the poll)."""
        link = self.link
        while self._acks and link is not None:
            if not link.publish(self.topic_ack, self._acks.pop(0), False, 1):
                self.acks_dropped += 1 + len(self._acks)  # the link is down: the controller sees them missing
                self._acks = []

    # -- credentials ----------------------------------------------------------

    def _read_credentials(self, now):
        """At most one code per reader per step; then what waits goes out at QoS 1 (after the poll)."""
        for reader, debounce in self.readers:
            try:
                n = reader.poll(now)
            except Exception as exc:  # a UART fault must not stop the frame loop
                self.reader_faults += 1
                print("reader:", exc)
                continue
            if n:
                self.credentials.offer(reader.KIND, debounce, reader.code, n, now)
        if self.credentials.waiting:
            self.credentials.send(self.link, now)

    def _apply(self, act, arg):
        """Carry out a command the guard accepted; returns the opening granted, in ms."""
        if act == "open":
            return self.door.open_for(arg if arg > 0 else self.cfg.door_pulse_ms)
        if act == "lock":
            self.door.lock()
        elif act == "indicate":
            self.indicators.show(arg)
        elif act == "refresh":
            self.refresh_code = arg
            self.sensor_ok = False  # re-initialised with the new rate on the next step
            self._next_sensor_try = self.clock.ticks_ms()
        elif act == "reboot":
            self._reboot_pending = True
        return 0

    # -- heartbeat ------------------------------------------------------------

    def _credential_counts(self):
        c = self.credentials
        counts = {"sent": c.sent, "dropped": c.dropped, "faults": self.reader_faults}
        for reader, _ in self.readers:
            if reader.KIND == "qr":
                counts["too_long"] = reader.too_long
                counts["garbage"] = reader.garbage
            else:
                counts["card_errors"] = reader.errors
        return counts

    def status_message(self):
        interval = self.cfg.status_interval_s
        fps = (self.frames_sent - self._frames_at_status) / interval if interval else 0
        link = self.link
        fields = {
            "v": PROTOCOL, "gate": self.cfg.gate_id, "online": True, "fw": FIRMWARE_VERSION, "ind": INDICATIONS,
            "boot": self.boot_id,
            "uptime_s": self.uptime_ms // 1000, "rssi": self.link.rssi() if self.link is not None else 0,
            "heap_free": self._heap_free(), "frames": self.frames_sent, "frames_unsent": self.frames_unsent,
            "fps": round(fps, 2), "refresh_hz": REFRESH_HZ[self.refresh_code],
            "sensor_ok": self.sensor_ok, "i2c_errors": self.sensor.i2c_errors, "sensor_resets": self.sensor_resets,
            "relay": "open" if self.door.is_open else "locked", "door_openings": self.door.openings,
            "cmd_ok": self.guard.accepted, "cmd_refused": self.guard.refused,
            "mqtt_connects": link.connects if link is not None else 0,
            "mqtt_drops": link.drops if link is not None else 0,
            "subscribed": link.subscribed if link is not None else False,
            "link_error": link.last_error[:60] if link is not None else "",
            "mqtt_oversized": link.client.oversized if link is not None else 0,
            "acks_dropped": self.acks_dropped, "door_timer_locks": self.door.timer_locks,
        }
        if self.readers:
            fields["credentials"] = self._credential_counts()
        body = json.dumps(fields, separators=(",", ":"))  # compact: the status must stay under 1024 bytes
        return self.mac.seal_json(b"status", body.encode())

