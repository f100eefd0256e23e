"""Every command has --help; errors print a fix and exit 2, never a traceback."""

from __future__ import annotations

import argparse

import pytest

from moodtune.cli import build_parser, main


def _commands(parser: argparse.ArgumentParser, prefix=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name)
                yield from _commands(sub, (*prefix, name))


COMMANDS = sorted(set(_commands(build_parser())))


def test_expected_commands_exist():
    names = {" ".join(c) for c in COMMANDS}
    assert {
        "setup",
        "doctor",
        "ingest",
        "parse",
        "recommend",
        "chat",
        "train emotion",
        "train style",
        "catalog stats",
        "catalog build-demo",
        "serve",
        "mcp",
        "review export",
        "bench parse",
        "bench latency",
    } <= names


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_works(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_error_prints_fix_and_exits_2(tmp_path, capsys):
    code = main(["--home", str(tmp_path), "ingest", str(tmp_path / "nowhere")])
    err = capsys.readouterr().err
    assert code == 2
    assert "does not exist" in err and "fix:" in err and "Traceback" not in err
