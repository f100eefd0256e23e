from __future__ import annotations

import pytest

from moodtune.types import EmotionVector, StyleVector, Track


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
