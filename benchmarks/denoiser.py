r"""The torch denoiser's two measured design choices, each against its alternative on the same
time budget: rotary embeddings vs absolute positions only, masked-token-mean loss vs the 1/t ELBO.

Language ngram:order=3,vocab=8,sparsity=0.5,seed=1, L = 64, 2 layers x 64, batch 32, lr 3e-3; the
figure is the exact learning error (mean KL per masked held-out token) after ``seconds`` of training.
"""
from mdmlab.models.denoiser import DenoiserConfig
from mdmlab.models.training import TrainConfig, train

SPEC = "ngram:order=3,vocab=8,sparsity=0.5,seed=1"


def _eps(seconds, *, rotary=True, objective="masked-mean"):
    model = DenoiserConfig(vocab_size=8, length=64, n_layer=2, n_head=4, n_embd=64, rotary=rotary)
    cfg = TrainConfig(language=SPEC, length=64, model=model, max_steps=1500, max_minutes=seconds / 60,
                      eval_every=10 ** 9, eval_samples=64, warmup_steps=50, objective=objective)
    return train(cfg, progress=False, device="cpu").eps_learning


def run(seconds=40):
    base = _eps(seconds)
    absolute = _eps(seconds, rotary=False)
    elbo = _eps(seconds, objective="elbo")
    print(f"denoiser after {seconds} s: eps_learning rotary + masked-mean {base:.3f}, absolute positions "
          f"{absolute:.3f}, ELBO objective {elbo:.3f} (nats per masked token)")
    return [("denoiser eps_learning: rotary / absolute positions only", base / absolute, "<=", 1.0),
            ("denoiser eps_learning: masked-mean loss / 1/t ELBO loss", base / elbo, "<=", 1.0)]
