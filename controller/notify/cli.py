"""``thermogate notify test [--channel NAME]``: a test message over each configured channel, and what became
of it, for the installer checking a webhook, a group robot or an SMTP server.

Each channel of ``[notify.channels]`` (or the one named) is sent one message, marked as a test, once (no
retry), to the contacts that list it; a webhook or robot with no contact on it is sent the message without
@-mentions, an SMTP channel with nobody to write to is reported as such. One line per channel: ``ok`` with
the time it took, or ``FAILED`` with the reason. The exit status is 0 when every channel answered, 1 when
one failed.
"""

from __future__ import annotations

import time
from pathlib import Path

import tomllib

DEFAULT_CONFIG = "controller.toml"
TEST_TITLE = "thermogate 测试消息 / test message"


def _load(path: str):
    from .config import from_table

    p = Path(path)
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not TOML: {exc}") from None
    return from_table(doc, p.resolve().parent, where=f"{path}: ")


def make_test_message(channel: str, at: float):
    """The test message and its event's plain fields (what a webhook carries)."""
    from .messages import Message

    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))
    text = (f"这是 thermogate 的测试消息（通道 {channel}，{stamp}），无需处理。\n"
            f"This is a thermogate test message (channel {channel}, {stamp}); nothing to do.")
    event = {"kind": "test", "key": f"test-{int(at)}", "time": at, "drill": False, "text": text}
    return Message(TEST_TITLE, text, f"### {TEST_TITLE}\n\n{text}", 0), event


def send_tests(config, only: str | None = None, *, now: float | None = None) -> list[tuple[str, str, bool, str]]:
    """Send a test over each channel (or ``only``): [(channel, type, ok, detail)], in the channels' order."""
    from .channels import DeliveryError, build
    from .config import SmtpConfig

    names = list(config.channels)
    if only is not None:
        if only not in config.channels:
            raise ValueError(f"no channel {only!r} in [notify.channels] (have: {', '.join(names) or 'none'})")
        names = [only]
    if not names:
        raise ValueError("[notify.channels] names no channel: nothing to test")
    at = time.time() if now is None else now
    out = []
    for name in names:
        cfg = config.channels[name]
        kind = type(cfg).__name__.removesuffix("Config").lower()
        recipients = [c for c in config.contacts.values() if name in c.channels]
        if isinstance(cfg, SmtpConfig) and not any(c.email for c in recipients):
            out.append((name, kind, False, "no contact with an e-mail address lists this channel"))
            continue
        message, event = make_test_message(name, at)
        start = time.monotonic()
        try:
            build(cfg).send(message, recipients, event=event, timeout=config.timeout_s)
        except DeliveryError as exc:
            out.append((name, kind, False, exc.reason))
        except Exception as exc:  # a channel's own bug: say it, go on with the next channel
            out.append((name, kind, False, f"{type(exc).__name__}: {exc}"))
        else:
            who = ", ".join(c.id for c in recipients) or "no contact"
            out.append((name, kind, True, f"{time.monotonic() - start:.2f} s, to {who}"))
    return out


def _test(args) -> int:
    config = _load(args.config)
    results = send_tests(config, args.channel)
    for name, kind, ok, detail in results:
        print(f"{name} ({kind}): {'ok' if ok else 'FAILED'}: {detail}")
    failed = sum(1 for r in results if not r[2])
    print(f"{len(results) - failed} of {len(results)} channel(s) answered")
    return 1 if failed else 0


def add_commands(commands) -> None:
    """Register ``thermogate notify`` on the main parser's subcommands."""
    notify = commands.add_parser("notify", help="notifications: test the configured channels")
    sub = notify.add_subparsers(dest="notify_command", metavar="SUBCOMMAND", required=True)
    test = sub.add_parser(
        "test", help="send a test message over each channel of [notify.channels] and print each outcome",
        description="Send one message marked as a test over each channel of [notify.channels] (or the one "
                    "--channel names), once, to the contacts listing that channel, and print whether it went "
                    "(for an installer checking a webhook, a 企业微信 or 钉钉 robot, or an SMTP server). "
                    "Exit status 1 when a channel failed.")
    test.add_argument("--config", default=DEFAULT_CONFIG, help="controller.toml with the [notify] table")
    test.add_argument("--channel", metavar="NAME", help="test only this channel")
    test.set_defaults(run=_test)


__all__ = ["add_commands", "make_test_message", "send_tests"]
