r"""Languages from data: n-gram estimates from text, hmmlearn models, JSON language files."""
import collections
import json

import numpy as np
import pytest

from mdmlab import synth

TEXT = "abracadabra arbadacarba"


def test_bigram_from_text_is_the_count_ratio_and_keeps_unseen_transitions_forbidden():
    lang = synth.NGramLanguage.fit(TEXT, 2)
    assert lang.alphabet == tuple(sorted(set(TEXT)))
    pairs = collections.Counter(zip(TEXT, TEXT[1:]))
    firsts = collections.Counter(TEXT[:-1])
    idx = {c: i for i, c in enumerate(lang.alphabet)}
    for a in lang.alphabet:
        for b in lang.alphabet:
            expected = pairs[(a, b)] / firsts[a] if firsts[a] else 1.0 / len(lang.alphabet)
            assert lang.table[idx[a], idx[b]] == pytest.approx(expected, abs=1e-15)
    counts = collections.Counter(TEXT)
    np.testing.assert_allclose(lang.initial, [counts[c] / len(TEXT) for c in lang.alphabet], atol=1e-15)
    x = np.array([idx[c] for c in TEXT])
    assert np.isfinite(lang.log_prob(x))
    assert lang.log_prob(np.array([idx["a"], idx["a"]])) == -np.inf  # "aa" never occurs


def test_smoothing_allows_everything_and_order_three_counts_triples():
    smooth = synth.NGramLanguage.fit(TEXT, 2, smoothing=0.5)
    assert (smooth.table > 0).all()
    tri = synth.NGramLanguage.fit(TEXT, 3)
    idx = {c: i for i, c in enumerate(tri.alphabet)}
    triples = collections.Counter(zip(TEXT, TEXT[1:], TEXT[2:]))
    ctx = collections.Counter(zip(TEXT[:-2], TEXT[1:-1]))
    a, b, c = idx["a"], idx["b"], idx["r"]
    assert tri.table[a, b, c] == pytest.approx(triples[("a", "b", "r")] / ctx[("a", "b")], abs=1e-15)


def test_fit_token_sequences_never_spans_two_sequences():
    lang = synth.NGramLanguage.fit([[0, 1, 0, 1], [2, 2]], 2, vocab_size=4)
    assert lang.vocab_size == 4 and lang.alphabet is None
    assert lang.table[1, 2] == 0.0  # 1 then 2 only across the sequence boundary
    np.testing.assert_allclose(lang.table[3], 0.25)  # token 3 never seen as a context: uniform row


@pytest.mark.parametrize("data,kwargs,match", [
    ("ab", {"order": 3}, "at least order = 3"),
    ([0, 1, 5], {"order": 2, "vocab_size": 3}, "vocab_size must exceed every token"),
    ([0.5, 1.0], {"order": 1}, "non-negative integer tokens"),
    ("abc", {"order": 2, "smoothing": -1.0}, "smoothing"),
])
def test_fit_refuses_bad_data(data, kwargs, match):
    with pytest.raises(ValueError, match=match):
        synth.NGramLanguage.fit(data, **kwargs)


def test_hmmlearn_round_trip_scores_the_same():
    lang = synth.HMMLanguage.random(3, 4, sparsity=0.3, rng=1)
    model = lang.to_hmmlearn()
    x = lang.sample(12, 5, rng=2)
    for row in x:
        assert model.score(row[:, None]) == pytest.approx(float(lang.log_prob(row)), abs=1e-9)
    back = synth.HMMLanguage.from_hmmlearn(model)
    np.testing.assert_array_equal(back.transition, lang.transition)
    with pytest.raises(TypeError, match="fitted hmmlearn CategoricalHMM"):
        synth.HMMLanguage.from_hmmlearn(object())


@pytest.mark.parametrize("make", [lambda: synth.NGramLanguage.random(3, 3, sparsity=0.4, rng=1),
                                  lambda: synth.NGramLanguage.random(1, 4, rng=2),
                                  lambda: synth.HMMLanguage.random(3, 2, rng=3)])
def test_json_round_trip_is_exact(tmp_path, make):
    lang = make()
    path = tmp_path / "lang.json"
    lang.save(str(path))
    back = synth.load(str(path))
    assert type(back) is type(lang)
    for name, arr in lang._state().items():
        if name != "kind":
            np.testing.assert_array_equal(back._state()[name], arr)
    assert type(synth.from_spec(str(path))) is type(lang)


def test_json_hard_language_and_bad_files(tmp_path):
    good = tmp_path / "pc.json"
    good.write_text(json.dumps({"kind": "pair-copy", "symbols": 3}))
    lang = synth.from_spec(str(good))
    assert lang.vocab_size == 3 and str(lang.spec) == "pair-copy:symbols=3"
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        synth.load(str(bad))
    bad.write_text(json.dumps({"kind": "ngram", "order": 2}))
    with pytest.raises(ValueError, match="needs keys"):
        synth.load(str(bad))
    bad.write_text(json.dumps([1, 2]))
    with pytest.raises(ValueError, match="must hold a JSON object"):
        synth.load(str(bad))
