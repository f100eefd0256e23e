"""Settings precedence: flags over environment over defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from moodtune.config import Settings
from moodtune.errors import ConfigError


def test_environment_overrides_default(monkeypatch, tmp_path):
    monkeypatch.setenv("MOODTUNE_HOME", str(tmp_path / "env-home"))
    monkeypatch.setenv("MOODTUNE_PORT", "9000")
    settings = Settings.load()
    assert settings.home == tmp_path / "env-home"
    assert settings.port == 9000
    assert settings.chroma_dir == tmp_path / "env-home" / "chroma"


def test_flag_overrides_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MOODTUNE_HOME", str(tmp_path / "env-home"))
    assert Settings.load(home=tmp_path / "flag-home").home == tmp_path / "flag-home"


def test_none_flags_do_not_override(monkeypatch, tmp_path):
    monkeypatch.setenv("MOODTUNE_HOME", str(tmp_path))
    assert Settings.load(home=None).home == Path(tmp_path)


@pytest.mark.parametrize(("name", "value"), [("MOODTUNE_PORT", "eighty"), ("MOODTUNE_WORKERS", "2.5")])
def test_bad_numbers_name_the_variable(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        Settings.load()


def test_unknown_setting_is_an_error():
    with pytest.raises(ConfigError):
        Settings.load(colour="blue")
