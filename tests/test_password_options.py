"""MQTT passwords for watch, sim run, sim record and calibrate: from a file or the environment, not the
command line (where every user of the machine sees it in ps, and the shell keeps it in its history)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from controller.cli import build_parser
from controller.mqtt.options import PASSWORD_ENV, broker_from_args
from controller.watch import cli as W
from tests.controller_harness import REPO


def parse(*argv: str):
    return build_parser().parse_args(list(argv))


@pytest.mark.parametrize("command", [["watch", "north-1"], ["sim", "run"],
                                     ["record", "north-1", "-o", "x.npz", "--seconds", "1"]])
def test_password_from_a_file_or_the_environment(command, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    secret = tmp_path / "mqtt-password"
    secret.write_text("s3cret from file\n")
    settings = (lambda a: W.settings_from_args(a)[0]) if command[0] == "watch" else broker_from_args
    b = settings(parse(*command, "--broker", "10.0.0.5:1884", "--username", "u", "--password-file", str(secret)))
    assert (b.host, b.username, b.password) == ("10.0.0.5", "u", "s3cret from file")
    monkeypatch.setenv(PASSWORD_ENV, "s3cret from env")
    b = settings(parse(*command, "--broker", "10.0.0.5:1884", "--username", "u"))
    assert b.password == "s3cret from env"
    assert "warning" not in capsys.readouterr().err
    # On the command line it still works, with a warning that says what to use instead.
    b = settings(parse(*command, "--broker", "10.0.0.5:1884", "--username", "u", "--password", "visible"))
    assert b.password == "visible"
    err = capsys.readouterr().err
    assert "warning" in err and "--password-file" in err and PASSWORD_ENV in err
    with pytest.raises(ValueError, match="no such file|No such file"):
        settings(parse(*command, "--password-file", str(tmp_path / "missing")))
    with pytest.raises(ValueError, match="not both"):
        settings(parse(*command, "--password-file", str(secret), "--password", "x"))
    # A password in the --broker URL works too, with the same warning (the watch once gave none).
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    capsys.readouterr()
    b = settings(parse(*command, "--broker", "mqtt://u:in-url@10.0.0.5:1884"))
    assert (b.username, b.password) == ("u", "in-url")
    err = capsys.readouterr().err
    assert "warning" in err and "--broker URL" in err and "--password-file" in err


def test_help_says_where_the_password_goes():
    out = subprocess.run([sys.executable, "-m", "controller.cli", "watch", "--help"], capture_output=True,
                         text=True, cwd=REPO, timeout=60).stdout
    assert "--password-file" in out and PASSWORD_ENV in out and "deprecated" in out
