r"""analysis.frames: the step-by-step reveal of one sample."""
import numpy as np

from mdmlab import models, synth
from mdmlab.analysis.frames import reveal_frames, render


def test_frames_follow_the_run_and_mark_leaving_the_support():
    lang = synth.pair_copy(2)
    for seed in range(200):  # a run whose pair breaks: both halves in one step, drawn differently
        res = models.sample(lang, 8, 2, schedule="balanced", rng=seed)
        if not lang.in_support(res.tokens):
            break
    frames = reveal_frames(lang, res.tokens, res.reveal_step)
    assert [f.step for f in frames] == sorted(set(res.reveal_step.tolist()))
    np.testing.assert_array_equal(frames[-1].tokens, res.tokens)
    assert sum(f.new.sum() for f in frames) == 8
    first_bad = next(i for i, f in enumerate(frames) if f.log_q == -np.inf)
    assert [f.left_support for f in frames] == [i == first_bad for i in range(len(frames))]
    text = render(frames)
    assert text.count("left the support") == 1 and "[" in text
    assert "\033[" in render(frames, colour=True)


def test_frames_of_a_one_token_per_step_run_stay_in_the_support():
    lang = synth.NGramLanguage.random(2, 3, sparsity=0.4, rng=4)
    res = models.sample(lang, 6, 6, schedule="balanced", rng=1)
    frames = reveal_frames(lang, res.tokens, res.reveal_step)
    assert len(frames) == 6 and all(f.new.sum() == 1 for f in frames)
    assert not any(f.left_support for f in frames) and np.isfinite(frames[-1].log_q)
    assert frames[-1].log_q == float(lang.log_prob(res.tokens))
