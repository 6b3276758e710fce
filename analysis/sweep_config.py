r"""Sweep configurations from files: ``mdmlab sweep --config sweep.toml`` and ``--from manifest.json``.

A config file is TOML whose keys are the sweep's command-line options (dashes or underscores)::

    language = ["pair-copy:symbols=4", "bigram.json"]   # a list, or one value for a one-item list
    length = [16, 64, 256]
    steps_per_length = [0.125, 0.5, 1]
    schedule = "balanced"
    replicates = 2
    samples = 512
    kl = true
    out = "runs/pair"

Precedence: an option given on the command line beats the file, the file beats the defaults. A
file's values pass the same checks as the command line's (``length = 0`` is refused naming
``length``), an unknown key is refused naming the valid ones, and a relative language path is read
relative to the file's folder when it is not a file relative to the current one. ``--from`` replays
the ``config`` that a sweep's ``manifest.json`` records (the whole :class:`~analysis.sweep.SweepConfig`),
into the manifest's own folder unless ``--out`` says otherwise, and warns when a language file's bytes
differ from those the manifest recorded.
"""
import argparse
import dataclasses
import json
import os
import sys
import tomllib

#: option (config-file key, parser dest) -> SweepConfig field
FIELDS = {"language": "languages", "length": "lengths", "steps": "steps", "steps_per_length": "steps_per_length",
          "schedule": "schedules", "policy": "policies", "replicates": "seeds", "samples": "samples",
          "target_ci": "target_ci", "max_samples": "max_samples", "kl": "kl", "base_seed": "base_seed"}
#: options a config file may also hold that say where and how to run, not what
RUN_OPTIONS = ("out", "workers", "scheduler")
#: every valid config-file key
KEYS = (*FIELDS, *RUN_OPTIONS)
#: the default of each option: SweepConfig's (tested equal; written out so --help imports no pandas)
DEFAULTS = {"steps": (), "steps_per_length": (), "schedule": ("linear",), "policy": ("random",), "replicates": 1,
            "samples": 256, "target_ci": None, "max_samples": 16384, "kl": False, "base_seed": 0, "out": None,
            "workers": None, "scheduler": None}


def read_toml(path, parser):
    r"""The options of the TOML config file ``path``, checked by ``parser``'s own argument types.

    Raises
    ------
    ValueError
        Unreadable TOML, an unknown key (the valid keys are listed) or a bad value (named by its key).
    """
    try:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError:
        raise ValueError(f"--config must be a readable TOML file, got {path!r} (missing)") from None
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"--config {path!r} is not valid TOML: {err}") from None
    values = {}
    for key, value in raw.items():
        name = key.replace("-", "_")
        if name not in KEYS:
            raise ValueError(f"--config {path!r}: unknown key {key!r}; valid keys: {', '.join(KEYS)}")
        values[name] = _convert(parser, name, value, f"--config {path!r}")
    if "language" in values:
        values["language"] = [_beside(spec, path) for spec in values["language"]]
    return values


def read_manifest(path, parser):
    r"""The options that replay the sweep whose ``manifest.json`` is ``path`` (``out``: its folder).

    Raises
    ------
    ValueError
        Not a sweep manifest, or one without the whole SweepConfig (written by an older mdmlab).
    """
    from mdmlab.analysis.sweep import SweepConfig

    try:
        with open(path) as fh:
            man = json.load(fh)
    except FileNotFoundError:
        raise ValueError(f"--from must be a sweep's manifest.json, got {path!r} (missing)") from None
    except (OSError, ValueError) as err:
        raise ValueError(f"--from {path!r} is not readable JSON ({err})") from None
    config = man.get("config") if isinstance(man, dict) else None
    fields = {f.name for f in dataclasses.fields(SweepConfig)}
    if not isinstance(config, dict) or set(config) != fields:
        have = sorted(config) if isinstance(config, dict) else "none"
        raise ValueError(f"--from {path!r} does not record a whole sweep config (fields {sorted(fields)}, got {have})")
    values = {opt: _convert(parser, opt, config[field], f"--from {path!r}")
              for opt, field in FIELDS.items() if config[field] is not None}
    values["language"] = [_beside(spec, path) for spec in values["language"]]
    values["out"] = os.path.dirname(os.path.abspath(path))
    _warn_changed_languages(values["language"], config["languages"], man.get("languages") or {})
    return values


def merge(explicit, from_file):
    r"""The options to run: ``explicit`` (given on the command line) over ``from_file`` over :data:`DEFAULTS`."""
    return {**DEFAULTS, **from_file, **{k: v for k, v in explicit.items() if v is not None}}


def to_config(values):
    r"""The :class:`SweepConfig` of merged options; ``ValueError`` naming what is still missing."""
    from mdmlab.analysis.sweep import SweepConfig

    for opt in ("language", "length"):
        if values.get(opt) is None:
            raise ValueError(f"give --{opt} (on the command line, or as {opt!r} in a --config file)")
    if not values.get("steps") and not values.get("steps_per_length"):
        raise ValueError("give --steps and/or --steps-per-length (on the command line or in a --config file)")
    kw = {field: values[opt] for opt, field in FIELDS.items() if opt in values}
    return SweepConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in kw.items()})


def _convert(parser, name, value, source):
    r"""``value`` of option ``name`` from a file, through the parser's type and choices."""
    action = next(a for a in parser._actions if a.dest == name)
    if action.nargs == 0:  # --kl / --no-kl
        if not isinstance(value, bool):
            raise ValueError(f"{source}: {name} must be true or false, got {value!r}")
        return value
    many = action.nargs in ("+", "*")
    if isinstance(value, dict) or (isinstance(value, list) and not many):
        raise ValueError(f"{source}: {name} must be {'a list or one value' if many else 'one value'}, got {value!r}")
    items = value if isinstance(value, list) else [value]
    if action.nargs == "+" and not items:
        raise ValueError(f"{source}: {name} must hold at least one value, got []")
    out = []
    for item in items:
        if isinstance(item, (bool, dict, list)) or (action.type is None and not isinstance(item, str)):
            raise ValueError(f"{source}: {name} must hold {'text' if action.type is None else 'numbers'}, "
                             f"got {item!r}")
        try:
            conv = action.type(str(item)) if action.type else item
        except argparse.ArgumentTypeError as err:
            raise ValueError(f"{source}: {name}: {err}") from None
        if action.choices is not None and conv not in action.choices:
            raise ValueError(f"{source}: {name}: {conv!r} is not one of {', '.join(map(str, action.choices))}")
        out.append(conv)
    return out if many else out[0]


def _beside(spec, path):
    r"""``spec``, or the file of that name beside ``path`` when it is not a file from here."""
    near = os.path.join(os.path.dirname(os.path.abspath(path)), spec)
    return near if not os.path.isfile(spec) and os.path.isfile(near) else spec


def _warn_changed_languages(specs, recorded_specs, digests):
    from mdmlab.analysis.sweep import language_digest

    for spec, recorded in zip(specs, recorded_specs):
        if recorded in digests and os.path.isfile(spec) and language_digest(spec) != digests[recorded]:
            print(f"sweep: warning: language file {spec} differs from the one the manifest recorded "
                  f"({recorded}); this is not an exact replay, its cells will be recomputed", file=sys.stderr)
