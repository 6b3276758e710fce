r"""Training the torch denoiser on a synthetic language, with its exact learning error.

Objective: draw x ~ q, a mask ratio t ~ U(t_min, 1) per sequence, mask each position with
probability t, and score the cross-entropy -log p_theta(x_i | x_unmasked) on masked positions.

* ``objective="elbo"`` (MDLM, Sahoo et al. 2024, eq. 10, linear schedule alpha_t = 1 - t): weight
  each sequence by 1/t and divide by B L, the negative ELBO; t_min = 1e-3 keeps it finite.
* ``objective="masked-mean"`` (default): the plain mean over all masked tokens of the batch (the same
  minimiser, the exact conditionals, without the 1/t weight). Chosen because at the small CPU batch
  sizes used here the 1/t weight lets one lightly masked sequence dominate a batch's gradient:
  measured on ngram:order=3,vocab=8,sparsity=0.5, L = 64, 2 x 64 model, batch 32, 40 s of training:
  eps_learning 0.160 (masked-mean) against 0.236 (elbo); ``python -m benchmarks denoiser``.

Exact learning error (eps_learning): on a fixed held-out set of samples with random masks at several
mask ratios, the mean over masked positions of KL(q(x_i | unmasked) || p_theta(x_i | unmasked)) in
nats, with the language's exact conditionals as q (and its maximum).
"""
import dataclasses
import hashlib
import json
import numbers
import os
import pickle
import signal
import threading
import time
import zipfile

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from mdmlab.models.denoiser import Denoiser, DenoiserConfig, default_device
from mdmlab.synth import MASK, from_spec


@dataclasses.dataclass
class TrainConfig:
    r"""Training run settings (all stored in the checkpoint).

    ``max_minutes`` stops on wall-clock time (the stopping step then depends on the machine);
    ``max_steps`` alone gives a run that resumes bit for bit.
    """

    language: str
    length: int = 64
    model: DenoiserConfig = None
    batch_size: int = 32
    max_steps: int = 2000
    max_minutes: float = None
    lr: float = 3e-3
    min_lr: float = 1e-4
    warmup_steps: int = 100
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    min_mask_ratio: float = 1e-3
    objective: str = "masked-mean"
    eval_every: int = 100
    eval_samples: int = 128
    eval_ratios: tuple = (0.1, 0.3, 0.5, 0.7, 0.9)
    checkpoint_minutes: float = 2.0
    seed: int = 0


@dataclasses.dataclass
class TrainResult:
    r"""``model``; ``history`` (one row per evaluation: step, seconds, loss, lr, eps_learning,
    eps_learning_max); ``eps_learning`` the last measured mean KL (nats per masked token)."""

    model: Denoiser
    history: pd.DataFrame
    eps_learning: float


class HeldOut:
    r"""Fixed evaluation set: masked inputs (S R, L) and the exact conditionals at masked positions."""

    def __init__(self, language, length, samples, ratios, rng):
        x = language.sample(length, samples * len(ratios), rng=rng)
        t = np.repeat(np.asarray(ratios, dtype=float), samples)[:, None]
        mask = rng.random(x.shape) < t
        self.inputs = np.where(mask, MASK, x)
        self.mask = mask
        self.exact = language.conditionals(self.inputs)[mask]  # (M, V) q(x_i | unmasked)

    def kl(self, model):
        """(mean, max) of KL(q || p_theta) over the masked positions, nats."""
        p = model.conditionals(self.inputs)[self.mask]
        q = self.exact
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(q > 0, q * (np.log(q) - np.log(p)), 0.0).sum(axis=1)
        return float(terms.mean()), float(terms.max())


def _lr(cfg, step):
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    frac = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.max_steps - cfg.warmup_steps))
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + np.cos(np.pi * frac))


OBJECTIVES = ("masked-mean", "elbo")


def _batch(language, cfg, rng, device):
    x = language.sample(cfg.length, cfg.batch_size, rng=rng)
    t = rng.uniform(cfg.min_mask_ratio, 1.0, size=(cfg.batch_size, 1))
    mask = rng.random(x.shape) < t
    V = language.vocab_size
    ids = torch.as_tensor(np.where(mask, V, x), device=device)
    targets = torch.as_tensor(np.where(mask, x, -1), device=device)
    if cfg.objective == "elbo":
        weights = 1.0 / t[:, 0]
    else:  # forward() divides by B L: B L / (masked count) turns the sum into the masked-token mean
        weights = np.full(cfg.batch_size, x.size / max(int(mask.sum()), 1))
    return ids, targets, torch.as_tensor(weights, dtype=torch.float32, device=device)


#: TrainConfig fields that may differ on resume: they bound wall-clock time, not what is computed.
RESUMABLE_CHANGES = ("max_minutes", "checkpoint_minutes")


def _check_config(cfg):
    r"""Refuse settings that cannot train (``ValueError``/``TypeError`` naming the field and value)."""
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"cfg must be a TrainConfig, got {type(cfg).__name__}")
    if cfg.objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {list(OBJECTIVES)}, got {cfg.objective!r}")
    for name, low in (("length", 1), ("batch_size", 1), ("max_steps", 1), ("eval_every", 1), ("eval_samples", 1),
                      ("warmup_steps", 0), ("seed", 0)):
        value = getattr(cfg, name)
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"TrainConfig.{name} must be an integer, got {type(value).__name__} {value!r}")
        if value < low:
            raise ValueError(f"TrainConfig.{name} must be >= {low}, got {value}")
    for name, low, high in (("lr", 0, 1), ("min_lr", 0, 1), ("grad_clip", 0, None), ("min_mask_ratio", 0, 1),
                            ("checkpoint_minutes", 0, None), ("max_minutes", 0, None), ("weight_decay", -1, None)):
        value = getattr(cfg, name)
        if value is None and name == "max_minutes":
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) \
                or value <= low or (high is not None and value > high):
            raise ValueError(f"TrainConfig.{name} must be a finite number in ({low}, {high if high else 'inf'}"
                             f"{']' if high else ')'}, got {value!r}")
    if cfg.model is not None and cfg.model.length < cfg.length:
        raise ValueError(f"TrainConfig.length = {cfg.length} exceeds the model's length {cfg.model.length}")


def train(cfg, *, language=None, out_dir=None, resume=False, progress=True, device=None, stop_at=None):
    r"""Train a :class:`Denoiser` on ``cfg.language`` (or the given language object).

    Checkpoints (model, optimiser, rng state, step, history) go to ``out_dir/checkpoint.pt`` every
    ``checkpoint_minutes`` and at the end; ``resume=True`` continues from it exactly. ``stop_at``
    ends this call after that step (checkpointed) while the schedule still runs to ``cfg.max_steps``:
    training in slices, or an interruption on purpose.

    A non-finite loss stops training with ``FloatingPointError`` naming the step (the last checkpoint
    is from before it). Ctrl-C (SIGINT in the main thread) ends the step in progress, writes a
    checkpoint and raises ``KeyboardInterrupt``; ``resume=True`` then continues exactly.

    Returns
    -------
    TrainResult

    Raises
    ------
    ValueError
        Bad settings; on resume, a checkpoint whose stored digest does not match its bytes, or that was
        made with another configuration or another language (the differences are named).
    """
    _check_config(cfg)
    language = language or from_spec(cfg.language)
    device = torch.device(device) if device is not None else default_device()
    mcfg = cfg.model or DenoiserConfig(vocab_size=language.vocab_size, length=cfg.length, n_layer=2, n_embd=64)
    seeds = np.random.SeedSequence(cfg.seed).spawn(2)
    rng, eval_rng = np.random.default_rng(seeds[0]), np.random.default_rng(seeds[1])
    model = Denoiser(mcfg, generator=torch.Generator().manual_seed(cfg.seed)).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.99))
    held = HeldOut(language, cfg.length, cfg.eval_samples, cfg.eval_ratios, eval_rng)
    step, history, elapsed = 0, [], 0.0
    path = os.path.join(out_dir, "checkpoint.pt") if out_dir else None
    if resume:
        step, history, elapsed = _load(path, model, opt, rng, cfg)
    t0, last_ckpt, loss = time.perf_counter() - elapsed, time.perf_counter(), float("nan")
    bar = tqdm(total=cfg.max_steps, initial=step, desc="train", unit="step", disable=not progress)
    last = cfg.max_steps if stop_at is None else min(stop_at, cfg.max_steps)
    stop = _SigintFlag()
    with bar, stop:
        while step < last:
            if stop.raised:
                if path:
                    _save(path, cfg, model, opt, rng, step, history, time.perf_counter() - t0)
                raise KeyboardInterrupt(f"training interrupted at step {step}")
            if step % cfg.eval_every == 0 and (not history or history[-1]["step"] != step):
                history.append(_evaluate(held, model, step, time.perf_counter() - t0, loss, _lr(cfg, step)))
                bar.set_postfix(loss=f"{loss:.3f}", eps=f"{history[-1]['eps_learning']:.4f}")
            for group in opt.param_groups:
                group["lr"] = _lr(cfg, step)
            ids, targets, w = _batch(language, cfg, rng, device)
            _, loss_t = model(ids, targets, w)
            if not torch.isfinite(loss_t):
                raise FloatingPointError(
                    f"training loss is {loss_t.item()} at step {step} (lr {_lr(cfg, step):.3g}): lower the learning "
                    f"rate; {'the last checkpoint ' + repr(path) + ' is from before it' if path else 'nothing was saved'}")
            opt.zero_grad(set_to_none=True)
            loss_t.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            loss, step = loss_t.detach().item(), step + 1
            bar.update()
            if path and time.perf_counter() - last_ckpt > 60 * cfg.checkpoint_minutes:
                _save(path, cfg, model, opt, rng, step, history, time.perf_counter() - t0)
                last_ckpt = time.perf_counter()
            if cfg.max_minutes is not None and time.perf_counter() - t0 > 60 * cfg.max_minutes:
                break
    history.append(_evaluate(held, model, step, time.perf_counter() - t0, loss, _lr(cfg, max(step - 1, 0))))
    if path:
        _save(path, cfg, model, opt, rng, step, history, time.perf_counter() - t0)
    return TrainResult(model, pd.DataFrame(history), history[-1]["eps_learning"])


def _evaluate(held, model, step, seconds, loss, lr):
    mean, worst = held.kl(model)
    return {"step": step, "seconds": seconds, "loss": loss, "lr": lr, "eps_learning": mean, "eps_learning_max": worst}


def _save(path, cfg, model, opt, rng, step, history, seconds):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    state = {"config": dataclasses.asdict(cfg), "model_config": dataclasses.asdict(model.cfg),
             "language_digest": _language_digest(cfg.language),
             "model": model.state_dict(), "optimizer": opt.state_dict(), "rng": rng.bit_generator.state,
             "step": step, "history": history, "seconds": seconds,
             "eps_learning": history[-1]["eps_learning"] if history else None}
    tmp = path + ".tmp"
    torch.save(state, tmp)
    digest = _sha256(tmp)
    # the digest file is replaced first and lists the previous digest too, so a crash between the two
    # replaces leaves a checkpoint whose digest is listed
    previous = _recorded_digests(path)[:1]
    _write_text(_digest_path(path), json.dumps({"sha256": [digest] + previous}))
    os.replace(tmp, path)  # a crash mid-save never leaves a truncated checkpoint


def _digest_path(path):
    return os.fspath(path) + ".sha256"


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write_text(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def _recorded_digests(path):
    """The sha256 digests the digest file next to ``path`` accepts ([] when it has none)."""
    try:
        with open(_digest_path(path)) as fh:
            found = json.load(fh).get("sha256", [])
    except (OSError, ValueError, AttributeError):
        return []
    return [d for d in found if isinstance(d, str)] if isinstance(found, list) else []


def _language_digest(spec):
    """The sha256 of a language file's bytes, or the spec text: what the checkpoint was trained on."""
    if isinstance(spec, str) and os.path.isfile(spec):
        return "sha256:" + _sha256(spec)
    return f"spec:{spec}"


def read_checkpoint(path, device=None):
    r"""The state dict of a checkpoint written by :func:`train`, its bytes checked first.

    Raises
    ------
    ValueError
        One line if ``path`` is missing, is not a checkpoint (truncated, corrupt) or its bytes do not
        match the sha256 recorded next to it when it was saved (``checkpoint.pt.sha256``; a copy
        without that file is read unchecked).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"checkpoint {path!r} does not exist (or is not a file)")
    recorded = _recorded_digests(path)
    if recorded and _sha256(path) not in recorded:
        raise ValueError(f"checkpoint {path!r} is corrupt: its sha256 differs from the one recorded in "
                         f"{_digest_path(path)!r} when it was saved")
    try:
        state = torch.load(path, map_location=device or "cpu", weights_only=False)
    except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError, zipfile.BadZipFile,
            AttributeError, ImportError, KeyError, IndexError, UnicodeDecodeError) as err:
        msg = " ".join(str(err).split())[:200]
        raise ValueError(f"checkpoint {path!r} is not a readable mdmlab checkpoint ({type(err).__name__}: {msg})") \
            from None
    missing = [k for k in ("model", "model_config") if not isinstance(state, dict) or k not in state]
    if missing:
        raise ValueError(f"checkpoint {path!r} is not an mdmlab checkpoint: no {', '.join(missing)} entry")
    return state


def _config_differences(stored, cfg):
    """'field: checkpoint X, now Y' for every field that changes what training computes."""
    now = dataclasses.asdict(cfg)
    out = []
    for name in sorted(set(now) | set(stored)):
        if name in RESUMABLE_CHANGES:
            continue
        a, b = stored.get(name), now.get(name)
        if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
            a, b = list(a), list(b)
        if a != b:
            out.append(f"{name}: checkpoint {a!r}, now {b!r}")
    return out


def _load(path, model, opt, rng, cfg):
    if not path or not os.path.exists(path):
        raise ValueError(f"resume=True needs a checkpoint at {path!r}, found none")
    state = read_checkpoint(path, device=next(model.parameters()).device)
    diffs = _config_differences(state.get("config", {}), cfg)
    stored_lang, lang = state.get("language_digest"), _language_digest(cfg.language)
    if stored_lang is not None and stored_lang != lang and state.get("config", {}).get("language") == cfg.language:
        diffs.append(f"the bytes of language file {cfg.language!r}: checkpoint {stored_lang[:19]}..., "
                     f"now {lang[:19]}...")
    if diffs:
        raise ValueError(f"cannot resume from {path!r}: it was made with other settings ({'; '.join(diffs)}); "
                         f"use the same settings, or a new --out")
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    rng.bit_generator.state = state["rng"]
    return state["step"], state["history"], state["seconds"]


class _SigintFlag:
    """While active (main thread only), Ctrl-C sets ``raised`` instead of interrupting mid-step."""

    def __init__(self):
        self.raised, self._old = False, None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.raised:  # a second Ctrl-C: stop at once
            raise KeyboardInterrupt
        self.raised = True

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
        return False


def load_denoiser(path, device=None):
    """The trained :class:`Denoiser` stored in a checkpoint."""
    state = read_checkpoint(path, device=device)
    try:
        model = Denoiser(DenoiserConfig(**state["model_config"]))
    except TypeError as err:
        raise ValueError(f"checkpoint {os.fspath(path)!r} has a bad model_config ({err})") from None
    model.load_state_dict(state["model"])
    return model.to(device or "cpu").eval()
