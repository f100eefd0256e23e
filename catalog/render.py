"""Render MIDI to audio with no system packages: tinysoundfont + the GM soundfont pretty-midi ships.

Used by the demo catalog and by tests that need real audio files.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from moodtune.errors import AudioReadError, ModelMissingError

if TYPE_CHECKING:
    import pretty_midi

SOUNDFONT_NAME = "TimGM6mb.sf2"


def soundfont_path() -> Path:
    import pretty_midi

    path = Path(pretty_midi.__file__).parent / SOUNDFONT_NAME
    if not path.is_file():
        raise ModelMissingError(
            f"soundfont {path} not found", hint="reinstall pretty-midi: `pip install --force-reinstall pretty-midi`"
        )
    return path


def synthesize(midi: pretty_midi.PrettyMIDI, *, sample_rate: int = 22_050, tail_seconds: float = 1.0) -> np.ndarray:
    """Mono float32 samples of the MIDI performance (peak-normalised to -1 dBFS)."""
    import tinysoundfont

    synth = tinysoundfont.Synth(samplerate=sample_rate)
    sfid = synth.sfload(str(soundfont_path()))
    events: list[tuple[float, int, int, int, int]] = []  # (time, order, channel, pitch, velocity)
    melodic_channels = [c for c in range(16) if c != 9]
    for index, instrument in enumerate(midi.instruments):
        channel = 9 if instrument.is_drum else melodic_channels[index % len(melodic_channels)]
        synth.program_select(
            channel,
            sfid,
            128 if instrument.is_drum else 0,
            0 if instrument.is_drum else instrument.program,
            is_drums=instrument.is_drum,
        )
        for note in instrument.notes:
            events.append((note.start, 1, channel, note.pitch, note.velocity))
            events.append((note.end, 0, channel, note.pitch, 0))  # note-offs first at equal times
    events.sort()
    total = int((midi.get_end_time() + tail_seconds) * sample_rate)
    out = np.zeros((total, 2), dtype=np.float32)
    position = 0
    for time, is_on, channel, pitch, velocity in events:
        frame = min(int(time * sample_rate), total)
        if frame > position:
            out[position:frame] = np.frombuffer(synth.generate(frame - position), dtype=np.float32).reshape(-1, 2)
            position = frame
        if is_on:
            synth.noteon(channel, pitch, velocity)
        else:
            synth.noteoff(channel, pitch)
    if total > position:
        out[position:] = np.frombuffer(synth.generate(total - position), dtype=np.float32).reshape(-1, 2)
    mono = out.mean(axis=1)
    peak = float(np.max(np.abs(mono))) or 1.0
    return (mono / peak * 0.89).astype(np.float32)


def render_midi(midi: pretty_midi.PrettyMIDI, path: Path, *, sample_rate: int = 22_050) -> Path:
    """Render to `path`; the suffix (.wav, .flac, .ogg) picks the format."""
    import soundfile

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), synthesize(midi, sample_rate=sample_rate), sample_rate)
    return path


# Tag names as mutagen's easy interfaces spell them; "comment" holds the provenance line.
TAG_NAMES = ("title", "artist", "album", "genre", "date", "comment", "copyright", "lyrics")


def write_tags(path: Path, **tags: str) -> None:
    """Write text tags (Vorbis comments for FLAC/OGG, ID3 for MP3)."""
    import mutagen

    unknown = set(tags) - set(TAG_NAMES)
    if unknown:
        raise ValueError(f"unknown tags {sorted(unknown)}; known: {TAG_NAMES}")
    audio = mutagen.File(str(path), easy=True)
    if audio is None:
        raise AudioReadError(f"{Path(path).name}: cannot write tags to this format", hint="use FLAC, OGG or MP3")
    for name, value in tags.items():
        if value:
            audio[name] = [value]
    audio.save()


def read_tags(path: Path) -> dict[str, str]:
    """Text tags of any format mutagen reads ({} for none, e.g. WAV)."""
    import mutagen

    try:
        audio = mutagen.File(str(path), easy=True)
    except Exception as exc:  # mutagen raises format-specific errors for damaged headers
        raise AudioReadError(f"{Path(path).name}: tags unreadable ({exc})") from exc
    if audio is None or audio.tags is None:
        return {}
    found = {}
    for name in TAG_NAMES:
        try:
            values = audio.get(name)
        except (KeyError, ValueError):
            values = None
        if values:
            found[name] = str(values[0])
    # Embedded lyrics in ID3 (USLT) are not in mutagen's easy keys.
    if "lyrics" not in found and not str(path).lower().endswith((".flac", ".ogg")):
        raw = mutagen.File(str(path))
        for key in getattr(raw, "tags", None) or {}:
            if str(key).startswith("USLT"):
                found["lyrics"] = str(raw.tags[key])
                break
    return found
