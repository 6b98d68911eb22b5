"""The gate firmware's own figures, under the real MicroPython (WebAssembly port on node) and CPython.

- the failure scenarios of tests/test_gate_link.py: the longest door opening against the cap, hangs,
  resets, and the longest single step of the loop;
- memory: bytes allocated by building the gate, per frame and per command (tests/mpscenarios/firmware_probe.py);
- the cost of the protocol-2 tag per frame, against the CRC alone;
- the credential readers' memory (tests/mpscenarios/reader_probe.py).

The WebAssembly port is not an ESP32: times here are this machine's; docs/firmware.md gives the estimate
for the board and how it is reached.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "tests"), str(REPO)]

from controller.protocol import sign_command  # noqa: E402
from firmware_env import FAKES, FIRMWARE, config_dict, sensor_words  # noqa: E402
from micropython_harness import run_micropython  # noqa: E402

SCENARIOS = REPO / "tests" / "mpscenarios"
KEY = bytes(range(7, 39))


def result_of(out: str) -> dict:
    return json.loads([x for x in out.splitlines() if x.startswith("RESULT ")][-1][len("RESULT "):])


def main() -> None:
    eeprom, frames = sensor_words()
    cfg = config_dict("west-3", KEY.hex())
    script = (f"import json, sys, gate_scenarios\nout = gate_scenarios.run_all(json.loads({json.dumps(cfg)!r}), "
              f"{eeprom}, {frames}, bytes({list(KEY)}))\nprint('RESULT ' + json.dumps(out))\n")
    scenarios = result_of(run_micropython(script, [FIRMWARE, FAKES, SCENARIOS], timeout=900))
    print("failure scenarios under MicroPython 1.27 (WebAssembly port), door cap "
          f"{cfg['door_cap_ms']} ms, one frame = 125 ms:")
    print(f"  {'scenario':30s} {'longest opening':>16s} {'hangs':>6s} {'resets':>7s} {'longest step':>13s}"
          f" {'link drops':>11s} {'back in service':>16s}")
    for name, r in scenarios.items():
        print(f"  {name:30s} {r['longest_opening_ms']:>13d} ms {r['hangs']:>6d} {r['resets']:>7d}"
              f" {r['max_step_ms']:>10d} ms {r['drops']:>11d} {str(r['back_in_service']):>16s}")
    worst = max(r["longest_opening_ms"] for r in scenarios.values())
    print(f"  longest opening across all scenarios: {worst} ms (cap {cfg['door_cap_ms']} ms + one frame = "
          f"{cfg['door_cap_ms'] + 125} ms); hangs: {sum(r['hangs'] for r in scenarios.values())}; "
          f"resets: {sum(r['resets'] for r in scenarios.values())}")

    probe_cfg = config_dict("west-3", KEY.hex(), status_interval_s=60)
    cmds = [sign_command(KEY, "west-3", 0x2A5, 1 + i, "indicate", 1, 0).payload().decode() for i in range(10)]
    script = (f"import firmware_probe\nfirmware_probe.main({json.dumps(probe_cfg)!r}, {eeprom}, {frames}, "
              f"{cmds!r}, 10)\n")
    r = result_of(run_micropython(script, [FIRMWARE, FAKES, SCENARIOS], timeout=900))
    print("memory and the tag under MicroPython 1.27 (WebAssembly port, 32-bit):")
    print(f"  building the gate allocates {r['built']} bytes (objects and buffers; code not counted)")
    print(f"  per frame sent: {r['per_frame']:.0f} bytes allocated in gate.step() over {r['frames']} frames")
    print(f"  per command (parse, check, act, ack): {r['per_command']:.0f} bytes")
    print(f"  sealing a {r['message_bytes']}-byte frame: {r['seal_us']:.0f} us, of which CRC-32 {r['crc_us']:.0f} us "
          f"and the HMAC-SHA256 tag {r['tag_us']:.0f} us")

    reader_cfg = config_dict("west-3", KEY.hex(), status_interval_s=60, qr_scanner={"uart": 2, "rx": 16, "tx": 17})
    script = f"import reader_probe\nreader_probe.main({json.dumps(reader_cfg)!r})\n"
    r = result_of(run_micropython(script, [FIRMWARE, FAKES, SCENARIOS], timeout=300))
    print("credential readers under MicroPython 1.27 (tests/mpscenarios/reader_probe.py):")
    print(f"  QR scanner and PN532 drivers with a debounce each: {r['readers_built']} bytes built")
    print(f"  QR scanner: {r['qr_idle']} bytes per 1,000 idle polls, {r['qr_per_code']:.0f} per code read; "
          f"PN532: {r['pn_per_poll']:.0f} per look for a card")
    print(f"  gate.step() with a scanner fitted, nothing shown: {r['step_idle']} bytes over 500 steps")
    print(f"  a credential: {r['per_event']:.0f} bytes for its JSON and tag, {r['per_credential']:.0f} through "
          f"gate.step() with its QoS-1 publish; a debounced repeat {r['per_repeat']:.0f}")


if __name__ == "__main__":
    main()
