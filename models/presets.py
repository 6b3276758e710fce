r"""The samplers people use, by name: keyword arguments of :func:`models.sample` / :func:`models.exact_law`.

Each preset reproduces a public sampling loop driven by a denoiser (tested against a torch
re-implementation of the loop in ``tests/test_presets_peers.py``):

* :func:`mdlm`: MDLM's ``_sample`` with ``_ddpm_update`` / ``_ddpm_caching_update`` (Sahoo et al.
  2024, ``diffusion.py``): on ``linspace(1, eps, N + 1)`` each masked token is revealed with
  probability 1 - s / t (the log-linear noise's move-chance ratio), drawn from the denoiser at
  temperature 1; what is still masked at t = eps is set to its argmax (``noise_removal``). The cache
  calls the model only after a step that changed x.
* :func:`llada`: LLaDA's ``generate`` (Nie et al. 2025, ``generate.py``): steps split evenly over
  blocks, each block's tokens evenly over its steps (``get_num_transfer_tokens``); tokens by
  Gumbel-max at ``temperature`` (0: argmax); ``low_confidence`` reveals the positions whose drawn
  token had the highest *untempered* probability (``"sampled-raw"``), ``random`` a uniform subset.
  Ties: lowest index first (``torch.topk`` on CUDA; the CPU order differs, see the issue).
* :func:`dream`: Dream's ``_sample`` (Ye et al. 2025, ``generation_utils.py``): ``origin`` reveals
  each masked token with probability 1 - s / t on ``linspace(1, eps, N + 1)``; ``maskgit_plus``,
  ``topk_margin`` and ``entropy`` reveal ``int(m (1 - s / t))`` positions by the sampled token's
  probability, the top-1 minus top-2 margin or minus the entropy of the filtered rows, by top-k or,
  with ``alg_temp``, drawn from softmax(score / alg_temp).

>>> models.sample(lang, 64, **presets.llada(16, block_length=16), size=100, rng=0)
"""
from mdmlab.models import schedules as sch

LLADA_REMASKING = {"low_confidence": "sampled-raw", "random": "random"}
DREAM_ALGS = {"origin": "random", "maskgit_plus": "sampled", "topk_margin": "margin", "entropy": "entropy"}


def mdlm(steps, cache=True, eps=1e-5, noise_removal=True):
    r"""MDLM's ancestral sampler: ``ddpm_cache`` (``cache=True``) or ``ddpm``; same law, different calls."""
    return dict(steps=steps, schedule=sch.TimeGrid("linear", eps, reveal_rest=not noise_removal), policy="random",
                final_argmax=bool(noise_removal), calls="changed" if cache else "every")


def llada(steps, block_length=None, remasking="low_confidence", temperature=0.0):
    r"""LLaDA's ``generate`` (``block_length=None``: one block, the whole generated length)."""
    if remasking not in LLADA_REMASKING:
        raise ValueError(f"remasking must be one of {list(LLADA_REMASKING)}, got {remasking!r}")
    return dict(steps=steps, schedule=sch.LLaDACounts(block_length), policy=LLADA_REMASKING[remasking],
                block_length=block_length, tie="lowest-index", temperature=float(temperature), calls="every")


def dream(steps, alg="origin", temperature=0.0, top_p=None, top_k=None, alg_temp=None, eps=1e-3):
    r"""Dream's ``diffusion_generate`` (its defaults: greedy, no filters, ``alg_temp=None``)."""
    if alg not in DREAM_ALGS:
        raise ValueError(f"alg must be one of {list(DREAM_ALGS)}, got {alg!r}")
    schedule = sch.TimeGrid("linear", eps) if alg == "origin" else sch.DreamCounts(eps)
    tau = 0.0 if alg == "origin" or alg_temp is None else float(alg_temp)
    return dict(steps=steps, schedule=schedule, policy=DREAM_ALGS[alg], tie="lowest-index", position_temperature=tau,
                temperature=float(temperature), top_p=top_p, top_k=top_k, calls="every")


PRESETS = {"mdlm": mdlm, "llada": llada, "dream": dream}


def from_spec(spec):
    r"""``"llada:steps=16,block_length=8,remasking=random"`` -> the preset's keyword arguments.

    Values are parsed as int, float, ``true``/``false``/``none`` or kept as strings; unknown keys
    raise ``ValueError`` naming the valid ones.
    """
    import inspect

    name, _, rest = spec.partition(":")
    if name not in PRESETS:
        raise ValueError(f"sampler must be one of {list(PRESETS)} (as name:key=value,...), got {name!r}")
    params = inspect.signature(PRESETS[name]).parameters
    kwargs = {}
    for item in filter(None, rest.split(",")):
        key, eq, value = item.partition("=")
        if not eq or key not in params:
            raise ValueError(f"sampler {name!r}: bad item {item!r}; keys are {list(params)}")
        kwargs[key] = _parse(value)
    if "steps" not in kwargs:
        raise ValueError(f"sampler {name!r} needs steps=N")
    return PRESETS[name](**kwargs)


def _parse(value):
    low = value.lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "none":
        return None
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value
