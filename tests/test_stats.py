"""The interval and pairing code on numbers worked by hand (src/veritune/stats.py)."""

from __future__ import annotations

import pytest

from veritune.stats import mcnemar_p, pair_items, paired_bootstrap, verdict


def test_mcnemar_exact_by_hand():
    """Two-sided exact McNemar = 2 x the smaller Binomial(b + c, 1/2) tail, capped at 1.

    5 up, 0 down: 2 x (1/2)^5 = 0.0625. 6 up, 1 down: 2 x (C(7,0) + C(7,1)) / 2^7 = 16/128
    = 0.125. 3 up, 3 down: 2 x (1 + 6 + 15 + 20) / 64 = 84/64 -> capped at 1. No flips: 1.
    """
    assert mcnemar_p(5, 0) == pytest.approx(0.0625)
    assert mcnemar_p(0, 5) == pytest.approx(0.0625)
    assert mcnemar_p(6, 1) == pytest.approx(0.125)
    assert mcnemar_p(3, 3) == 1.0
    assert mcnemar_p(0, 0) == 1.0


def test_mcnemar_equals_scipy_binomtest():
    """The issue's kb rerun: 41 wrong->right, 25 right->wrong, p = 0.064."""
    from scipy.stats import binomtest

    for up, down in [(41, 25), (12, 6), (0, 9), (30, 31)]:
        assert mcnemar_p(up, down) == pytest.approx(binomtest(up, up + down, 0.5).pvalue)
    assert round(mcnemar_p(41, 25), 3) == 0.064


def test_one_seed_interval_by_hand():
    """diffs [1, 0, 0, 0]: a replicate's mean is k/4, k ~ Binomial(4, 1/4):
    P(k=0) = .3164, P(k<=1) = .7383, P(k<=2) = .9492, P(k<=3) = .9961.
    The 2.5% point is 0 (k = 0 holds 31.6% of the mass); the 97.5% point is 3/4 (the cdf
    passes .975 at k = 3). Mean 1/4."""
    r = paired_bootstrap([1, 0, 0, 0], replicates=20_000)
    assert (r["mean"], r["low"], r["high"]) == (0.25, 0.0, 0.75)
    assert (r["seeds"], r["items"]) == (1, 4)


def test_seeds_are_resampled_too():
    """Two seeds that disagree completely, [[1, 1], [0, 0]]: a replicate draws seed 0 twice
    (p 1/4, mean 1), once (1/2, mean 1/2) or never (1/4, mean 0), whatever items it draws:
    interval [0, 1] around 1/2. (Items alone would give [1/2, 1/2].)"""
    r = paired_bootstrap([[1, 1], [0, 0]], replicates=20_000)
    assert (r["mean"], r["low"], r["high"]) == (0.5, 0.0, 1.0)


def test_items_are_shared_between_seeds():
    """[[1, 0], [1, 0]]: both seeds agree, items differ. Every drawn seed gets the same drawn
    items, so a replicate's mean is (draws of item 0) / 2: 0, 1/2 or 1 with p 1/4, 1/2, 1/4
    -> interval [0, 1]. Were items drawn apart per seed, the mean would be k/4 with
    k ~ Binomial(4, 1/2) and the interval [1/4, 3/4]."""
    r = paired_bootstrap([[1, 0], [1, 0]], replicates=20_000)
    assert (r["low"], r["high"]) == (0.0, 1.0)


def test_constant_differences_give_a_point_interval():
    r = paired_bootstrap([[0.5] * 7] * 3)
    assert r["mean"] == r["low"] == r["high"] == 0.5


def test_interval_width_matches_the_standard_error():
    """200 items, half 1 and half 0 (one seed): the standard error of the mean is
    sqrt(.25 / 200) = 0.03536, so the 95% interval is about 0.5 +- 1.96 x 0.0354 =
    [0.431, 0.569]."""
    r = paired_bootstrap([1, 0] * 100)
    assert r["low"] == pytest.approx(0.431, abs=0.006)
    assert r["high"] == pytest.approx(0.569, abs=0.006)


def test_bootstrap_is_reproducible_and_empty_input_is_none():
    assert paired_bootstrap([1, 0, 1], seed=3) == paired_bootstrap([1, 0, 1], seed=3)
    assert paired_bootstrap([])["mean"] is None


def test_verdict():
    assert verdict({"low": 0.01, "high": 0.2}) == "gain"
    assert verdict({"low": -0.2, "high": -0.01}) == "fall"
    assert verdict({"low": -0.1, "high": 0.1}) == "unclear"
    assert verdict({"low": None, "high": None}) == "unclear"


def test_pair_items_keeps_common_keys_in_base_order():
    keys, a, b = pair_items([("q1", 1.0), ("q2", 0.0), ("q3", 1.0)],
                            [("q3", 0.0), ("q1", 1.0), ("q9", 1.0)])
    assert (keys, a, b) == (["q1", "q3"], [1.0, 1.0], [1.0, 0.0])
    with pytest.raises(ValueError, match="twice"):
        pair_items([("q1", 1.0), ("q1", 0.0)], [("q1", 1.0)])
