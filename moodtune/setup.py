"""`moodtune setup` and `moodtune doctor`."""

from __future__ import annotations

from moodtune.cli import CommandLine


def register(cli: CommandLine) -> None:
    """Add setup and doctor to the `moodtune` CLI."""
