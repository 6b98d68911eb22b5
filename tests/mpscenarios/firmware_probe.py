"""What the firmware costs, measured under MicroPython (and runnable under CPython with the fakes).

``measure()`` builds a gate on fake hardware and reports:
- ``built``: bytes allocated by building the gate and starting its sensor;
- ``per_frame``: bytes allocated inside gate.step() per frame sent (sensor read, CRC, tag, MQTT publish),
  with the fake network keeping nothing (``sink``), so that only the gate's own allocations count;
- ``per_command``: bytes allocated inside gate.step() per command (parse, check, act, queue and send the ack);
- ``seal_us`` / ``crc_us`` / ``tag_us``: microseconds to seal a frame (header, CRC and tag), the CRC
  alone, and the tag alone.

The WebAssembly port's collector does not reclaim memory from inside a running script, so live heap
over time is not measured here; allocation counts are exact.
"""

import gc
import json
import time

import app
import config
import fake_mlx90640
import fakeclock
import fakenet
import machine
import network
import wire


def _alloc():
    return gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0


def measure(cfg_dict, eeprom, frames, cmds, seconds=5):
    clock = fakeclock.FakeClock(1000)
    machine.clock = clock
    machine.devices.clear()
    machine.Pin.pins.clear()
    broker = fakenet.FakeBroker()
    sensor = fake_mlx90640.FakeMLX90640(eeprom)
    machine.devices[0x33] = sensor
    wlan = network.WLAN()
    wlan.up = True
    cfg = config.Config(cfg_dict)
    gc.collect()
    gc.disable()
    a0 = _alloc()
    gate = app.build(cfg, clock=clock, wlan=wlan, open_socket=broker.open_socket, random_bits=lambda n: 0x2A5,
                     reboot=lambda: None, heap_free=lambda: 0)
    gate.start_sensor()
    built = _alloc() - a0
    gc.enable()
    state = [0, 0]  # frames loaded, bytes allocated inside gate.step()

    def run(ms):
        for _ in range(ms // 5):
            if clock.now % 125 == 0:
                sensor.load(frames[state[0] % len(frames)])
                state[0] += 1
            a = _alloc()
            gate.step()
            state[1] += _alloc() - a
            clock.advance(5)

    run(1000)
    connected = gate.link.state == 4
    broker.sink = True
    run(250)
    gc.collect()
    gc.disable()
    sent0 = gate.frames_sent
    state[1] = 0
    run(seconds * 1000)
    frames_counted = gate.frames_sent - sent0
    per_frame = state[1] / max(frames_counted, 1)
    gc.enable()
    broker.sink = False
    gc.collect()
    gc.disable()
    state[1] = 0
    for c in cmds:
        broker.inbox.append((gate.topic_cmd, c))
        a = _alloc()
        gate.step()
        state[1] += _alloc() - a
    per_command = state[1] / len(cmds)
    gc.enable()
    acks = len(broker.take(gate.topic_ack))
    n = 200
    msg = gate.frame
    t0 = time.ticks_us() if hasattr(time, "ticks_us") else int(time.perf_counter() * 1e6)
    for i in range(n):
        msg.seal(300 + i, i, 0)
    t1 = time.ticks_us() if hasattr(time, "ticks_us") else int(time.perf_counter() * 1e6)
    for _ in range(n):
        wire.checksum(msg._body)
    t2 = time.ticks_us() if hasattr(time, "ticks_us") else int(time.perf_counter() * 1e6)
    for _ in range(n):
        gate.mac.seal_binary(msg._signed, msg.buf, msg.size - wire.TAG)
    t3 = time.ticks_us() if hasattr(time, "ticks_us") else int(time.perf_counter() * 1e6)
    return {"built": built, "per_frame": per_frame, "frames": frames_counted, "per_command": per_command,
            "acks": acks, "connected": connected, "hangs": broker.hangs,
            "seal_us": (t1 - t0) / n, "crc_us": (t2 - t1) / n, "tag_us": (t3 - t2) / n,
            "message_bytes": msg.size}


def main(cfg_json, eeprom, frames, cmds, seconds=5):
    result = measure(json.loads(cfg_json), eeprom, frames, [c.encode() for c in cmds], seconds)
    print("RESULT " + json.dumps(result))
