"""The tagger-windows benchmark's variants on made-up per-patch probabilities (no audio is read)."""

from __future__ import annotations

import numpy as np
import pytest

from bench.tagger_windows import VARIANTS, spread, variant_items
from tools.tagger import MSD_TAGS, MTT_TAGS


def _patches(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"msd": rng.random((n, len(MSD_TAGS))), "mtt": rng.random((n, len(MTT_TAGS)))}


def test_a_variant_averages_only_its_patches_and_keeps_the_measured_values():
    rows = [{"id": "long"}, {"id": "short"}]
    patches = {"long": _patches(12, 0), "short": _patches(5, 1)}
    measures = {r["id"]: {"svm": {"rock": 1.0}, "tempo": 120.0, "loudness_db": -20.0, "genre_tag": ""} for r in rows}
    items = dict((row["id"], comp) for row, comp in variant_items(rows, patches, measures, VARIANTS["mid4"]))
    expected = patches["long"]["msd"][[1, 4, 7, 10]].mean(axis=0)
    assert items["long"]["msd"]["rock"] == pytest.approx(expected[MSD_TAGS.index("rock")])
    assert items["long"]["msd"]["rock"] != pytest.approx(patches["long"]["msd"][:, 0].mean())
    # A track read whole (fewer than 12 patches) keeps all of them in every variant.
    assert items["short"]["mtt"]["fast"] == pytest.approx(patches["short"]["mtt"][:, MTT_TAGS.index("fast")].mean())
    assert items["long"]["tempo"] == 120.0 and items["short"]["svm"] == {"rock": 1.0}


def test_variants_are_patch_subsets_of_the_twelve():
    assert VARIANTS["all12"] == tuple(range(12))
    for name, keep in VARIANTS.items():
        assert keep and set(keep) <= set(range(12)) and len(set(keep)) == len(keep), name


@pytest.mark.parametrize(
    ("n", "keep", "expected"),
    [(100, 5, [0, 25, 50, 74, 99]), (10, 24, list(range(10))), (7, None, list(range(7))), (3, 2, [0, 2])],
)
def test_spread_keeps_patches_evenly_from_first_to_last(n, keep, expected):
    assert spread(n, keep) == expected


def test_a_whole_track_variant_averages_its_spread_patches():
    rows = [{"id": "long"}]
    patches = {"long": _patches(40, 2)}
    measures = {"long": {"svm": {}, "tempo": 100.0, "loudness_db": -18.0, "genre_tag": ""}}
    ((_, comp),) = variant_items(rows, patches, measures, 4)
    keep = spread(40, 4)
    assert keep == [0, 13, 26, 39]
    assert comp["mtt"]["fast"] == pytest.approx(patches["long"]["mtt"][keep, MTT_TAGS.index("fast")].mean())
