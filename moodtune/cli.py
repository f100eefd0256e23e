"""`moodtune` command line. It only parses arguments and calls the public API.

Each domain module that offers commands has `register(cli: CommandLine)` and adds its
subcommands with `cli.add(...)`; a handler takes (args, settings) and returns an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence

from moodtune import __version__
from moodtune.config import Settings
from moodtune.errors import MoodtuneError

Handler = Callable[[argparse.Namespace, Settings], int]

# Modules that register commands, in the order their commands appear in --help.
COMMAND_MODULES: tuple[str, ...] = (
    "moodtune.setup",
    "catalog.commands",
    "tools.commands",
    "agent.commands",
    "api.commands",
    "bench.commands",
)

# Commands that only group subcommands (`moodtune train emotion`, `moodtune catalog stats`).
GROUPS = {
    "train": "train a model artefact from the data in data/",
    "bench": "run a benchmark; figures go to bench/results/",
    "catalog": "inspect the catalog",
    "review": "explainability review: export logged replies and verdicts",
    "user": "a user's stored data",
}


class CommandLine:
    def __init__(self) -> None:
        self.parser = argparse.ArgumentParser(
            prog="moodtune",
            description="Moodtune: a local-first conversational music recommender.",
        )
        self.parser.add_argument("--version", action="version", version=f"moodtune {__version__}")
        self.parser.add_argument("--home", help="state directory (default: $MOODTUNE_HOME or ~/.local/share/moodtune)")
        self.parser.add_argument(
            "--chroma-url", help="use a Chroma server instead of the embedded store ($MOODTUNE_CHROMA_URL)"
        )
        self.parser.add_argument("--log-level", help="DEBUG, INFO, WARNING (default) or ERROR")
        self._root = self.parser.add_subparsers(dest="command", metavar="COMMAND")
        self._groups: dict[str, argparse._SubParsersAction] = {}
        for name, help_text in GROUPS.items():
            group_parser = self._root.add_parser(name, help=help_text, description=help_text)
            self._groups[name] = group_parser.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)

    def add(self, name: str, *, help: str, handler: Handler, group: str | None = None) -> argparse.ArgumentParser:
        """Add a command (or `group name` subcommand) and return its parser for arguments."""
        subparsers = self._groups[group] if group else self._root
        parser = subparsers.add_parser(name, help=help, description=help)
        parser.set_defaults(handler=handler)
        return parser


def build_parser() -> argparse.ArgumentParser:
    cli = CommandLine()
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(cli)
    return cli.parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 0
    try:
        settings = Settings.load(home=args.home, chroma_url=args.chroma_url, log_level=args.log_level)
        logging.basicConfig(level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
        return int(args.handler(args, settings) or 0)
    except MoodtuneError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"  fix: {exc.hint}", file=sys.stderr)
        return 2
    except UnicodeError:  # bytes that are not UTF-8 on stdin, or printed where they cannot be encoded
        print("error: the input is not valid UTF-8 text", file=sys.stderr)
        print("  fix: send the request as UTF-8 (e.g. check the terminal's or the file's encoding)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; nothing half-written was kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
