"""Rendering MIDI to real audio files with the soundfont pretty-midi ships."""

from __future__ import annotations

import numpy as np
import pretty_midi
import pytest
import soundfile

from catalog.render import read_tags, render_midi, write_tags


def scale_midi(program: int = 0, seconds: float = 3.0) -> pretty_midi.PrettyMIDI:
    midi = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(program=program)
    for i in range(int(seconds * 4)):
        inst.notes.append(pretty_midi.Note(velocity=90, pitch=60 + i % 12, start=i * 0.25, end=i * 0.25 + 0.24))
    midi.instruments.append(inst)
    return midi


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".ogg"])
def test_render_writes_audible_audio(tmp_path, suffix):
    path = render_midi(scale_midi(), tmp_path / f"clip{suffix}")
    audio, rate = soundfile.read(path)
    assert rate == 22050 and len(audio) > 3 * rate
    assert 0.5 < np.max(np.abs(audio)) <= 1.0


def test_tags_round_trip(tmp_path):
    path = render_midi(scale_midi(), tmp_path / "clip.flac")
    write_tags(path, title="Gentle Harbour", artist="Test Band", comment="provenance line")
    assert read_tags(path) == {"title": "Gentle Harbour", "artist": "Test Band", "comment": "provenance line"}
