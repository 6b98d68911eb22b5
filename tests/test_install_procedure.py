"""docs/installation.md, "The procedure, end to end", run as a script: every `.venv/bin/thermogate` line of
that section, in order, on a temporary site; then a gate made from the flashed config.json talks through the
generated broker (a real mosquitto, its users and ACL) to the controller the procedure configured, and the
documented `thermogate watch` line follows it with the watch login step 4 made.

Substitutions, and only these: the absolute paths (/etc/thermogate, /etc/mosquitto/thermogate,
/var/lib/thermogate) move under the test's directory; the broker (192.168.1.10, 0.0.0.0, port 1883) becomes
127.0.0.1 on a free port and the console a free port; the flash to a board on /dev/ttyUSB0 is left out
(its --dry-run runs); `sudo -u thermogate` runs as the test's user; `user add` reads the password from
standard input (`--password-stdin`: there is no terminal to ask on). The `sudo install` lines are done here
with shutil (copies to the same places); `make`, `apt-get`, `adduser`, `chown` and `systemctl` are not run.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path

import httpx

from sim.broker import MosquittoBroker, free_port

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "installation.md"
SECTION = "## The procedure, end to end"
AS_ROOT = "user root\n" if hasattr(os, "geteuid") and os.geteuid() == 0 else ""
ADMIN_PASSWORD = "Gatehouse-Key-7"


def procedure() -> tuple[list[str], str]:
    """(the section's thermogate command lines in order, its controller.toml)."""
    text = DOC.read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.index("\n## ", start + len(SECTION))
    section = text[start:end]
    blocks = re.findall(r"```(\w+)\n(.*?)```", section, re.S)
    commands = [line.strip() for lang, body in blocks if lang == "sh" for line in body.splitlines()
                if ".venv/bin/thermogate " in line or line.strip().startswith("export THERMOGATE_SITE=")]
    tomls = [body for lang, body in blocks if lang == "toml"]
    assert len(tomls) == 1, "the procedure has one controller.toml"
    return commands, tomls[0]


def test_the_documented_install_procedure_runs(tmp_path):
    commands, toml = procedure()
    root = tmp_path / "root"
    port, http_port = free_port(), free_port()
    paths = {"/etc/mosquitto/thermogate": str(root / "etc/mosquitto/thermogate"),
             "/etc/thermogate": str(root / "etc/thermogate"), "/var/lib/thermogate": str(root / "var/lib/thermogate")}

    def local(text: str) -> str:
        for a, b in paths.items():
            text = text.replace(a, b)
        return (text.replace("192.168.1.10", "127.0.0.1").replace("--bind 0.0.0.0", "--bind 127.0.0.1")
                .replace("--port 1883", f"--port {port}").replace("--broker-port 1883", f"--broker-port {port}"))

    (root / "var/lib/thermogate").mkdir(parents=True)
    work = tmp_path / "laptop"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "THERMOGATE_SITE"}
    thermogate = str(REPO / ".venv" / "bin" / "thermogate")
    ran: list[str] = []
    broker = controller = gate_thread = None
    try:
        for line in commands:
            if line.startswith("export THERMOGATE_SITE="):
                env["THERMOGATE_SITE"] = local(line.split("=", 1)[1])
                continue
            line = line.replace("sudo -u thermogate ", "")
            if "flash" in line.split() and "--port" in line:
                continue  # needs a board on USB; its --dry-run ran just before
            argv = shlex.split(local(line.replace(".venv/bin/thermogate", thermogate, 1)))
            verb = argv[1:3]
            ran.append(" ".join(a for a in verb if not a.startswith("-")))
            if verb[0] == "controller":
                config = root / "etc/thermogate/controller.toml"
                config.write_text(local(toml).replace("port = 1883", f"port = {port}")
                                  .replace("port = 8080", f"port = {http_port}"), encoding="utf-8")
                ready = tmp_path / "ready"
                controller = subprocess.Popen(argv + ["--ready-file", str(ready)], cwd=work, env=env,
                                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                deadline = time.monotonic() + 60
                while not ready.exists():
                    assert controller.poll() is None, controller.stdout.read()
                    assert time.monotonic() < deadline, "the controller did not start"
                    time.sleep(0.2)
                continue
            stdin = None
            if "--ask-wifi-password" in argv:
                stdin = "school-wifi-pw\n"
            elif verb == ["user", "add"]:
                config = root / "etc/thermogate/controller.toml"
                config.write_text(local(toml).replace("port = 1883", f"port = {port}")
                                  .replace("port = 8080", f"port = {http_port}"), encoding="utf-8")
                argv.append("--password-stdin")
                stdin = f"{ADMIN_PASSWORD}\n"
            done = subprocess.run(argv, cwd=work, env=env, input=stdin, capture_output=True, text=True,
                                  timeout=300, start_new_session=True)
            assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
            if verb == ["broker", "config"]:
                # sudo install ... (docs: step 4), then mosquitto with that configuration
                installed = Path(paths["/etc/mosquitto/thermogate"])
                installed.mkdir(parents=True)
                for name in ("passwd", "acl"):
                    shutil.copy(work / "broker" / name, installed / name)
                # sudo install -D ... broker/controller-password /etc/thermogate/controller-password (step 5)
                shutil.copy(work / "broker" / "controller-password", root / "etc/thermogate/controller-password")
                assert "password_file = \"/etc/thermogate/controller-password\"" in done.stdout
                broker = MosquittoBroker(port, config_file=work / "broker" / "mosquitto.conf",
                                         extra_config=AS_ROOT).start()
        assert ran == ["site set", "site show", "gate add", "gate set", "gate list", "flash north-1",
                       "broker config", "user add", "controller"], ran

        # The board as flashed: its config.json (the dry run's) gives its key and broker login.
        built = json.loads((work / "build" / "firmware" / "north-1" / "config.json").read_text())
        assert built["mqtt"]["host"] == "127.0.0.1" and built["mqtt"]["port"] == port
        assert built["wifi"]["ssid"] == "School-IoT" and built["wifi"]["password"] == "school-wifi-pw"
        assert built["qr_scanner"] == {"uart": 2, "rx": 16, "tx": 17, "baud": 9600}  # step 2's scanner, flashed
        assert "card_reader" not in built  # none fitted
        from sim.gate import VirtualGate
        from sim.runner import GateThread
        from sim.scenarios import scenario

        gate = VirtualGate("north-1", scenario("normal_queue", 3), "127.0.0.1", port,
                           key=bytes.fromhex(built["hmac_key"]), user=built["mqtt"]["user"],
                           password=built["mqtt"]["password"])
        gate_thread = GateThread([gate]).start()
        base = f"http://127.0.0.1:{http_port}"
        deadline = time.monotonic() + 60
        health = {}
        while time.monotonic() < deadline:
            health = httpx.get(base + "/healthz", timeout=5).json()
            if health.get("mqtt_connected") and health.get("gates_online") == 1:
                break
            time.sleep(0.5)
        assert health.get("mqtt_connected") and health.get("gates_online") == 1, health
        # The admin made in step 5 logs in to the console, which shows the gate under its name.
        with httpx.Client(base_url=base, timeout=10) as c:
            assert c.post("/login", data={"username": "admin", "password": ADMIN_PASSWORD}).status_code == 303
            gates = {g["gate"]: g for g in c.get("/api/gates").json()["gates"]}
            assert gates["north-1"]["name"] == "北门 左" and gates["north-1"]["online"]
        # Aiming (docs: "Aiming the sensor with thermogate watch"): the documented watch line, with the watch
        # login step 4 made, beside the running controller, checking the frames' tags under the gate's key.
        text = DOC.read_text(encoding="utf-8")
        aiming = text[text.index("## Aiming the sensor with `thermogate watch`"):]
        line = next(ln for ln in aiming.splitlines() if ln.startswith(".venv/bin/thermogate watch north-1 --config"))
        line = line.replace("watch-installer-password", str(work / "broker" / "watch-installer-password"))
        argv = shlex.split(local(line.replace(".venv/bin/thermogate", thermogate, 1))) + ["--once"]
        done = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
        assert "thermogate watch north-1" in done.stdout and "NOT checked" not in done.stdout, done.stdout
        assert httpx.get(base + "/healthz", timeout=5).json()["mqtt_connected"]  # the controller was not knocked off
    finally:
        if gate_thread is not None:
            gate_thread.stop()
        if controller is not None:
            controller.terminate()
            controller.wait(20)
        if broker is not None:
            broker.close()
