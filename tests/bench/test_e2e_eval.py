import pytest

from bench import e2e_eval
from bench.common import RESULTS_DIR
from moodtune.errors import CatalogError


def test_a_home_without_the_demo_is_an_error_not_zero_figures(settings):
    with pytest.raises(CatalogError, match="no demo catalog"):
        e2e_eval.main(settings, name="e2e_should_not_exist")
    assert not (RESULTS_DIR / "e2e_should_not_exist.json").exists()
