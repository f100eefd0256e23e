"""The fused audio reading (tools/audio_reading.py): the mood axes' fit/predict, the artefact, and
real recordings read through the whole audio path."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from moodtune.errors import ModelCorruptError
from moodtune.types import GENRES, StyleVector
from tools.audio_reading import (
    ALL_TAGS,
    AROUSAL_SIGNS,
    ARTEFACT_DIR,
    MEASURED,
    VERSION,
    AudioReader,
    MoodAxis,
)

EVEN = StyleVector.from_mapping(dict.fromkeys(GENRES, 0.1))


def _tags(**values: float) -> dict[str, float]:
    return {name: values.get(name.split(":", 1)[1].replace(" ", "_"), 0.05) for name in ALL_TAGS}


def test_prior_axis_reads_fast_loud_tags_as_higher_arousal_than_slow_soft_ones():
    axis = MoodAxis.prior(AROUSAL_SIGNS)
    loud = _tags(fast=0.8, loud=0.7, drums=0.6, metal=0.5)
    quiet = _tags(slow=0.8, soft=0.7, quiet=0.6, classical=0.5)
    assert axis.probability(loud, None) > 0.5 > axis.probability(quiet, None)


def test_fit_learns_the_sign_of_a_separating_tag_and_survives_a_round_trip():
    rng = np.random.default_rng(0)
    rows, labels = [], []
    for _ in range(60):
        high = bool(rng.integers(2))
        rows.append((_tags(fast=float(rng.uniform(0.5, 0.9) if high else rng.uniform(0.0, 0.4))), None))
        labels.append(int(high))
    features = ("mtt:fast", "mtt:slow", *MEASURED)
    axis = MoodAxis.fit(rows, labels, features=features, C=1.0)
    assert dict(zip(axis.features, axis.coef))["mtt:fast"] > 0
    again = MoodAxis.from_dict(axis.to_dict())
    for tags, feats in rows[:5]:
        assert again.probability(tags, feats) == pytest.approx(axis.probability(tags, feats))
    assert np.mean([(axis.probability(t, f) > 0.5) == bool(y) for (t, f), y in zip(rows, labels)]) > 0.9


def test_a_logodds_axis_reads_rare_tags_on_the_taggers_own_scale_and_survives_a_round_trip():
    names = ("mtt:fast", "msd:sad", *MEASURED)
    tags = _tags(fast=0.9, sad=0.0)
    x = MoodAxis.raw(tags, None, names, "logodds")
    assert x[0] == pytest.approx(np.log(0.9 / 0.1))
    assert np.isfinite(x[1]) and x[1] < -9  # a stored 0 is clipped, not -inf

    # A rare tag rising 0.01 -> 0.1 moves a log-odds feature about as far as a common one rising
    # 0.5 -> 0.9 (as probabilities it moves 4.4 times less).
    def lo(name, p):
        return MoodAxis.raw({name: p}, None, [name], "logodds")[0]

    assert lo("msd:sad", 0.1) - lo("msd:sad", 0.01) == pytest.approx(
        lo("mtt:fast", 0.9) - lo("mtt:fast", 0.5), rel=0.15
    )
    rng = np.random.default_rng(1)
    rows, labels = [], []
    for _ in range(60):
        high = bool(rng.integers(2))
        rows.append((_tags(fast=float(rng.uniform(0.05, 0.3) if high else rng.uniform(0.001, 0.04))), None))
        labels.append(int(high))
    axis = MoodAxis.fit(rows, labels, features=names, C=1.0, tag_scale="logodds")
    assert axis.tag_scale == "logodds" and dict(zip(axis.features, axis.coef))["mtt:fast"] > 0
    again = MoodAxis.from_dict(axis.to_dict())
    assert [again.probability(t, f) for t, f in rows[:5]] == pytest.approx(
        [axis.probability(t, f) for t, f in rows[:5]]
    )
    # An artefact written before tag scales existed reads its tags as probabilities.
    old = {k: v for k, v in axis.to_dict().items() if k != "tag_scale"}
    assert MoodAxis.from_dict(old).tag_scale == "prob"


def test_an_unknown_tag_scale_in_the_artefact_names_the_fix():
    axis = MoodAxis.from_dict({**MoodAxis.prior(AROUSAL_SIGNS).to_dict(), "tag_scale": "sqrt"})
    with pytest.raises(ModelCorruptError, match="models/audio_reading"):
        axis.probability(_tags(), None)


def test_shipped_artefact_loads_with_its_fitted_arousal_model(tmp_path):
    reader = AudioReader.load()
    assert reader.meta["arousal"]["kept"] in ("fitted", "prior")
    assert set(reader.arousal.features) <= {*ALL_TAGS, *MEASURED}
    saved = reader.save(tmp_path / "reader", meta={"test": True})
    assert saved["version"] == VERSION
    copy = AudioReader.load(tmp_path / "reader")
    tags = _tags(fast=0.7)
    assert copy.arousal.probability(tags, None) == pytest.approx(reader.arousal.probability(tags, None))


def test_a_corrupt_reader_file_names_the_fix(tmp_path):
    broken = tmp_path / "audio_reading"
    shutil.copytree(ARTEFACT_DIR, broken)
    (broken / "reader.json").write_text('{"w_svm": 0.2', encoding="utf-8")
    with pytest.raises(ModelCorruptError, match="models/audio_reading"):
        AudioReader.load(broken)


def test_file_genre_tag_takes_its_shown_share_of_q():
    reader = AudioReader(w_svm=0.2, w_tagger=0.8, w_file_tag=0.5)
    q, _, weights = reader.style(EVEN, _tags(), "Heavy Metal")
    assert weights == {"svm": 0.1, "tagger": 0.4, "file_tag": 0.5}
    assert q.top == "metal"
    _, _, untagged = reader.style(EVEN, _tags(), "Soundtrack")
    assert untagged["file_tag"] == 0.0


@pytest.fixture(scope="module")
def real_readings(real_recordings):
    from tools.style import analyse_file

    # genre_tag="" so the audio alone decides (Wesnoth's files are tagged 'Romantic Classical').
    return {name: analyse_file(path, genre_tag="") for name, path in real_recordings.items()}


def test_real_metal_and_quiet_orchestral_tracks_get_different_genres_and_arousal(real_readings):
    metal, orchestral = real_readings["metal"], real_readings["orchestral"]
    assert metal.style.top in ("metal", "rock")
    assert orchestral.style.top == "classical"
    assert metal.style["metal"] > orchestral.style["metal"]
    assert metal.arousal > 0 > orchestral.arousal
    assert metal.tags["msd:metal"] > orchestral.tags["msd:metal"]
