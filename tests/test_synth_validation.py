r"""Bad input gets a clear error naming the argument, the expected and the actual value."""
import numpy as np
import pytest

from mdmlab import synth

HMM = dict(initial=[0.5, 0.5], transition=[[0.9, 0.1], [0.2, 0.8]], emission=[[0.7, 0.3], [0.1, 0.9]])


def _hmm(**override):
    return synth.HMMLanguage(**{**HMM, **override})


def test_non_stochastic_matrix_prints_the_row_sums():
    with pytest.raises(ValueError, match=r"transition must sum to one.*row \(1,\): 1\.2000000000000002"):
        _hmm(transition=[[0.9, 0.1], [0.4, 0.8]])
    with pytest.raises(ValueError, match=r"initial must sum to one"):
        _hmm(initial=[0.5, 0.6])


def test_negative_nan_and_inf_entries():
    with pytest.raises(ValueError, match=r"emission must be non-negative, got emission\[\(0, 1\)\] = -0\.1"):
        _hmm(emission=[[1.1, -0.1], [0.1, 0.9]])
    with pytest.raises(ValueError, match=r"transition must be finite, found 1 NaN/inf"):
        _hmm(transition=[[np.nan, 0.1], [0.2, 0.8]])
    with pytest.raises(ValueError, match=r"initial must be finite"):
        _hmm(initial=[np.inf, 0.5])


def test_wrong_shapes():
    with pytest.raises(ValueError, match=r"transition must have shape \(2, 2\), got \(2, 3\)"):
        _hmm(transition=[[0.9, 0.1, 0.0], [0.2, 0.8, 0.0]])
    with pytest.raises(ValueError, match=r"emission must have shape \(K, V\), got \(2,\)"):
        _hmm(emission=[0.5, 0.5])
    with pytest.raises(ValueError, match=r"table must have shape \(V,\) \* order = \(V,\) \* 2, got \(2,\)"):
        synth.NGramLanguage(2, [0.5, 0.5])
    with pytest.raises(ValueError, match=r"initial must have shape \(2,\), got \(3,\)"):
        synth.NGramLanguage(2, [[0.5, 0.5], [1, 0]], initial=[0.2, 0.3, 0.5])


def test_order_and_sizes():
    with pytest.raises(ValueError, match=r"order must be >= 1, got 0"):
        synth.NGramLanguage.random(0, 4)
    with pytest.raises(TypeError, match=r"order must be an integer, got float 2.0"):
        synth.NGramLanguage.random(2.0, 4)
    with pytest.raises(ValueError, match=r"vocab_size must be >= 1, got 0"):
        synth.HMMLanguage.random(3, 0)
    with pytest.raises(ValueError, match=r"sparsity must be a finite number in \[0.0, 1.0\), got 1.0"):
        synth.NGramLanguage.random(2, 4, sparsity=1.0)
    with pytest.raises(ValueError, match=r"concentration must be a finite number in \(0.0, inf\), got -1.0"):
        synth.HMMLanguage.random(2, 4, concentration=-1)


def test_random_language_too_big_says_how_big():
    with pytest.raises(ValueError, match=r"order-8 table over V = 64 .* 281,474,976,710,656 float64 entries "
                                         r"\(2,097,152.0 GiB\)"):
        synth.NGramLanguage.random(8, 64)
    with pytest.raises(ValueError, match=r"dense transition matrix \(K, K\) with K = 32768"):
        synth.NGramLanguage.random(4, 32, rng=0).to_hmm()


@pytest.mark.parametrize("method", ["log_prob", "in_support", "conditionals"])
def test_bad_token_arrays(method):
    lang = _hmm()
    call = getattr(lang, method)
    with pytest.raises(ValueError, match=r"x must hold token ids in \[0, 2\) or MASK = -1, got x\[\(1,\)\] = 2"):
        call([0, 2])
    with pytest.raises(ValueError, match=r"got x\[\(0, 2\)\] = -2"):
        call([[0, 1, -2]])
    with pytest.raises(TypeError, match=r"x must be an integer array of token ids, got dtype float64"):
        call([0.0, 1.0])
    with pytest.raises(ValueError, match=r"x must have length L >= 1 in its last axis, got shape \(3, 0\)"):
        call(np.zeros((3, 0), dtype=int))
    with pytest.raises(ValueError, match=r"x is empty: shape \(0, 4\)"):
        call(np.zeros((0, 4), dtype=int))
    with pytest.raises(ValueError, match=r"x must have at least one dimension"):
        call(np.int64(1))


def test_sample_arguments():
    lang = _hmm()
    with pytest.raises(ValueError, match=r"length must be >= 1, got 0"):
        lang.sample(0)
    with pytest.raises(TypeError, match=r"size must be None, an int or a tuple of ints, got 'a'"):
        lang.sample(3, "a")


def test_zero_probability_conditioning_is_an_error_not_nan():
    lang = synth.NGramLanguage(2, [[0.5, 0.5], [1.0, 0.0]])
    x = np.array([[0, synth.MASK, 1], [1, 1, synth.MASK]])  # the second sequence is impossible
    with pytest.raises(ValueError, match=r"x\[1\]: its unmasked tokens have probability zero"):
        lang.conditionals(x)
    assert np.isfinite(lang.conditionals(x[:1])).all()


def test_leave_one_out_refuses_masks():
    with pytest.raises(ValueError, match=r"\(no MASK allowed here\)"):
        _hmm().leave_one_out([0, synth.MASK])


def test_mask_ids_are_never_read_as_the_last_symbol():
    # With a forbidden 1 -> 1 transition, reading MASK = -1 as the last symbol (1) would make
    # (1, MASK) impossible; as a mask it is certain.
    lang = synth.NGramLanguage(2, [[0.5, 0.5], [1.0, 0.0]])
    assert lang.log_prob([1, synth.MASK]) == pytest.approx(np.log(lang.initial[1]), abs=1e-15)


def test_load_rejects_files_that_are_not_languages(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, a=np.zeros(2))
    with pytest.raises(ValueError, match=r"is not a saved mdmlab language \(kind None"):
        synth.load(path)


def test_nearly_stochastic_rows_are_accepted_and_renormalised():
    lang = _hmm(transition=[[0.9 + 5e-9, 0.1], [0.2, 0.8]])
    np.testing.assert_allclose(lang.transition.sum(axis=1), 1.0, rtol=0, atol=1e-15)


def test_conditionals_too_long_for_memory_says_how_big():
    lang = synth.NGramLanguage.random(4, 32, rng=0)  # K = 32768 windows
    x = np.full((1, 5000), synth.MASK)
    with pytest.raises(ValueError, match=r"forward messages \(L, K\) .* 163,840,000 float64 entries"):
        lang.conditionals(x)
