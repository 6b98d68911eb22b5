"""The commands a new installer meets first say what they do and what each option means."""

from __future__ import annotations

import argparse

import pytest

from controller.cli import build_parser, main
from controller.site import gates


def _subparser(parser: argparse.ArgumentParser, *words: str) -> argparse.ArgumentParser:
    for word in words:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[word]
    return parser


@pytest.mark.parametrize("words", [("controller",), ("gate", "set"), ("user", "add"),
                                   ("broker", "config"), ("notify", "test")])
def test_a_description_and_help_for_every_option(words):
    p = _subparser(build_parser(), *words)
    assert p.description and len(p.description) > 80, f"thermogate {' '.join(words)} has no description"
    undocumented = [a.option_strings or a.dest for a in p._actions
                    if not isinstance(a, argparse._HelpAction) and not a.help]
    assert undocumented == [], f"thermogate {' '.join(words)}: options without help: {undocumented}"


@pytest.mark.parametrize("words", [("gate", "add"), ("gate", "set"), ("gate", "config"), ("flash",)])
def test_the_reader_options_say_how_to_give_a_reader(words):
    text = " ".join(_subparser(build_parser(), *words).format_help().split())
    for option, example in (("--qr-scanner", "uart=2,rx=16,tx=17"), ("--card-reader", "uart=1,rx=18,tx=19")):
        assert f"{option} uart=N,rx=N,tx=N" in text, (words, option)
        assert f"e.g. {example}; 'none' if not fitted" in text, (words, option)
    assert "(default 9600)" in text and "(default 115200)" in text and "(optional)" in text and "(required)" in text


def test_user_add_states_the_password_rule():
    text = _subparser(build_parser(), "user", "add").format_help()
    assert "at least 8 characters" in text and "user name" in text and "only digits" in text


def test_gate_remove_of_an_unknown_gate_says_so(tmp_path, capsys):
    site = tmp_path / "site"
    gates.add_gate(site, "north-1")
    assert main(["gate", "remove", "nope", "--site", str(site)]) != 0
    err = capsys.readouterr().err
    assert "no gate 'nope' to remove" in err and "north-1" in err and "gate add" not in err
    assert "north-1" in gates.load_registry(site).gates  # nothing else changed


def test_the_simulators_commands_come_through_the_entry_point_group():
    from importlib.metadata import entry_points

    from controller.cli import ENTRY_POINT_GROUP

    assert [ep.value for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == "sim"] == ["sim.cli:add_commands"]
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert {"record", "sim"} <= set(commands)
    sim = next(a for a in _subparser(build_parser(), "sim")._actions if isinstance(a, argparse._SubParsersAction))
    assert {"replay", "run", "scenarios"} <= set(sim.choices)


def test_a_broken_command_plugin_leaves_the_rest_working(monkeypatch, tmp_path, capsys):
    from importlib.metadata import EntryPoint

    import controller.cli as cli

    broken = EntryPoint(name="broken", value="no_such_module_here:add_commands", group=cli.ENTRY_POINT_GROUP)
    monkeypatch.setattr(cli, "entry_points", lambda group: [broken])
    site = tmp_path / "site"
    assert main(["gate", "add", "north-1", "--site", str(site)]) == 0
    err = capsys.readouterr().err
    assert "'broken' commands (no_such_module_here:add_commands) could not be loaded" in err
    assert "north-1" in gates.load_registry(site).gates
