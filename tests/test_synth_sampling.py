r"""Exact sampling checked against the enumerated law, and reproducibility of draws."""
import numba
import numpy as np
import pytest
from scipy import stats

from mdmlab import synth
from tests.conftest import TINY, joint_of

DRAWS = 100_000


@pytest.mark.parametrize("name", sorted(TINY))
def test_sample_histogram_matches_exact_law(name):
    lang = TINY[name]()
    L = 4
    joint = joint_of(lang, L).reshape(-1)
    assert joint.size <= 256  # small enough to enumerate and fill every cell
    x = lang.sample(L, DRAWS, rng=123)
    assert lang.in_support(x).all()
    codes = np.ravel_multi_index(tuple(x.T), (lang.vocab_size,) * L)
    counts = np.bincount(codes, minlength=joint.size)
    assert counts[joint == 0].sum() == 0
    keep = joint > 0
    # Pearson chi-square with a fixed seed: a correct sampler fails with probability 1e-4.
    _, p = stats.chisquare(counts[keep], DRAWS * joint[keep] / joint[keep].sum())
    assert p > 1e-4, f"chi-square p = {p:.2e}"


def test_sample_shapes_follow_numpy_size():
    lang = TINY["bigram-sparse"]()
    assert lang.sample(5, rng=0).shape == (5,)
    assert lang.sample(5, 3, rng=0).shape == (3, 5)
    assert lang.sample(5, (2, 3), rng=0).shape == (2, 3, 5)
    assert lang.sample(5, 0, rng=0).shape == (0, 5)
    assert lang.sample(5, rng=0).dtype == np.int64


@pytest.mark.parametrize("name", ["hmm-sparse", "trigram-sparse"])
def test_same_seed_same_samples_and_batch_shape_invariance(name):
    lang = TINY[name]()
    a = lang.sample(7, (4, 5), rng=9)
    np.testing.assert_array_equal(a, lang.sample(7, (4, 5), rng=9))
    np.testing.assert_array_equal(a.reshape(20, 7), lang.sample(7, 20, rng=9))
    assert not np.array_equal(a, lang.sample(7, (4, 5), rng=10))


@pytest.mark.parametrize("name", ["hmm-sparse", "trigram-sparse"])
def test_results_identical_for_any_thread_count(name):
    lang = TINY[name]()
    rng = np.random.default_rng(0)
    x = lang.sample(50, 64, rng=1)
    xm = np.where(rng.random(x.shape) < 0.5, synth.MASK, x)
    before = numba.get_num_threads()
    results = []
    try:
        for threads in (1, before):
            numba.set_num_threads(threads)
            results.append((lang.sample(50, 64, rng=1), lang.log_prob(xm), lang.conditionals(xm),
                            lang.leave_one_out(x)))
    finally:
        numba.set_num_threads(before)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_draw_categorical_never_picks_zero_mass_and_falls_back():
    from mdmlab.synth._kernels import draw_categorical

    cdf = np.cumsum([0.0, 0.3, 0.0, 0.7, 0.0])
    picks = {draw_categorical(cdf, u) for u in np.linspace(0, 1, 1001)[:-1]}
    assert picks == {1, 3}
    assert draw_categorical(cdf, np.nextafter(1.0, 0.0)) == 3
    assert draw_categorical(np.array([0.2, 0.5, 0.5]), 1.0) == 1  # rounding fallback: last positive mass
