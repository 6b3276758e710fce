r"""The public contract between languages and the sampler: a language defined only by ``chain()``.

``ChainOnly`` implements nothing but ``chain()``; every synth method and every sampler path must
treat it exactly as the built-in class with the same chain (same arrays, same kernels, same draws).
"""
import numpy as np
import pytest

from mdmlab import models
from mdmlab import synth
from mdmlab import theory
from tests import brute

# A hand-checked HMM with forbidden transitions and emissions, so impossible reveals happen.
PI = np.array([0.5, 0.5, 0.0])
A = np.array([[0.0, 0.75, 0.25],
              [0.5, 0.0, 0.5],
              [1.0, 0.0, 0.0]])
E = np.array([[1.0, 0.0],
              [0.25, 0.75],
              [0.0, 1.0]])


class ChainOnly(synth.Language):
    """A third language class: only ``chain()``, nothing else (vocab_size comes from the chain)."""

    def __init__(self, chain):
        self._chain = chain

    def chain(self):
        return self._chain


def _pairs():
    """(chain-only language, the built-in language with the same chain)."""
    hmm = synth.HMMLanguage(PI, A, E)
    tri = synth.NGramLanguage.random(3, 2, sparsity=0.5, rng=5)
    return {"hmm": (ChainOnly(synth.HMMChain(PI, A, E)), hmm),
            "trigram": (ChainOnly(synth.NGramChain(*tri.chain())), tri)}


@pytest.fixture(params=["hmm", "trigram"])
def pair(request):
    return _pairs()[request.param]


def test_the_hand_written_hmm_is_the_brute_force_law():
    lang = ChainOnly(synth.HMMChain(PI, A, E))
    joint = brute.hmm_joint(PI, A, E, 3)
    x = brute.all_strings(2, 3)
    np.testing.assert_allclose(np.exp(lang.log_prob(x)), joint.reshape(-1), atol=1e-15)
    # pinned by hand: q(0, 1, 0) sums three hidden paths, z = (0, 1, 0): .5 * 1 * .75 * .75 * .5 * 1,
    # z = (0, 2, 0): .5 * 1 * .25 * 1 * 1 * 1, z = (1, 2, 0): .5 * .25 * .5 * 1 * 1 * 1
    assert np.exp(lang.log_prob([0, 1, 0])) == pytest.approx(0.140625 + 0.125 + 0.0625, rel=1e-15)
    assert lang.vocab_size == 2 and lang.entropy(3).method == "exact"


def test_synth_methods_equal_the_built_in_class_bit_for_bit(pair):
    mine, ref = pair
    x = ref.sample(9, 40, rng=1)
    np.testing.assert_array_equal(mine.sample(9, 40, rng=1), x)
    np.testing.assert_array_equal(mine.sample(9, rng=1), ref.sample(9, rng=1))
    xm = np.where(np.random.default_rng(0).random(x.shape) < 0.5, synth.MASK, x)
    np.testing.assert_array_equal(mine.log_prob(xm), ref.log_prob(xm))
    np.testing.assert_array_equal(mine.conditionals(xm), ref.conditionals(xm))
    np.testing.assert_array_equal(mine.leave_one_out(x), ref.leave_one_out(x))
    assert mine.entropy(6).nats == pytest.approx(ref.entropy(6).nats, rel=1e-13)  # enumeration vs recursion
    assert ChainOnly(ref.chain()).entropy(6) == synth.Language.entropy(ref, 6)  # both by enumeration


def test_mutual_information_dispatches_on_the_chain(pair):
    mine, ref = pair
    a, b = theory.total_mutual_information(mine, 5), theory.total_mutual_information(ref, 5)
    assert a.method == b.method == "exact"
    np.testing.assert_array_equal(a.per_position, b.per_position)


@pytest.mark.parametrize("policy,schedule", [("random", "linear"), ("left-to-right", "balanced"),
                                             ("confidence", "cosine"), ("random", [2, 0, 2])])
def test_exact_law_equals_the_built_in_class_exactly(pair, policy, schedule):
    mine, ref = pair
    N = 3 if isinstance(schedule, list) else 2
    np.testing.assert_array_equal(models.exact_law(mine, 4, N, schedule=schedule, policy=policy),
                                  models.exact_law(ref, 4, N, schedule=schedule, policy=policy))


@pytest.mark.parametrize("method", ["sweep", "tree", "generic", "wrapped"])
def test_samples_equal_the_built_in_class_on_every_path(pair, method):
    mine, ref = pair
    kw = dict(size=25, schedule="cosine", policy="random", block_length=3, rng=7)
    if method == "wrapped":
        a = models.sample(models.ExactDenoiser(mine), 12, 5, **kw)
        b = models.sample(models.ExactDenoiser(ref), 12, 5, **kw)
    else:
        a = models.sample(mine, 12, 5, method=method, **kw)
        b = models.sample(ref, 12, 5, method=method, **kw)
    assert a.method == b.method == ("generic" if method == "wrapped" else method)
    for field in ("tokens", "reveal_step", "counts", "nfe", "log_prob_sampler"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


def test_sampler_histogram_of_the_chain_only_language_matches_its_exact_law():
    mine = ChainOnly(synth.HMMChain(PI, A, E))
    law = models.exact_law(mine, 4, 2, schedule="linear").reshape(-1)
    S = 20_000
    for method in ("sweep", "tree"):
        res = models.sample(mine, 4, 2, size=S, schedule="linear", method=method, rng=3)
        freq = np.bincount(np.ravel_multi_index(tuple(res.tokens.T), (2,) * 4), minlength=16) / S
        assert freq[law == 0].sum() == 0
        assert np.all(np.abs(freq - law) <= 5 * np.sqrt(law * (1 - law) / S) + 1e-12)  # 5 sigma per cell


def test_sweep_and_generic_paths_agree_bit_for_bit_on_the_chain_only_language():
    mine = ChainOnly(synth.HMMChain(PI, A, E))
    kw = dict(size=30, schedule="balanced-back", policy="margin", rng=2)
    a, b = models.sample(mine, 10, 4, **kw), models.sample(mine, 10, 4, method="generic", **kw)
    assert (a.method, b.method) == ("sweep", "generic")
    for field in ("tokens", "reveal_step", "counts", "nfe", "log_prob_sampler"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


def test_conditionals_with_the_uniform_fallback():
    lang = synth.HMMLanguage(PI, A, E)
    # q(1, 1, 1) = 0: a 1 from state 1 must be followed by state 2 (emits 1), and then state 0 (emits 0)
    x = np.array([[1, 1, 1, -1], [0, -1, -1, -1]])
    assert lang.log_prob(x[0]) == -np.inf
    with pytest.raises(ValueError, match=r"x\[0\]: its unmasked tokens have probability zero"):
        lang.conditionals(x)
    rows = lang.conditionals(x, impossible="uniform")
    np.testing.assert_array_equal(rows[0], [[0, 1], [0, 1], [0, 1], [0.5, 0.5]])
    np.testing.assert_array_equal(rows[1], lang.conditionals(x[1]))
    np.testing.assert_array_equal(models.ExactDenoiser(lang).conditionals(x), rows)
    with pytest.raises(ValueError, match=r"impossible must be 'raise' or 'uniform', got 'nan'"):
        lang.conditionals(x, impossible="nan")


# -- size=None, counts ---------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["sweep", "tree", "generic"])
def test_size_none_gives_one_sequence(method):
    lang = synth.NGramLanguage.random(2, 3, rng=0)
    res = models.sample(lang, 8, 3, schedule="balanced", method=method, rng=0)
    assert res.tokens.shape == res.reveal_step.shape == (8,) and res.counts.shape == (3,)
    assert isinstance(res.nfe, np.int64) and isinstance(res.log_prob_sampler, np.float64)
    assert np.shape(res.nfe) == np.shape(res.log_prob_sampler) == ()
    batch = models.sample(lang, 8, 3, size=1, schedule="balanced", method=method, rng=0)
    for field in ("tokens", "reveal_step", "counts", "nfe", "log_prob_sampler"):
        np.testing.assert_array_equal(getattr(res, field), getattr(batch, field)[0])
    shaped = models.sample(lang, 8, 3, size=(2, 3), schedule="balanced", method=method, rng=0)
    assert shaped.tokens.shape == (2, 3, 8) and shaped.counts.shape == (2, 3, 3) and shaped.nfe.shape == (2, 3)
    assert models.reveal_partitions(8, 3, rng=0).shape == (8,)
    assert models.reveal_partitions(8, 3, size=(2, 3), rng=0).shape == (2, 3, 8)


@pytest.mark.parametrize("schedule", ["balanced", "balanced-back", [0, 5, 0, 5], "cosine", "linear"])
def test_counts_are_the_run_counts(schedule):
    lang = synth.HMMLanguage(PI, A, E)
    res = models.sample(lang, 10, 4, size=50, schedule=schedule, rng=1)
    assert res.counts.dtype == np.int64 and res.counts.shape == (50, 4)
    assert (res.counts.sum(axis=1) == 10).all()
    per_step = np.stack([(res.reveal_step == j).sum(axis=1) for j in range(4)], axis=1)
    np.testing.assert_array_equal(res.counts, per_step)
    np.testing.assert_array_equal(res.nfe, (res.counts > 0).sum(axis=1))
    if res.schedule.kind == "fixed":
        np.testing.assert_array_equal(res.counts, np.broadcast_to(res.schedule.counts, (50, 4)))


# -- validation happens before any draw -----------------------------------------------------------

@pytest.mark.parametrize("kwargs,error", [
    (dict(method="fast"), ValueError),
    (dict(method="tree", policy="entropy"), ValueError),
    (dict(size=0), ValueError),
    (dict(size=(2, 0)), ValueError),
    (dict(schedule="square"), ValueError),
    (dict(block_length=9), ValueError),
])
def test_invalid_arguments_raise_before_any_draw(kwargs, error):
    lang = synth.HMMLanguage(PI, A, E)
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    with pytest.raises(error):
        models.sample(lang, 6, 3, rng=rng, **kwargs)
    assert rng.bit_generator.state == state


def test_a_bad_denoiser_raises_before_any_draw():
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    with pytest.raises(TypeError, match=r"have a conditionals\(x\) method"):
        models.sample(object(), 6, 3, rng=rng)
    with pytest.raises(ValueError, match=r"method='sweep' needs a synth language"):
        models.sample(models.ExactDenoiser(synth.HMMLanguage(PI, A, E)), 6, 3, method="sweep", rng=rng)
    with pytest.raises(ValueError, match=r"NGramChain.table must sum to one"):
        models.sample(ChainOnly(synth.NGramChain(np.full(2, 0.5), np.ones((2, 2)))), 6, 3, rng=rng)
    with pytest.raises(TypeError, match=r"chain must be an HMMChain or an NGramChain, got tuple"):
        models.sample(ChainOnly((PI, A, E)), 6, 3, rng=rng)
    assert rng.bit_generator.state == state


# -- the chain types themselves -------------------------------------------------------------------

def test_ngram_chain_is_the_shift_chain_of_to_hmm():
    lang = synth.NGramLanguage.random(3, 3, sparsity=0.4, rng=1)
    chain = lang.chain()
    assert (chain.num_states, chain.vocab_size, chain.order) == (9, 3, 3)
    dense = chain.dense()
    hmm = lang.to_hmm()
    for a, b in zip(dense, hmm.chain()):
        np.testing.assert_array_equal(a, b)
    c = np.arange(9)
    np.testing.assert_array_equal(dense.emission.argmax(axis=1), c // 3)  # window c emits c // (K // V)
    for v in range(3):  # window c moves to (c % (K // V)) V + v with probability table[c, v]
        np.testing.assert_array_equal(dense.transition[c, (c % 3) * 3 + v], chain.table[:, v])
    assert synth.NGramLanguage.random(1, 4, rng=0).chain().order == 2  # i.i.d. is the bigram chain


def test_chain_arrays_are_read_only_and_the_layout_is_cached():
    lang = synth.HMMLanguage(PI, A, E)
    for arr in lang.chain():
        assert not arr.flags.writeable
    arrays = synth.kernel_arrays(lang.chain())
    assert all(not a.flags.writeable and a.flags.c_contiguous for a in arrays)
    np.testing.assert_array_equal(arrays.emission_t, E.T)
    mine = ChainOnly(synth.HMMChain(PI.copy(), A.copy(), E.copy()))
    assert mine._kernel() is mine._kernel()
    assert mine.chain().initial.flags.writeable  # the caller's arrays keep their flags


@pytest.mark.parametrize("chain,error,match", [
    (synth.HMMChain(PI, A, E[:, :1]), ValueError, r"HMMChain.emission must sum to one"),
    (synth.HMMChain(PI, A[:2], E), ValueError, r"HMMChain.transition must have shape \(3, 3\)"),
    (synth.HMMChain(PI, A, E[0]), ValueError, r"HMMChain.emission must have shape \(K, V\)"),
    (synth.NGramChain(np.full(3, 1 / 3), np.full((3, 2), 0.5)), ValueError, r"K = V\^\(n-1\) rows"),
    (synth.NGramChain(np.full(2, 0.5), np.array([[1.1, -0.1], [0.5, 0.5]])),
     ValueError, r"must be non-negative"),
    ((PI, A, E), TypeError, r"chain must be an HMMChain or an NGramChain, got tuple"),
])
def test_bad_chains_are_named(chain, error, match):
    with pytest.raises(error, match=match):
        synth.kernel_arrays(chain)


def test_vocab_size_must_match_the_chain():
    class Liar(ChainOnly):
        vocab_size = 3

    with pytest.raises(ValueError, match=r"chain\(\) has V = 2 tokens but vocab_size = 3"):
        Liar(synth.HMMChain(PI, A, E)).log_prob([0, 1])
