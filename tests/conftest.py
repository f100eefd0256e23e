"""Fixtures shared by all tests. Every test gets its own MOODTUNE_HOME."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from moodtune.config import Settings
from moodtune.types import EmotionVector, StyleVector, Track

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    """Settings whose home, LLM path included, is an empty temp dir.

    The real LLM's path is dropped here so that no test can write over it (the weight
    assembly tests write to `resolved_llm_path`); tests about the model take `real_llm_path`.
    """
    home = tmp_path / "home"
    monkeypatch.setenv("MOODTUNE_HOME", str(home))
    monkeypatch.delenv("MOODTUNE_LLM_PATH", raising=False)
    monkeypatch.delenv("MOODTUNE_WHISPER_DIR", raising=False)  # likewise the speech models (real_whisper_dir)
    return Settings.load(home=home).ensure_dirs()


@pytest.fixture(scope="session")
def real_llm_path() -> Path:
    """The assembled GGUF that `./run.sh test` points MOODTUNE_LLM_PATH at."""
    path = os.environ.get("MOODTUNE_LLM_PATH")
    if not path:
        pytest.skip("MOODTUNE_LLM_PATH is not set (./run.sh test sets it)")
    return Path(path)


@pytest.fixture(scope="session")
def real_whisper_dir() -> Path:
    """The Whisper models `./run.sh test` assembles (MOODTUNE_WHISPER_DIR), and espeak-ng to speak to them."""
    import shutil

    from moodtune.speech_weights import WHISPER_MODELS, whisper_status

    path = os.environ.get("MOODTUNE_WHISPER_DIR")
    if not path:
        pytest.skip("MOODTUNE_WHISPER_DIR is not set (./run.sh test sets it)")
    probe = Settings(whisper_dir=Path(path))
    for name in WHISPER_MODELS:
        status = whisper_status(probe, name)
        assert status.ready, f"speech model {name}: {status.detail}; run `moodtune setup` with the voice extra"
    assert shutil.which("espeak-ng"), "espeak-ng is missing: apt-get install espeak-ng"
    return Path(path)


class FakeLLM:
    """Stands in for the local LLM in tests about the logic around it (never about the model)."""

    name = "fake-llm"

    def __init__(self, answer: dict | None = None, wording: str | list[str] = "") -> None:
        self.answer = answer or {
            "m": ["calm"],
            "x": [],
            "g": [],
            "a": [],
            "xa": [],
            "xg": [],
            "c": "",
            "f": False,
            "s": "match",
            "e": "",
            "music": True,
        }
        # One answer for every call, or a list: the answer of each call in turn.
        self.wording = wording
        self.calls: list[list[dict]] = []
        self.prefixes: list[int] = []  # how many leading messages each call named as its reusable prefix
        self.kept: list[list[dict]] = []  # prefixes a warm-up asked to keep
        self.last_timing = {"completion_tokens": 0}

    def generate_json(self, messages, *, schema, max_tokens, unread=(), prefill="", prefix=0):
        self.calls.append(list(messages))
        self.prefixes.append(prefix)
        self.unread = tuple(unread)
        return dict(self.answer)

    def generate(self, messages, *, max_tokens, temperature=0.0, stop=None, prefix=0):
        self.calls.append(list(messages))
        self.prefixes.append(prefix)
        return self.wording

    def keep_prefix(self, messages):
        self.kept.append(list(messages))

    def stream(self, messages, *, max_tokens, temperature=0.0, stop=None, prefix=0):
        self.calls.append(list(messages))
        self.prefixes.append(prefix)
        text = self.wording if isinstance(self.wording, str) else self.wording.pop(0)
        for i in range(0, len(text), 7):
            yield text[i : i + 7]


# Real recordings from Debian packages (./run.sh test installs them; see bench/data/README.md for
# their labels): a death-metal song by Muldjord and Wesnoth's quiet orchestral "sad" theme.
REAL_RECORDINGS = {
    "metal": Path("/usr/share/games/fretsonfire/data/songs/muldjord/chaos_god/song.ogg"),
    "orchestral": Path("/usr/share/games/wesnoth/1.16/data/core/music/sad.ogg"),
}


@pytest.fixture(scope="session")
def real_recordings() -> dict[str, Path]:
    missing = [str(p) for p in REAL_RECORDINGS.values() if not p.is_file()]
    if missing:
        if os.environ.get("MOODTUNE_REQUIRE_REALAUDIO"):
            pytest.fail(
                f"real recordings missing: {missing} (apt-get install fretsonfire-songs-muldjord wesnoth-1.16-music)"
            )
        pytest.skip(f"real recordings not installed: {missing}")
    return dict(REAL_RECORDINGS)


@pytest.fixture
def fake_llm():
    return FakeLLM


def make_track(
    track_id: str,
    *,
    mood: str,
    genre: str,
    artist: str = "Artist",
    title: str | None = None,
    tempo: float = 100.0,
    duration: float = 30.0,
    source: str = "user",
    genre_tag: str = "",
    text: str = "",
) -> Track:
    return Track(
        id=track_id,
        path=f"/music/{track_id}.flac",
        title=title or f"Song {track_id}",
        artist=artist,
        emotion=EmotionVector.blend([(EmotionVector.one_hot(mood), 0.8), (EmotionVector.uniform(), 0.2)]),
        style=StyleVector.blend([(StyleVector.one_hot(genre), 0.8), (StyleVector.uniform(), 0.2)]),
        tempo=tempo,
        duration=duration,
        source=source,
        genre_tag=genre_tag,
        text=text or f"{mood} {genre} song",
    )


@pytest.fixture
def track_factory():
    return make_track


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 1 MB tmpfs, for a real full disk; needs the right to mount (root), else the test is skipped, saying why."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture
def fill_disk():
    """fill_disk(directory): write a filler file until the disk is full; returns its path."""

    def fill(directory: Path) -> Path:
        filler = directory / "filler"
        with open(filler, "wb") as out:
            try:
                while True:
                    out.write(b"\0" * 65536)
                    out.flush()
            except OSError:
                pass
        return filler

    return fill


# Rendered demo-recipe clips whose sounds are told apart by the music tagger's embedding
# (cosine, MSD model, 10 s): the two metal grooves 0.88, the two jazz ones 0.91, metal to jazz
# 0.36-0.50, the third metal groove (an upload) 0.71-0.73 to the other two and <= 0.36 to the rest.
SOUND_CLIPS = {
    "metal_a": ("metal", 1),
    "metal_b": ("metal", 2),
    "metal_upload": ("metal", 0),
    "jazz_a": ("jazz", 0),
    "jazz_b": ("jazz", 1),
    "classical_a": ("corpus", 0),
    "classical_b": ("corpus", 1),
}


@pytest.fixture(scope="session")
def sound_clips(tmp_path_factory) -> dict[str, Path]:
    """name -> a rendered 10 s FLAC (SOUND_CLIPS), each its own file name."""
    from catalog.demo import plan_clips, render_plan

    by_genre: dict[str, list] = {}
    for plan in plan_clips():
        by_genre.setdefault("corpus" if plan.corpus_path else plan.genre, []).append(plan)
    folder = tmp_path_factory.mktemp("sound-clips")
    clips = {}
    for name, (genre, index) in SOUND_CLIPS.items():
        rendered = render_plan(by_genre[genre][index], folder / name, seconds=10.0)
        clips[name] = rendered.rename(folder / f"{name}.flac")
    return clips
