r"""The value a language is built from: ``LanguageSpec(kind, params)``, written ``kind:key=value,...``.

This module imports nothing from the language classes, so every layer of ``synth`` may use it:
the constructors stamp their spec on what they build, ``io`` stores it, ``registry`` parses it.
"""
import dataclasses
import json
import numbers
import types


@dataclasses.dataclass(frozen=True, eq=True)
class LanguageSpec:
    r"""What a language was built from: a registered kind and its keyword parameters.

    ``str(spec)`` is the canonical spec string ``kind:key=value,...`` (keys in the order of the
    factory's signature when the registry made it), and ``synth.from_spec(str(spec))`` rebuilds the
    same language.

    Attributes
    ----------
    kind : str
        A key of ``synth.LANGUAGE_KINDS``, e.g. ``"pair-copy"``.
    params : Mapping[str, int or float]
        Read-only keyword arguments of the kind's factory, e.g. ``{"symbols": 4}``.
    """

    kind: str
    params: types.MappingProxyType

    def __post_init__(self):
        _check_kind(self.kind)
        object.__setattr__(self, "params", types.MappingProxyType(_check_params(self.kind, self.params)))

    def __hash__(self):
        return hash((self.kind, tuple(self.params.items())))

    def __reduce__(self):  # a mappingproxy does not pickle: rebuild from a plain dict
        return type(self), (self.kind, dict(self.params))

    def __str__(self):
        return self.kind + (":" if self.params else "") + ",".join(f"{k}={v!r}" for k, v in self.params.items())

    def __repr__(self):
        return f"LanguageSpec(kind={self.kind!r}, params={dict(self.params)!r})"

    def to_json(self):
        """``{"kind": ..., "params": {...}}`` as a JSON string (how ``Language.save`` stores it)."""
        return json.dumps({"kind": self.kind, "params": dict(self.params)})

    @classmethod
    def from_json(cls, text):
        """Inverse of :meth:`to_json`; raises ``ValueError`` for text that is not such an object."""
        try:
            obj = json.loads(text)
            return cls(obj["kind"], obj["params"])
        except (ValueError, TypeError, KeyError) as err:
            raise ValueError(f"stored language spec must be JSON {{'kind': str, 'params': {{...}}}}, got "
                             f"{text!r} ({err})") from None


def seeded_spec(kind, seed, **params):
    r"""The spec of a random language drawn with ``rng=seed``, or None when ``seed`` is not an int.

    A Generator, a SeedSequence or None does not name the draw, so no spec can rebuild it.
    """
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        return None
    return LanguageSpec(kind, {**params, "seed": int(seed)})


def _check_kind(kind):
    if not isinstance(kind, str) or not kind or any(c in kind for c in ":,= "):
        raise ValueError(f"language kind must be a non-empty str without ':', ',', '=' or spaces, got {kind!r}")


def _check_params(kind, params):
    """A plain dict of str -> int or float (bools and other values refused), in the given order."""
    if not hasattr(params, "items"):
        raise TypeError(f"params of a {kind!r} spec must be a mapping of str -> number, got {type(params).__name__}")
    out = {}
    for key, value in params.items():
        if not isinstance(key, str) or not key.isidentifier():
            raise ValueError(f"params of a {kind!r} spec: keys must be identifiers, got {key!r}")
        if isinstance(value, bool) or not isinstance(value, (numbers.Integral, numbers.Real)):
            raise TypeError(f"params of a {kind!r} spec: {key} must be an int or a float, got "
                            f"{type(value).__name__} {value!r}")
        out[key] = int(value) if isinstance(value, numbers.Integral) else float(value)
    return out
