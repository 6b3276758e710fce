r"""A small bidirectional transformer denoiser for masked diffusion (nanoGPT-shaped).

Input ids are tokens 0..V-1 with V as the mask id (``synth.MASK`` is converted at the boundary);
the output is logits over the V real tokens (never the mask). :meth:`Denoiser.conditionals`
implements the ``synth`` protocol so ``models.sample`` runs the model unchanged.
"""
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
from torch.nn import functional as F


@dataclass
class DenoiserConfig:
    r"""Shape of the model.

    Attributes
    ----------
    vocab_size : int
        V real tokens; id V is the mask.
    length : int
        Largest sequence length L (learned position embeddings).
    n_layer, n_head, n_embd : int
        Transformer depth, heads and width.
    dropout : float
    bias : bool
        Biases in linear layers and layer norms.
    rotary : bool
        Rotary embeddings on queries and keys (besides the learned absolute positions).
    """

    vocab_size: int = 8
    length: int = 64
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = True
    rotary: bool = True

    def __post_init__(self):
        for name in ("vocab_size", "length", "n_layer", "n_head", "n_embd"):
            _check_positive_int(name, getattr(self, name))
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd must be divisible by n_head = {self.n_head}, got n_embd = {self.n_embd}")
        if (self.n_embd // self.n_head) % 2:
            raise ValueError(f"the head size n_embd / n_head must be even for rotary embeddings, got "
                             f"{self.n_embd} / {self.n_head} = {self.n_embd // self.n_head}")
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)) or not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be a number in [0, 1), got {self.dropout!r}")


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")


def rotary(x, base=10000.0):
    r"""Rotary position embedding (Su et al. 2021) of (B, H, L, D): attention scores then depend on
    relative offsets, which a denoiser of local languages needs to find its neighbours quickly."""
    L, D = x.shape[-2], x.shape[-1]
    inv = base ** (-torch.arange(0, D, 2, device=x.device, dtype=torch.float32) / D)  # (D/2,)
    ang = torch.arange(L, device=x.device, dtype=torch.float32)[:, None] * inv[None, :]  # (L, D/2)
    cos, sin = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
    x1, x2 = x[..., 0::2], x[..., 1::2]
    return torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).flatten(-2)


class SelfAttention(nn.Module):
    """Multi-head self-attention over all positions (no causal mask: the denoiser sees both sides)."""

    def __init__(self, cfg):
        super().__init__()
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd, bias=cfg.bias)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd, bias=cfg.bias)
        self.n_head, self.dropout, self.rotary = cfg.n_head, cfg.dropout, cfg.rotary
        self.resid_drop = nn.Dropout(cfg.dropout)

    def forward(self, x):
        B, L, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (t.view(B, L, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))  # (B, H, L, C/H)
        if self.rotary:
            q, k = rotary(q), rotary(k)
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0, is_causal=False)
        y = y.transpose(1, 2).contiguous().view(B, L, C)
        return self.resid_drop(self.proj(y))


class MLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.fc = nn.Linear(cfg.n_embd, 4 * cfg.n_embd, bias=cfg.bias)
        self.proj = nn.Linear(4 * cfg.n_embd, cfg.n_embd, bias=cfg.bias)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x):
        return self.drop(self.proj(F.gelu(self.fc(x))))


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.attn = SelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.mlp = MLP(cfg)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class Denoiser(nn.Module):
    r"""p_theta(x_i = v | x_unmasked) for every position, from ids with V as the mask."""

    def __init__(self, cfg, *, generator=None):
        super().__init__()
        self.cfg = cfg
        self.tok = nn.Embedding(cfg.vocab_size + 1, cfg.n_embd)  # + the mask id
        self.pos = nn.Embedding(cfg.length, cfg.n_embd)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layer)])
        self.ln_f = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        for name, p in self.named_parameters():  # GPT-2 init; residual projections scaled by depth
            if name.endswith("bias"):
                nn.init.zeros_(p)
            elif p.dim() > 1:
                std = 0.02 / math.sqrt(2 * cfg.n_layer) if name.endswith("proj.weight") else 0.02
                nn.init.normal_(p, mean=0.0, std=std, generator=generator)

    def forward(self, x, targets=None, weights=None):
        r"""Logits (B, L, V); with ``targets`` (B, L, -1 = ignore) also the weighted mean cross-entropy.

        ``weights`` (B,) scale each sequence's loss (the ELBO weight 1/t of its mask ratio).
        """
        B, L = x.shape
        if L > self.cfg.length:
            raise ValueError(f"x has length {L}, more than the model's length {self.cfg.length}")
        h = self.drop(self.tok(x) + self.pos(torch.arange(L, device=x.device)))
        for block in self.blocks:
            h = block(h)
        logits = self.head(self.ln_f(h))  # (B, L, V)
        if targets is None:
            return logits, None
        ce = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-1,
                             reduction="none").view(B, L)
        w = torch.ones(B, device=x.device) if weights is None else weights
        return logits, (ce.sum(dim=1) * w).sum() / (B * L)

    @torch.no_grad()
    def conditionals(self, x):
        r"""The ``synth`` protocol: (B, L) int tokens with ``synth.MASK`` -> (B, L, V) float64 rows.

        Masked rows are softmax(logits) in float64; observed rows are the one-hot of their token.
        """
        arr = np.asarray(x)
        x2 = arr.reshape(-1, arr.shape[-1])
        V = self.cfg.vocab_size
        device = next(self.parameters()).device
        ids = torch.as_tensor(np.where(x2 < 0, V, x2), dtype=torch.long, device=device)
        was_training = self.training
        self.eval()
        logits, _ = self(ids)
        self.train(was_training)
        rows = torch.softmax(logits.double(), dim=-1).cpu().numpy()
        observed = x2 >= 0
        rows[observed] = np.eye(V)[x2[observed]]
        return rows.reshape(arr.shape + (V,))


def default_device():
    """CUDA when available, else CPU: chosen once, at the edge."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
