"""``thermogate notify test``: a test message over each configured channel, against local HTTP receivers (one
that answers, one that answers 500, one address where nobody listens), each outcome printed."""

from __future__ import annotations

import json

import pytest

from controller.cli import main
from tests.notify_receivers import HttpReceiver, closed_port


@pytest.fixture
def receivers():
    ok, failing = HttpReceiver("ok"), HttpReceiver("fail")
    yield ok, failing
    ok.close()
    failing.close()


def _config(tmp_path, ok: HttpReceiver, failing: HttpReceiver) -> str:
    path = tmp_path / "controller.toml"
    path.write_text(f"""
[notify]
timeout_s = 2.0

[notify.channels.ops]
type = "webhook"
url = "{ok.url}"

[notify.channels.broken]
type = "webhook"
url = "{failing.url}"

[notify.channels.gone]
type = "webhook"
url = "http://127.0.0.1:{closed_port()}/hook"

[notify.contacts.dr-wang]
name = "王医生"
mobile = "13800001111"
channels = ["ops", "broken"]
""", encoding="utf-8")
    return str(path)


def test_each_channel_gets_a_test_and_its_outcome_is_printed(tmp_path, receivers, capsys):
    ok, failing = receivers
    config = _config(tmp_path, ok, failing)
    assert main(["notify", "test", "--config", config]) == 1  # a channel failed
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("ops (webhook): ok: ") and out[0].endswith("to dr-wang")
    assert out[1].startswith("broken (webhook): FAILED: ") and "500" in out[1]
    assert out[2].startswith("gone (webhook): FAILED: ")
    assert out[3] == "1 of 3 channel(s) answered"
    [got] = ok.wait_for(1)
    body = json.loads(got.body)
    assert body["event"] == "test" and "测试" in body["title"] and "ops" in body["text"]
    assert [r["id"] for r in body["recipients"]] == ["dr-wang"]
    assert len(failing.requests) == 1  # once, no retry

    # One channel only.
    assert main(["notify", "test", "--channel", "ops", "--config", config]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "1 of 1 channel(s) answered"
    assert len(ok.requests) == 2 and len(failing.requests) == 1


def test_an_unknown_channel_or_none_configured_is_a_clear_error(tmp_path, receivers, capsys):
    config = _config(tmp_path, *receivers)
    assert main(["notify", "test", "--channel", "sms", "--config", config]) == 2
    assert "no channel 'sms' in [notify.channels] (have: ops, broken, gone)" in capsys.readouterr().err
    empty = tmp_path / "empty.toml"
    empty.write_text("[notify]\n", encoding="utf-8")
    assert main(["notify", "test", "--config", str(empty)]) == 2
    assert "names no channel" in capsys.readouterr().err
    assert receivers[0].requests == [] and receivers[1].requests == []
