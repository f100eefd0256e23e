"""CLI commands of this package (see moodtune.cli.CommandLine)."""

from __future__ import annotations

from moodtune.cli import CommandLine


def register(cli: CommandLine) -> None:
    """Add this package's commands to the `moodtune` CLI."""
