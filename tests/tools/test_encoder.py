"""The sentence encoders' set-up, on the real USE v3 package."""

from __future__ import annotations

import numpy as np
import pytest


def _running_blas_threads() -> int:
    from threadpoolctl import threadpool_info

    return min(info["num_threads"] for info in threadpool_info() if info.get("user_api") == "blas")


def test_the_multilingual_encoder_asks_blas_for_no_more_threads_than_it_runs():
    # More than OpenBLAS runs makes every call start and stop threads (~0.14 s against ~2 ms).
    from tools.encoder import _multilingual_encoder

    assert 1 <= _multilingual_encoder().threads <= _running_blas_threads()


@pytest.mark.parametrize("most", [1, 2, 64])
def test_blas_threads_is_capped_both_ways(most):
    from tools.encoder import blas_threads

    assert blas_threads(most=most) == max(1, min(most, _running_blas_threads()))


def test_a_chinese_request_lands_near_its_english_counterpart():
    from tools.encoder import embed_multilingual

    zh, en, other = embed_multilingual(
        ["想听点安静的歌", "I want to hear some quiet songs", "turn the volume up for a metal workout"]
    )
    assert float(np.dot(zh, en)) > float(np.dot(zh, other))
    assert np.linalg.norm(zh) == pytest.approx(1.0, abs=1e-5)
