"""Prompt templates and few-shot examples, English and Chinese, kept as data files here."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

from moodtune.errors import ModelMissingError

PROMPTS_DIR = Path(__file__).resolve().parent


@cache
def load_prompt(name: str) -> dict[str, Any]:
    """Load `prompts/<name>.yaml` (a mapping; keys by language where wording differs)."""
    path = PROMPTS_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ModelMissingError(
            f"prompt file {path} is missing", hint="restore it from the repository (git checkout prompts/)"
        )
    return yaml.safe_load(path.read_text(encoding="utf-8"))
