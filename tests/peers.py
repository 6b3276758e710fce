r"""Faithful torch re-implementations of the peers' public sampling loops, driven by the exact denoiser.

Written from the public code, statement by statement, in the peers' dtypes (float32 model outputs and
time grids, LLaDA's float64 Gumbel noise); only the model call is replaced by the exact denoiser
(:class:`ExactLogits`) and the global torch RNG by an explicit ``torch.Generator`` (STYLE 4):

* :func:`mdlm_sample`: MDLM ``diffusion.py`` ``_sample`` with ``_ddpm_update`` / ``_ddpm_caching_update``,
  ``_sample_categorical`` (the float32 exponential race) and ``noise_removal`` (loglinear noise, subs
  parameterisation: unmasked positions copy themselves, the mask has probability 0);
* :func:`llada_generate`: LLaDA ``generate.py`` ``generate``, ``get_num_transfer_tokens``, ``add_gumbel_noise``
  (classifier-free guidance off; the per-row ``torch.topk`` loop batched, which is the same call per row);
* :func:`dream_sample`: Dream ``generation_utils.py`` ``_sample``, ``sample_tokens``, ``top_p_logits``,
  ``top_k_logits`` (its logits shift included: the model's output at i predicts i + 1, so a prompt token
  at position 0 is needed).

Nothing here imports the code under test except :class:`models.ExactDenoiser` (the denoiser, not the sampler).
"""
import numpy as np
import torch
import torch.nn.functional as F

from mdmlab.models import ExactDenoiser
from mdmlab.synth import MASK


class ExactLogits:
    """model(x) -> float32 logits (B, L, V) = log q(x_i | unmasked), tokens with mask id V; counts calls."""

    def __init__(self, language, shift=False):
        self.den, self.V, self.shift, self.calls = ExactDenoiser(language), language.vocab_size, shift, 0

    def __call__(self, x):
        self.calls += 1
        xs = x.numpy()
        with np.errstate(divide="ignore"):
            logits = torch.from_numpy(np.log(self.den.conditionals(np.where(xs == self.V, MASK, xs)))).to(torch.float32)
        if self.shift:  # an AR-initialised model (Dream): output i predicts position i + 1
            logits = torch.cat([logits[:, 1:], torch.zeros_like(logits[:, :1])], dim=1)
        return logits


# -- MDLM ----------------------------------------------------------------------------------------

def _mdlm_forward(model, x, V):
    """subs parameterisation: log p_x0 (B, L, V + 1), mask -inf, unmasked positions one-hot on themselves."""
    logits = model(x)
    out = torch.full(x.shape + (V + 1,), -float("inf"))
    out[..., :V] = logits
    unmasked = x != V
    out[unmasked] = -float("inf")
    out[unmasked, x[unmasked]] = 0.0
    return out


def _sample_categorical(categorical_probs, gen):
    gumbel_norm = (1e-10 - (torch.rand(categorical_probs.shape, generator=gen) + 1e-10).log())
    return (categorical_probs / gumbel_norm).argmax(dim=-1)


def _ddpm_caching_update(model, x, t, dt, V, gen, p_x0=None):
    t = t.squeeze(-1)
    move_chance_t = t[:, None, None]
    move_chance_s = (t - dt)[:, None, None]
    if p_x0 is None:
        p_x0 = _mdlm_forward(model, x, V).exp()
    q_xs = p_x0 * (move_chance_t - move_chance_s)
    q_xs[:, :, V] = move_chance_s[:, :, 0]
    _x = _sample_categorical(q_xs, gen)
    copy_flag = (x != V).to(x.dtype)
    return p_x0, copy_flag * x + (1 - copy_flag) * _x


def _ddpm_update(model, x, t, dt, V, gen, noise_eps=1e-3):
    sigma_t = -torch.log1p(-(1 - noise_eps) * t)  # LogLinearNoise.total_noise
    sigma_s = -torch.log1p(-(1 - noise_eps) * (t - dt))
    move_chance_t = (1 - torch.exp(-sigma_t))[:, None, :]
    move_chance_s = (1 - torch.exp(-sigma_s))[:, None, :]
    q_xs = _mdlm_forward(model, x, V).exp() * (move_chance_t - move_chance_s)
    q_xs[:, :, V] = move_chance_s[:, :, 0]
    _x = _sample_categorical(q_xs, gen)
    copy_flag = (x != V).to(x.dtype)
    return copy_flag * x + (1 - copy_flag) * _x


def mdlm_sample(model, B, L, steps, gen, cache=True, eps=1e-5):
    """MDLM ``_sample`` (sampler ``ddpm_cache`` or ``ddpm``, ``noise_removal=True``): tokens (B, L)."""
    V = model.V
    x = V * torch.ones(B, L, dtype=torch.int64)
    timesteps = torch.linspace(1, eps, steps + 1)
    dt = (1 - eps) / steps
    p_x0_cache = None
    for i in range(steps):
        t = timesteps[i] * torch.ones(x.shape[0], 1)
        if cache:
            p_x0_cache, x_next = _ddpm_caching_update(model, x, t, dt, V, gen, p_x0=p_x0_cache)
            if not torch.allclose(x_next, x):
                p_x0_cache = None
            x = x_next
        else:
            x = _ddpm_update(model, x, t, dt, V, gen)
    x = _mdlm_forward(model, x, V).argmax(dim=-1)  # noise_removal
    return x


# -- LLaDA ---------------------------------------------------------------------------------------

def add_gumbel_noise(logits, temperature, gen):
    if temperature == 0:
        return logits
    logits = logits.to(torch.float64)
    noise = torch.rand(logits.shape, dtype=torch.float64, generator=gen)
    gumbel_noise = (- torch.log(noise)) ** temperature
    return logits.exp() / gumbel_noise


def get_num_transfer_tokens(mask_index, steps):
    mask_num = mask_index.sum(dim=1, keepdim=True)
    base = mask_num // steps
    remainder = mask_num % steps
    num_transfer_tokens = torch.zeros(mask_num.size(0), steps, dtype=torch.int64) + base
    for i in range(mask_num.size(0)):
        num_transfer_tokens[i, :remainder[i]] += 1
    return num_transfer_tokens


def llada_generate(model, prompt, steps, gen_length, block_length, temperature, remasking, gen):
    """LLaDA ``generate`` (cfg_scale 0) for a batch of identical prompts (B, P): tokens (B, P + gen_length)."""
    mask_id = model.V
    x = torch.full((prompt.shape[0], prompt.shape[1] + gen_length), mask_id, dtype=torch.long)
    x[:, :prompt.shape[1]] = prompt.clone()
    assert gen_length % block_length == 0
    num_blocks = gen_length // block_length
    assert steps % num_blocks == 0
    steps = steps // num_blocks
    for num_block in range(num_blocks):
        lo, hi = prompt.shape[1] + num_block * block_length, prompt.shape[1] + (num_block + 1) * block_length
        block_mask_index = (x[:, lo:hi] == mask_id)
        num_transfer_tokens = get_num_transfer_tokens(block_mask_index, steps)
        for i in range(steps):
            mask_index = (x == mask_id)
            logits = model(x)
            logits_with_noise = add_gumbel_noise(logits, temperature, gen)
            x0 = torch.argmax(logits_with_noise, dim=-1)
            if remasking == "low_confidence":
                p = F.softmax(logits, dim=-1)
                x0_p = torch.squeeze(torch.gather(p, dim=-1, index=torch.unsqueeze(x0, -1)), -1)
            elif remasking == "random":
                x0_p = torch.rand((x0.shape[0], x0.shape[1]), generator=gen)
            else:
                raise NotImplementedError(remasking)
            x0_p[:, hi:] = -np.inf
            x0 = torch.where(mask_index, x0, x)
            confidence = torch.where(mask_index, x0_p, -np.inf)
            k = int(num_transfer_tokens[0, i])  # the same for every row: identical prompts
            assert (num_transfer_tokens[:, i] == k).all()
            _, select_index = torch.topk(confidence, k=k, dim=-1)
            transfer_index = torch.zeros_like(x0, dtype=torch.bool)
            transfer_index.scatter_(1, select_index, True)
            x[transfer_index] = x0[transfer_index]
    return x


# -- Dream ---------------------------------------------------------------------------------------

def top_p_logits(logits, top_p=None):
    sorted_logits, sorted_indices = torch.sort(logits, descending=True)
    cumulative_probs = torch.cumsum(F.softmax(sorted_logits, dim=-1), dim=-1)
    sorted_indices_to_remove = cumulative_probs > top_p
    sorted_indices_to_remove[..., 1:] = sorted_indices_to_remove[..., :-1].clone()
    sorted_indices_to_remove[..., 0] = 0
    mask = torch.zeros_like(logits, dtype=torch.bool)
    mask = mask.scatter_(-1, sorted_indices, sorted_indices_to_remove)
    return logits.masked_fill(mask, torch.finfo(logits.dtype).min)


def top_k_logits(logits, top_k=None):
    top_k = min(top_k, logits.size(-1))
    indices_to_remove = logits < torch.topk(logits, top_k)[0][..., -1, None]
    return logits.masked_fill(indices_to_remove, torch.finfo(logits.dtype).min)


def sample_tokens(logits, gen, temperature=0.0, top_p=None, top_k=None, margin_confidence=False, neg_entropy=False):
    if temperature > 0:
        logits = logits / temperature
    if top_p is not None and top_p < 1:
        logits = top_p_logits(logits, top_p)
    if top_k is not None:
        logits = top_k_logits(logits, top_k)
    probs = torch.softmax(logits, dim=-1)
    if temperature > 0:
        x0 = torch.multinomial(probs, 1, generator=gen)[:, 0]  # dists.Categorical(probs).sample()
        confidence = torch.gather(probs, -1, x0.unsqueeze(-1)).squeeze(-1)
    else:
        confidence, x0 = probs.max(dim=-1)
    if margin_confidence:
        sorted_probs, _ = torch.sort(probs, dim=-1, descending=True)
        confidence = sorted_probs[:, 0] - sorted_probs[:, 1]
    if neg_entropy:
        epsilon = 1e-10
        log_probs = torch.log(probs + epsilon)
        confidence = torch.sum(probs * log_probs, dim=-1)
    return confidence, x0


def dream_sample(model, x, steps, gen, alg="origin", temperature=0.0, top_p=None, top_k=None, alg_temp=None,
                 eps=1e-3):
    """Dream ``_sample`` (no attention mask) from ``x`` (B, L) holding the prompt and mask ids: tokens (B, L)."""
    mask_token_id = model.V
    x = x.clone()
    timesteps = torch.linspace(1, eps, steps + 1)
    for i in range(steps):
        mask_index = (x == mask_token_id)
        logits = model(x)
        logits = torch.cat([logits[:, :1], logits[:, :-1]], dim=1)
        mask_logits = logits[mask_index]
        t = timesteps[i]
        s = timesteps[i + 1]
        if alg == "origin":
            p_transfer = 1 - s / t if i < steps - 1 else 1
            x0 = torch.zeros_like(x[mask_index], dtype=torch.long) + mask_token_id
            transfer_index_t_s = torch.rand(*x0.shape, generator=gen) < p_transfer
            _, x0[transfer_index_t_s] = sample_tokens(mask_logits[transfer_index_t_s], gen, temperature=temperature,
                                                      top_p=top_p, top_k=top_k)
            x[mask_index] = x0.clone()
        else:
            kw = dict(temperature=temperature, top_p=top_p, top_k=top_k)
            if alg == "maskgit_plus":
                confidence, x0 = sample_tokens(mask_logits, gen, **kw)
            elif alg == "topk_margin":
                confidence, x0 = sample_tokens(mask_logits, gen, margin_confidence=True, **kw)
            elif alg == "entropy":
                confidence, x0 = sample_tokens(mask_logits, gen, neg_entropy=True, **kw)
            else:
                raise RuntimeError(f"Unknown alg: {alg}")
            num_mask_token = mask_index.sum() / mask_index.shape[0]
            number_transfer_tokens = int(num_mask_token * (1 - s / t)) if i < steps - 1 else int(num_mask_token)
            full_confidence = torch.full_like(x, -torch.inf, dtype=logits.dtype)
            full_confidence[mask_index] = confidence
            if number_transfer_tokens > 0:
                if alg_temp is None or alg_temp == 0:
                    _, transfer_index = torch.topk(full_confidence, number_transfer_tokens)
                else:
                    full_confidence = full_confidence / alg_temp
                    full_confidence = F.softmax(full_confidence, dim=-1)
                    transfer_index = torch.multinomial(full_confidence, num_samples=number_transfer_tokens,
                                                       generator=gen)
                x_ = torch.zeros_like(x, dtype=torch.long) + mask_token_id
                x_[mask_index] = x0.clone()
                row_indices = torch.arange(x.size(0)).unsqueeze(1).expand_as(transfer_index)
                x[row_indices, transfer_index] = x_[row_indices, transfer_index]
    return x
