"""Fixtures shared by all tests. Every test gets its own MOODTUNE_HOME."""

from __future__ import annotations

import os

import pytest

from moodtune.config import Settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    """Settings whose home is an empty temp dir; the LLM path is kept from the environment."""
    home = tmp_path / "home"
    monkeypatch.setenv("MOODTUNE_HOME", str(home))
    return Settings.load(home=home).ensure_dirs()
