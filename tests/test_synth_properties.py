r"""Property-based invariants of the exact languages (hypothesis)."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mdmlab import synth

languages = st.one_of(
    st.builds(lambda n, V, s, seed: synth.NGramLanguage.random(n, V, sparsity=s, rng=seed),
              st.integers(1, 3), st.integers(1, 5), st.floats(0, 0.9), st.integers(0, 2 ** 32 - 1)),
    st.builds(lambda K, V, s, seed: synth.HMMLanguage.random(K, V, sparsity=s, rng=seed),
              st.integers(1, 5), st.integers(1, 5), st.floats(0, 0.9), st.integers(0, 2 ** 32 - 1)),
)


@settings(max_examples=60, deadline=None)
@given(lang=languages, length=st.integers(1, 12), batch=st.integers(1, 4), rate=st.floats(0, 1),
       seed=st.integers(0, 2 ** 32 - 1))
def test_sampled_strings_are_in_support_and_conditionals_are_distributions(lang, length, batch, rate, seed):
    rng = np.random.default_rng(seed)
    x = lang.sample(length, batch, rng=rng)
    lp = lang.log_prob(x)
    assert np.all(np.isfinite(lp)) and np.all(lp <= 0)
    masked = rng.random(x.shape) < rate
    cond = lang.conditionals(np.where(masked, synth.MASK, x))
    np.testing.assert_allclose(cond.sum(-1), 1.0, rtol=0, atol=1e-12)
    assert np.all(cond >= 0)
    np.testing.assert_array_equal(cond[~masked], np.eye(lang.vocab_size)[x[~masked]])
    # the sampled token always has positive conditional probability
    assert np.all(np.take_along_axis(cond, x[..., None], -1) > 0)
    loo = lang.leave_one_out(x)
    np.testing.assert_allclose(loo.sum(-1), 1.0, rtol=0, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(lang=languages, length=st.integers(1, 30))
def test_entropy_is_nonnegative_and_at_most_L_log_V(lang, length):
    h = lang.entropy(length, samples=200, rng=0)
    assert -1e-12 <= h.nats <= length * np.log(lang.vocab_size) + 4 * h.stderr + 1e-9
