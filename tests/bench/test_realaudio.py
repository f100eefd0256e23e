"""The real-audio benchmark's scoring on made-up rows (no audio is read)."""

from __future__ import annotations

import pytest

from bench.realaudio import binary_scores, genre_scores, group_scores, mood_scores, score, top_k
from moodtune.types import GENRES


def reading(top: str, second: str, third: str, *, valence: float = 0.0, arousal: float = 0.0) -> dict:
    genres = {g: 0.01 for g in GENRES}
    genres.update({top: 0.5, second: 0.25, third: 0.18})
    return {"genres": genres, "valence": valence, "arousal": arousal}


def row(package: str, genre: str | None, read: dict | None, **labels) -> dict:
    base = {"id": f"{package}:{genre}:{len(labels)}", "package": package, "artist": "A", "set": "extra", "genre": genre}
    base.update({"arousal": None, "valence": None, "arousal_confidence": None, "valence_confidence": None})
    base.update(labels)
    if read is not None:
        base["reading"], base["seconds"] = read, 2.0
    else:
        base["error"] = "AudioReadError: silent"
    return base


def test_top_k_orders_by_probability():
    assert top_k(reading("jazz", "blues", "rock")["genres"], 3) == ["jazz", "blues", "rock"]


def test_genre_top1_top3_only_on_gtzan_genres():
    rows = [
        row("p", "metal", reading("metal", "rock", "pop")),  # top-1
        row("p", "rock", reading("metal", "rock", "pop")),  # top-3 only
        row("p", "jazz", reading("metal", "rock", "pop")),  # neither
        row("p", "electronic", reading("disco", "pop", "hiphop")),  # not a GTZAN genre: not scored
    ]
    result = genre_scores(rows)
    assert result["n"] == 3
    assert result["top1"] == pytest.approx(1 / 3, abs=1e-4)
    assert result["top3"] == pytest.approx(2 / 3, abs=1e-4)
    assert result["predicted_top1_by_label"]["rock"] == {"metal": 1}


def test_binary_scores_auc_and_sign_accuracy():
    result = binary_scores([True, True, False, False], [0.8, -0.1, -0.5, 0.3])
    assert result["auc"] == pytest.approx(0.75)
    assert result["accuracy"] == pytest.approx(0.5)  # 0.8 right, -0.1 wrong, -0.5 right, 0.3 wrong
    one_class = binary_scores([True, True], [0.1, -0.2])
    assert one_class["auc"] is None and one_class["accuracy"] == 0.5


def test_mood_scores_use_labelled_rows_and_confidence_filter():
    rows = [
        row("p", None, reading("pop", "rock", "disco", arousal=0.6), arousal="high", arousal_confidence="high"),
        row("p", None, reading("pop", "rock", "disco", arousal=-0.4), arousal="low", arousal_confidence="low"),
        row("p", None, reading("pop", "rock", "disco", arousal=0.9)),  # no arousal label
    ]
    assert mood_scores(rows, "arousal", "high") == {"n": 2, "n_pos": 1, "n_neg": 1, "auc": 1.0, "accuracy": 1.0}
    assert mood_scores(rows, "arousal", "high", confident_only=True)["n"] == 1


def test_score_counts_failures_and_groups_by_package():
    rows = [
        row("a", "metal", reading("metal", "rock", "pop", valence=-0.2), valence="negative"),
        row("a", "rock", None),
        row("b", "classical", reading("jazz", "classical", "blues", valence=0.4), valence="positive"),
    ]
    overall = score(rows)
    assert overall["tracks"] == 3 and overall["failed"] == 1
    assert overall["valence"]["auc"] == 1.0 and overall["seconds_per_track"] == 2.0
    groups = group_scores(rows, lambda r: r["package"])
    assert set(groups) == {"a", "b"}
    assert groups["a"]["genre"]["top1"] == 1.0 and groups["a"]["failed"] == 1
    assert groups["b"]["genre"] == {**groups["b"]["genre"], "n": 1, "top1": 0.0, "top3": 1.0}
