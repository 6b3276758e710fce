r"""Two implementations must agree: numba vs plain numpy, sparse n-gram vs dense HMM, vs hmmlearn."""
import numpy as np
import pytest

from mdmlab import synth
from tests import reference


def _masked(x, rate, seed):
    rng = np.random.default_rng(seed)
    return np.where(rng.random(x.shape) < rate, synth.MASK, x)


@pytest.mark.parametrize("sparsity", [0.0, 0.5])
def test_hmm_kernels_match_plain_numpy_reference(sparsity):
    lang = synth.HMMLanguage.random(5, 4, sparsity=sparsity, rng=3)
    x = lang.sample(30, 6, rng=4)
    xm = _masked(x, 0.5, 5)
    lp, cond, loo = lang.log_prob(xm), lang.conditionals(xm), lang.leave_one_out(x)
    for b in range(len(x)):
        ref_lp, ref_rows = reference.forward_backward(lang.initial, lang.transition, lang.emission, xm[b])
        assert lp[b] == pytest.approx(ref_lp, rel=1e-12)
        masked = xm[b] < 0
        np.testing.assert_allclose(cond[b][masked], ref_rows[masked], rtol=0, atol=1e-12)
        np.testing.assert_array_equal(cond[b][~masked], np.eye(4)[xm[b][~masked]])
        _, ref_loo = reference.forward_backward(lang.initial, lang.transition, lang.emission, x[b])
        np.testing.assert_allclose(loo[b], ref_loo, rtol=0, atol=1e-12)


@pytest.mark.parametrize("order", [1, 2, 3])
def test_sparse_ngram_path_matches_dense_hmm_path(order):
    lang = synth.NGramLanguage.random(order, 4, sparsity=0.5, rng=order)
    dense = lang.to_hmm()
    x = lang.sample(25, 8, rng=1)
    xm = _masked(x, 0.6, 2)
    np.testing.assert_allclose(lang.log_prob(xm), dense.log_prob(xm), rtol=1e-12)
    np.testing.assert_allclose(lang.conditionals(xm), dense.conditionals(xm), rtol=0, atol=1e-12)
    np.testing.assert_allclose(lang.leave_one_out(x), dense.leave_one_out(x), rtol=0, atol=1e-12)
    assert lang.entropy(6).nats == pytest.approx(dense.entropy(6).nats, abs=1e-12)  # enumerated
    wrong = x.copy()
    wrong[:, 5] = (wrong[:, 5] + 1) % 4  # some of these leave the support
    np.testing.assert_array_equal(lang.in_support(wrong), dense.in_support(wrong))


@pytest.mark.parametrize("sparsity", [0.0, 0.3])
def test_hmm_log_prob_matches_hmmlearn_score(sparsity):
    hmm = pytest.importorskip("hmmlearn.hmm")
    lang = synth.HMMLanguage.random(6, 5, sparsity=sparsity, rng=7)
    model = hmm.CategoricalHMM(n_components=6, n_features=5, implementation="scaling")
    model.startprob_, model.transmat_, model.emissionprob_ = lang.initial, lang.transition, lang.emission
    x = lang.sample(200, 10, rng=8)
    ours = lang.log_prob(x)
    for b in range(len(x)):
        assert ours[b] == pytest.approx(model.score(x[b][:, None]), rel=1e-9)


def test_long_sequences_are_stable():
    L = 100_000
    hmm = synth.HMMLanguage.random(4, 3, sparsity=0.3, rng=0)
    ngram = synth.NGramLanguage.random(3, 3, sparsity=0.3, rng=0)
    for lang in (hmm, ngram):
        x = lang.sample(L, 2, rng=1)
        lp = lang.log_prob(x)
        assert np.all(np.isfinite(lp)) and np.all(lp < -1000)
        cond = lang.conditionals(_masked(x, 0.5, 3))
        assert np.all(np.isfinite(cond))
        np.testing.assert_allclose(cond.sum(-1), 1.0, atol=1e-12)
    # the n-gram path and the dense HMM path agree at this length too
    x = ngram.sample(L, 2, rng=1)
    np.testing.assert_allclose(ngram.log_prob(x), ngram.to_hmm().log_prob(x), rtol=1e-12)
    hmmlearn = pytest.importorskip("hmmlearn.hmm")
    model = hmmlearn.CategoricalHMM(n_components=4, n_features=3, implementation="scaling")
    model.startprob_, model.transmat_, model.emissionprob_ = hmm.initial, hmm.transition, hmm.emission
    x = hmm.sample(L, rng=2)
    assert hmm.log_prob(x) == pytest.approx(model.score(x[:, None]), rel=1e-9)


def test_save_load_round_trips_exactly(tmp_path):
    langs = [synth.HMMLanguage.random(4, 3, sparsity=0.3, rng=0),
             synth.NGramLanguage.random(1, 5, rng=1), synth.NGramLanguage.random(3, 3, sparsity=0.5, rng=2)]
    for i, lang in enumerate(langs):
        path = tmp_path / f"lang{i}.bin"
        lang.save(path)
        back = synth.load(path)
        assert type(back) is type(lang) and path.exists()
        for key, value in lang._state().items():
            np.testing.assert_array_equal(back._state()[key], value)
        x = lang.sample(12, 5, rng=3)
        np.testing.assert_array_equal(back.log_prob(x), lang.log_prob(x))
