r"""The torch denoiser: protocol, fast overfitting, exact learning error, bit-exact resume."""
import numpy as np
import pytest
import torch

from mdmlab import models
from mdmlab import synth
from mdmlab.models.denoiser import Denoiser, DenoiserConfig
from mdmlab.models.training import HeldOut, TrainConfig, load_denoiser, train

TINY_MODEL = DenoiserConfig(vocab_size=3, length=6, n_layer=1, n_head=2, n_embd=32)


def _lang():
    return synth.NGramLanguage.random(2, 3, sparsity=0.4, rng=4)


def test_conditionals_protocol_and_sampling():
    model = Denoiser(TINY_MODEL, generator=torch.Generator().manual_seed(0))
    x = np.array([[0, synth.MASK, 2, synth.MASK, synth.MASK, 1]])
    rows = model.conditionals(x)
    assert rows.shape == (1, 6, 3) and rows.dtype == np.float64
    np.testing.assert_allclose(rows.sum(-1), 1.0, atol=1e-12)
    np.testing.assert_array_equal(rows[0, 0], [1, 0, 0])
    res = models.sample(model, 6, 3, size=5, rng=0)
    assert res.method == "generic" and res.tokens.shape == (5, 6) and (res.tokens >= 0).all()
    # log p_M(x) = sum_j sum_{i in M_j} log p_theta(x_i | x revealed before step j), recomputed from the model
    expected = np.zeros(5)
    for j in range(3):
        rows = model.conditionals(np.where(res.reveal_step < j, res.tokens, synth.MASK))
        picked = np.take_along_axis(rows, res.tokens[..., None], axis=-1)[..., 0]
        expected += np.where(res.reveal_step == j, np.log(picked), 0.0).sum(axis=1)
    np.testing.assert_allclose(res.log_prob_sampler, expected, rtol=1e-6)


def test_forward_loss_ignores_unmasked_targets():
    model = Denoiser(TINY_MODEL, generator=torch.Generator().manual_seed(0))
    ids = torch.tensor([[3, 1, 3, 0, 2, 3]])
    logits, loss = model(ids, torch.tensor([[0, -1, 2, -1, -1, 1]]))
    ce = torch.nn.functional.cross_entropy(logits[0, [0, 2, 5]], torch.tensor([0, 2, 1]), reduction="sum") / 6
    assert loss.item() == pytest.approx(ce.item(), rel=1e-6)
    with pytest.raises(ValueError, match=r"length 7, more than the model's length 6"):
        model(torch.zeros((1, 7), dtype=torch.long))


def test_exact_learning_error_is_zero_for_the_exact_denoiser():
    lang = _lang()
    held = HeldOut(lang, 6, 16, (0.3, 0.7), np.random.default_rng(0))
    mean, worst = held.kl(models.ExactDenoiser(lang))
    assert abs(mean) < 1e-12 and abs(worst) < 1e-12


def test_tiny_model_overfits_a_tiny_language():
    model = DenoiserConfig(vocab_size=3, length=4, n_layer=1, n_head=2, n_embd=32)
    cfg = TrainConfig(language="-", length=4, model=model, batch_size=64, max_steps=1200, warmup_steps=50,
                      lr=3e-3, eval_every=400, eval_samples=64, seed=1)
    res = train(cfg, language=_lang(), progress=False, device="cpu")
    first, last = res.history["eps_learning"].iloc[0], res.eps_learning
    assert last < 0.05 and last < first / 5, res.history


def test_checkpoint_resume_equals_uninterrupted_run(tmp_path):
    base = dict(language="-", length=6, model=TINY_MODEL, batch_size=16, warmup_steps=5, eval_every=10,
                eval_samples=8, seed=2)
    full = train(TrainConfig(max_steps=30, **base), language=_lang(), progress=False, device="cpu")
    train(TrainConfig(max_steps=30, **base), language=_lang(), out_dir=tmp_path, progress=False, device="cpu",
          stop_at=12)  # interrupted after step 12
    resumed = train(TrainConfig(max_steps=30, **base), language=_lang(), out_dir=tmp_path, resume=True,
                    progress=False, device="cpu")
    for (name, a), b in zip(full.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), name
    loaded = load_denoiser(tmp_path / "checkpoint.pt")
    x = np.full((2, 6), synth.MASK)
    np.testing.assert_array_equal(loaded.conditionals(x), resumed.model.conditionals(x))
    with pytest.raises(ValueError, match=r"needs a checkpoint"):
        train(TrainConfig(max_steps=1, **base), language=_lang(), out_dir=tmp_path / "none", resume=True,
              progress=False)


@pytest.mark.parametrize("kwargs,match", [
    ({"n_head": 3, "n_embd": 32}, "divisible by n_head"),
    ({"n_head": 4, "n_embd": 12}, "head size"),
    ({"n_layer": 0}, "n_layer must be >= 1"),
    ({"n_head": 0}, "n_head must be >= 1"),
    ({"vocab_size": 2.5}, "vocab_size must be an integer"),
    ({"dropout": 1.0}, "dropout"),
])
def test_config_refuses_bad_shapes(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        DenoiserConfig(**kwargs)
