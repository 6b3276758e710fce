r"""Every exact quantity of synth/ against the brute-force oracle (tests/brute.py) to 1e-12."""
import numpy as np
import pytest

from mdmlab import synth
from tests import brute
from tests.conftest import joint_of

LENGTHS = [1, 2, 4]


@pytest.mark.parametrize("length", LENGTHS)
def test_log_prob_and_support_match_enumeration(tiny_language, length):
    joint = joint_of(tiny_language, length)
    x = brute.all_strings(tiny_language.vocab_size, length)
    lp = tiny_language.log_prob(x)
    np.testing.assert_allclose(np.exp(lp), joint.reshape(-1), rtol=0, atol=1e-12)
    expected_support = joint.reshape(-1) > 0
    np.testing.assert_array_equal(tiny_language.in_support(x), expected_support)
    np.testing.assert_array_equal(np.isneginf(lp), ~expected_support)
    assert abs(joint.sum() - 1) < 1e-12


@pytest.mark.parametrize("length", LENGTHS)
def test_conditionals_match_enumeration_under_random_masks(tiny_language, length):
    rng = np.random.default_rng(length)
    joint = joint_of(tiny_language, length)
    x = tiny_language.sample(length, 40, rng=rng)
    masks = rng.random(x.shape) < rng.random((40, 1))  # mask rates from 0 to 1
    masks[0] = True  # fully masked: the marginals
    masks[1] = False  # fully observed: all one-hot
    xm = np.where(masks, synth.MASK, x)
    got = tiny_language.conditionals(xm)
    for b in range(len(xm)):
        np.testing.assert_allclose(got[b], brute.conditionals(joint, xm[b]), rtol=0, atol=1e-12)


@pytest.mark.parametrize("length", [2, 4])
def test_leave_one_out_matches_enumeration(tiny_language, length):
    joint = joint_of(tiny_language, length)
    x = brute.all_strings(tiny_language.vocab_size, length)[joint.reshape(-1) > 0]
    got = tiny_language.leave_one_out(x)
    for b in range(len(x)):
        np.testing.assert_allclose(got[b], brute.leave_one_out(joint, x[b]), rtol=0, atol=1e-12)


@pytest.mark.parametrize("length", [1, 2, 3, 5])
def test_entropy_matches_enumeration(tiny_language, length):
    joint = joint_of(tiny_language, length)
    got = tiny_language.entropy(length)
    assert got.method == "exact" and got.stderr == 0.0
    assert got.nats == pytest.approx(brute.entropy(joint), abs=1e-12)


def test_hmm_entropy_monte_carlo_brackets_the_exact_value():
    lang = synth.HMMLanguage.random(3, 3, rng=11)
    exact = lang.entropy(6).nats
    mc = lang.entropy(6, samples=20_000, rng=12, max_enumeration=1)
    assert mc.method == "monte-carlo" and mc.samples == 20_000 and mc.stderr > 0
    assert abs(mc.nats - exact) < 4 * mc.stderr  # 4 sigma: fails with probability ~6e-5


def test_leave_one_out_outside_support_is_defined_where_the_rest_has_mass():
    # bigram with 1 -> 1 forbidden: x = (0, 1, 1) is impossible; x_(-0) = (., 1, 1) has no mass,
    # but x_(-1) = (0, ., 1) and x_(-2) = (0, 1, .) do: exactly one row is undefined.
    lang = synth.NGramLanguage(2, [[0.5, 0.5], [1.0, 0.0]], initial=[0.5, 0.5])
    joint = brute.ngram_joint(2, lang.table, lang.initial, 3)
    x = np.array([0, 1, 1])
    expected = brute.leave_one_out(joint, x)
    assert np.isnan(expected).all(axis=1).tolist() == [True, False, False]
    with pytest.raises(ValueError, match=r"x_\(-0\) have probability zero.*\(1 such positions\)"):
        lang.leave_one_out(x)
    np.testing.assert_allclose(lang.leave_one_out(np.array([0, 0, 1]))[2], [0.5, 0.5], atol=1e-15)


def test_textbook_hmm_by_hand():
    # pi = (.5, .5), A = [[.9, .1], [.2, .8]], E = [[.7, .3], [.1, .9]]:
    # q(0) = .5*.7 + .5*.1 = .4; q(0, 0) = .2205 + .0035 + .007 + .004 = .235; q(x2=0 | x1=0) = .5875.
    lang = synth.HMMLanguage([0.5, 0.5], [[0.9, 0.1], [0.2, 0.8]], [[0.7, 0.3], [0.1, 0.9]])
    assert np.exp(lang.log_prob([0])) == pytest.approx(0.4, abs=1e-15)
    assert np.exp(lang.log_prob([0, 0])) == pytest.approx(0.235, abs=1e-15)
    assert lang.conditionals([0, synth.MASK])[1, 0] == pytest.approx(0.5875, abs=1e-15)


def test_textbook_bigram_uniform_precontext_rule():
    # table [[.5, .5], [1, 0]]: a uniform pre-token u, then x_1 ~ table[u]: q(x_1 = 0) = .75;
    # 1 -> 1 is forbidden; q(0, 1) = .75 * .5 = .375.
    lang = synth.NGramLanguage(2, [[0.5, 0.5], [1.0, 0.0]])
    np.testing.assert_allclose(lang.initial, [0.75, 0.25], atol=1e-15)
    assert np.exp(lang.log_prob([0, 1])) == pytest.approx(0.375, abs=1e-15)
    assert not lang.in_support([1, 1])
    np.testing.assert_allclose(lang.conditionals([synth.MASK, 1])[0], [1.0, 0.0], atol=1e-15)
