r"""Bad input to the sampler gets a clear error."""
import numpy as np
import pytest

from mdmlab import models
from tests.conftest import TINY


@pytest.fixture
def lang():
    return TINY["bigram-sparse"]()


def test_steps_out_of_range(lang):
    with pytest.raises(ValueError, match=r"steps must be >= 1, got 0"):
        models.sample(lang, 5, 0)
    with pytest.raises(ValueError, match=r"steps must be between 1 and length = 5 .* got 6"):
        models.sample(lang, 5, 6, schedule="balanced")
    # ancestral schedules take N > L (issue 11: steps that reveal nothing)
    assert models.sample(lang, 5, 6, schedule="linear", rng=0).counts.sum() == 5


def test_counts_must_sum_to_length(lang):
    with pytest.raises(ValueError, match=r"schedule counts must be >= 0 and sum to length = 5, got sum 4"):
        models.sample(lang, 5, 2, schedule=[2, 2])
    with pytest.raises(ValueError, match=r"schedule has 3 counts but steps = 2"):
        models.sample(lang, 5, 2, schedule=[2, 2, 1])
    with pytest.raises(ValueError, match=r"counts must be >= 0"):
        models.sample(lang, 5, 2, schedule=[6, -1])


def test_unknown_names_list_the_valid_ones(lang):
    with pytest.raises(ValueError, match=r"policy must be one of \['random', 'left-to-right', 'confidence', "
                                         r"'margin', 'entropy', 'sampled', 'sampled-raw'\], got 'greedy'"):
        models.sample(lang, 5, 2, policy="greedy")
    with pytest.raises(ValueError, match=r"schedule must be one of \['linear', 'cosine', 'loglinear', 'balanced', "
                                         r"'balanced-front', 'balanced-back'\].*got 'square'"):
        models.sample(lang, 5, 2, schedule="square")


def test_bad_alpha_callable(lang):
    with pytest.raises(ValueError, match=r"alpha\(1\) = 0 and alpha\(0\) = 1; got alpha\(1\) = 1.0"):
        models.sample(lang, 5, 2, schedule=lambda t: t)


def test_block_length_rules(lang):
    with pytest.raises(ValueError, match=r"block_length must be >= 1, got 0"):
        models.sample(lang, 5, 2, block_length=0)
    with pytest.raises(ValueError, match=r"block_length must be <= length = 5, got 6"):
        models.sample(lang, 5, 2, block_length=6)
    res = models.sample(lang, 5, 5, schedule="balanced", block_length=2, rng=0)  # last block shorter
    assert sorted(res.reveal_step[:2]) == [0, 1] and sorted(res.reveal_step[2:4]) == [2, 3]


class _Broken:
    def conditionals(self, x):
        rows = np.full(x.shape + (3,), 1 / 3)
        rows[0, 2] = [0.5, 0.5, 0.5]
        return rows


def test_denoiser_rows_that_are_not_distributions_name_the_position():
    with pytest.raises(ValueError, match=r"not a distribution at batch 0, position 2 \(sum 1.5"):
        models.sample(_Broken(), 5, 2, rng=0)
    with pytest.raises(TypeError, match=r"denoiser must be a synth language or have a conditionals\(x\) method"):
        models.sample(object(), 5, 2)


def test_log_prob_given_reveal_checks_its_inputs(lang):
    with pytest.raises(ValueError, match=r"reveal_step must be an integer array of the shape of x \(5,\)"):
        models.log_prob_given_reveal(lang, np.zeros(5, dtype=int), np.zeros(4, dtype=int))
    with pytest.raises(ValueError, match=r"no MASK allowed"):
        models.log_prob_given_reveal(lang, np.full(5, -1), np.zeros(5, dtype=int))


def test_method_rules(lang):
    with pytest.raises(ValueError, match=r"method must be one of \['auto', 'tree', 'sweep', 'generic'\], got 'fast'"):
        models.sample(lang, 5, 2, method="fast")
    with pytest.raises(ValueError, match=r"method='tree' needs a synth language and a static policy"):
        models.sample(lang, 5, 2, method="tree", policy="confidence")
    with pytest.raises(ValueError, match=r"method='tree' needs a synth language"):
        models.sample(models.ExactDenoiser(lang), 5, 2, method="tree")
