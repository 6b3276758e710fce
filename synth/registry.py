r"""One place for languages: a registry kind -> factory, and the spec strings that name its entries.

A spec is ``kind:key=value,...`` or the path of a file written by ``Language.save``:

* ``ngram:order=3,vocab=8,sparsity=0.5,seed=1`` — :meth:`NGramLanguage.random` (keys ``order``,
  ``vocab``, ``concentration`` = 1.0, ``sparsity`` = 0.0, ``seed`` = 0);
* ``hmm:states=16,vocab=8,concentration=0.5`` — :meth:`HMMLanguage.random` (``states``, ``vocab``,
  ``concentration``, ``sparsity``, ``seed``);
* ``pair-copy:symbols=4``, ``block-copy:symbols=2,block=3``, ``all-equal:symbols=3`` — ``synth.hard``;
* ``runs/lang.npz`` — an existing file is always read as a saved language, whatever its name holds.

The keys of a kind are the parameters of its factory (``inspect.signature``): a parameter annotated
``int`` (or with an int default) takes integers only (``order=2.5`` is an error), ``float`` any number,
an unannotated one without default an int if the text is one, else a float. Every bad spec is one
``ValueError`` line naming the spec, the key and the valid keys. :func:`register_language` adds a kind.
"""
import inspect
import numbers
import os
import types

from mdmlab.synth import _validation as val
from mdmlab.synth._language import Language
from mdmlab.synth._spec import LanguageSpec, _check_kind
from mdmlab.synth.hard import all_equal, block_copy, pair_copy
from mdmlab.synth.hmm import HMMLanguage
from mdmlab.synth.io import load
from mdmlab.synth.ngram import NGramLanguage

_FACTORIES = {}
#: Read-only live view kind -> factory of every registered language kind (``register_language`` adds).
LANGUAGE_KINDS = types.MappingProxyType(_FACTORIES)
_TYPES = {int: int, "int": int, float: float, "float": float}
_REQUIRED = inspect.Parameter.empty


def register_language(kind, factory, *, replace=False):
    r"""Make the spec ``kind:key=value,...`` build ``factory(key=value, ...)``.

    Parameters
    ----------
    kind : str
        Non-empty, without ``:``, ``,``, ``=`` or spaces.
    factory : callable
        Returns a synth :class:`Language`. Its parameters are the spec's keys: each must be
        passable by keyword (no ``*args``/``**kwargs``), and a default, if any, a number.
    replace : bool
        Allow replacing an already registered kind.

    Returns
    -------
    factory, unchanged (so this also works as ``register_language("x", f)`` in a module body).

    Raises
    ------
    ValueError
        For a bad ``kind``, a factory whose signature cannot define keys, or an existing kind
        without ``replace=True``.
    """
    _check_kind(kind)
    _keys(kind, factory)  # validates the signature once, now rather than at the first spec
    if kind in _FACTORIES and not replace:
        raise ValueError(f"language kind {kind!r} is already registered (to {_FACTORIES[kind].__qualname__}); "
                         f"pass replace=True to replace it")
    _FACTORIES[kind] = factory
    return factory


def parse_spec(spec):
    r"""Parse and check ``kind:key=value,...`` against the kind's factory; no language is built.

    Returns
    -------
    LanguageSpec
        Canonical: every key of the factory in signature order, defaults filled in, values int or
        float as the factory's parameters want them.

    Raises
    ------
    ValueError
        One line naming ``spec`` for: an unknown kind (valid kinds listed), an item that is not
        ``key=value``, a repeated, unknown or missing required key, or a value of the wrong type
        (valid keys listed with their types).
    TypeError
        If ``spec`` is not a str.
    """
    if not isinstance(spec, str):
        raise TypeError(f"language spec must be a str 'kind:key=value,...', got {type(spec).__name__} {spec!r}")
    kind, _, rest = spec.partition(":")
    kind = kind.strip()
    factory = _factory(kind, spec)
    keys = _keys(kind, factory)
    given = _items(spec, rest, keys)
    unknown = [k for k in given if k not in keys]
    if unknown:
        raise ValueError(f"language spec {spec!r}: unknown key {unknown[0]!r} for {kind}; valid keys: "
                         f"{_describe(keys)}")
    missing = [k for k, (_, default) in keys.items() if default is _REQUIRED and k not in given]
    if missing:
        raise ValueError(f"language spec {spec!r}: missing required key {missing[0]!r} for {kind}; valid keys: "
                         f"{_describe(keys)}")
    params = {k: _value(spec, k, given[k], typ, keys) if k in given else default
              for k, (typ, default) in keys.items()}
    return LanguageSpec(kind, params)


def from_spec(spec):
    r"""The language a spec names, carrying its :class:`LanguageSpec` as ``language.spec``.

    Parameters
    ----------
    spec : str, os.PathLike or LanguageSpec
        ``kind:key=value,...``; or the path of a saved language (an existing file is read first,
        even if its name holds ``:``); or a :class:`LanguageSpec`.

    Returns
    -------
    Language

    Raises
    ------
    ValueError
        One line for a bad spec (see :func:`parse_spec`), a missing or unreadable file, or values
        the factory refuses (its message, prefixed with the spec).
    """
    if isinstance(spec, LanguageSpec):
        return _build(parse_spec(str(spec)), str(spec))
    if isinstance(spec, os.PathLike) or (isinstance(spec, str) and os.path.isfile(spec)):
        return _load(spec)
    return _build(parse_spec(spec), spec)


def _build(parsed, text):
    try:
        lang = _FACTORIES[parsed.kind](**parsed.params)
    except (ValueError, TypeError) as err:
        raise ValueError(f"language spec {text!r}: {err}") from None
    if not isinstance(lang, Language):
        raise TypeError(f"the factory of language kind {parsed.kind!r} must return a synth Language, got "
                        f"{type(lang).__name__}")
    lang._spec = parsed
    return lang


def _load(path):
    try:
        return load(path)
    except OSError as err:
        raise ValueError(f"language file {os.fspath(path)!r}: {err.strerror or err}") from None


def _factory(kind, spec):
    if kind in _FACTORIES:
        return _FACTORIES[kind]
    if spec.endswith((".npz", ".json")) or "/" in spec or os.sep in spec:
        raise ValueError(f"language spec {spec!r}: no such file (nor kind:key=value,... with a kind in "
                         f"{', '.join(_FACTORIES)})")
    raise ValueError(f"language spec {spec!r}: unknown kind {kind!r}; valid kinds: {', '.join(_FACTORIES)}, "
                     f"or the path of a saved language file")


def _keys(kind, factory):
    r"""{key: (int, float or None for 'any number', default or _REQUIRED)} from ``factory``'s signature."""
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError) as err:
        raise ValueError(f"the factory of language kind {kind!r} has no inspectable signature: {err}") from None
    keys = {}
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY):
            raise ValueError(f"the factory of language kind {kind!r} must take its keys by keyword; parameter "
                             f"{p.name!r} is {p.kind.description}")
        default = p.default
        if default is not _REQUIRED and (isinstance(default, bool) or not isinstance(default, numbers.Real)):
            raise ValueError(f"the factory of language kind {kind!r}: default of {p.name!r} must be a number, got "
                             f"{default!r}")
        typ = _TYPES.get(p.annotation)
        if typ is None and default is not _REQUIRED:
            typ = int if isinstance(default, numbers.Integral) else float
        keys[p.name] = (typ, default)
    return keys


def _items(spec, rest, keys):
    """{key: raw text} of ``k=v,...``; one line for an item without '=' or a repeated key."""
    given = {}
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or not key:
            raise ValueError(f"language spec {spec!r}: expected key=value, got {item!r}; valid keys: "
                             f"{_describe(keys)}")
        if key in given:
            raise ValueError(f"language spec {spec!r}: key {key!r} is given twice")
        given[key] = value.strip()
    return given


def _value(spec, key, text, typ, keys):
    r"""``text`` as the key's type: int keys take integers only (``2.5`` and ``2.0`` are refused)."""
    try:
        return int(text) if typ is int else float(text) if typ is float else _number(text)
    except ValueError:
        want = {int: "an integer", float: "a number"}.get(typ, "a number")
        raise ValueError(f"language spec {spec!r}: {key} must be {want}, got {text!r}; valid keys: "
                         f"{_describe(keys)}") from None


def _number(text):
    try:
        return int(text)
    except ValueError:
        return float(text)


def describe_kinds():
    r"""{kind: its keys with types and defaults}, e.g. ``{"pair-copy": "symbols (int, default 2)", ...}``,
    for every registered kind (the text a bad spec's error lists; ``mdmlab ... --help`` prints it)."""
    return {kind: _describe(_keys(kind, factory)) for kind, factory in _FACTORIES.items()}


def _describe(keys):
    """``order (int), ..., seed (int, default 0)``: the valid keys with their types and defaults."""
    parts = []
    for k, (typ, default) in keys.items():
        what = {int: "int", float: "float"}.get(typ, "number")
        parts.append(f"{k} ({what})" if default is _REQUIRED else f"{k} ({what}, default {default!r})")
    return ", ".join(parts)


# ---- the built-in kinds ----------------------------------------------------------------------

def _ngram(order: int, vocab: int, concentration: float = 1.0, sparsity: float = 0.0, seed: int = 0):
    r"""``NGramLanguage.random(order, vocab, concentration=, sparsity=, rng=seed)``."""
    val.check_int("order", order, low=1)
    val.check_int("vocab", vocab, low=1)
    return NGramLanguage.random(order, vocab, concentration=concentration, sparsity=sparsity, rng=seed)


def _hmm(states: int, vocab: int, concentration: float = 1.0, sparsity: float = 0.0, seed: int = 0):
    r"""``HMMLanguage.random(states, vocab, concentration=, sparsity=, rng=seed)``."""
    val.check_int("states", states, low=1)
    val.check_int("vocab", vocab, low=1)
    return HMMLanguage.random(states, vocab, concentration=concentration, sparsity=sparsity, rng=seed)


for _kind, _make in {"ngram": _ngram, "hmm": _hmm, "pair-copy": pair_copy, "block-copy": block_copy,
                     "all-equal": all_equal}.items():
    register_language(_kind, _make)
del _kind, _make
