r"""Language specs: ``kind:key=value,...`` strings (or a saved language file) -> a synth language.

Examples: ``ngram:order=3,vocab=8,sparsity=0.5,seed=1``, ``hmm:states=16,vocab=8,concentration=0.5``,
``pair-copy:symbols=4``, ``block-copy:symbols=2,block=3``, ``all-equal:symbols=3``, ``lang.npz``.
"""
import os

from mdmlab import synth
from mdmlab import theory

_RANDOM = {
    "ngram": (synth.NGramLanguage.random, ("order", "vocab"), {"vocab": "vocab_size"}),
    "hmm": (synth.HMMLanguage.random, ("states", "vocab"), {"states": "num_states", "vocab": "vocab_size"}),
}
_FLOATS = {"concentration", "sparsity"}
KINDS = sorted(_RANDOM) + sorted(theory.LANGUAGES)


def parse_spec(spec):
    """Split ``kind:k=v,...`` into (kind, {key: int or float})."""
    kind, _, rest = spec.partition(":")
    params = {}
    for item in filter(None, rest.split(",")):
        key, eq, value = item.partition("=")
        if not eq:
            raise ValueError(f"language spec {spec!r}: expected key=value, got {item!r}")
        try:
            params[key.strip()] = float(value) if key.strip() in _FLOATS else int(value)
        except ValueError:
            raise ValueError(f"language spec {spec!r}: {key} must be a number, got {value!r}") from None
    return kind.strip(), params


def build_language(spec):
    r"""The language a spec names; a path to an existing file is loaded with ``synth.load``."""
    if os.path.exists(spec):
        return synth.load(spec)
    kind, params = parse_spec(spec)
    if kind in _RANDOM:
        factory, required, rename = _RANDOM[kind]
        missing = [r for r in required if r not in params]
        if missing:
            raise ValueError(f"language spec {spec!r} needs {missing} (e.g. {kind}:{','.join(r + '=4' for r in required)})")
        seed = params.pop("seed", 0)
        kwargs = {rename.get(k, k): v for k, v in params.items()}
        positional = [kwargs.pop(rename.get(r, r)) for r in required]
        return factory(*positional, rng=seed, **kwargs)
    if kind in theory.LANGUAGES:
        return theory.LANGUAGES[kind](**params)
    raise ValueError(f"unknown language kind {kind!r} in spec {spec!r}; valid kinds: {KINDS} or a saved file path")
