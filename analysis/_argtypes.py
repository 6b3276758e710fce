r"""argparse ``type=`` functions: numeric ranges and paths checked while parsing, before any work.

Each raises :class:`argparse.ArgumentTypeError`, so ``mdmlab CMD --length 0`` ends in one line,
``mdmlab CMD: error: argument --length: must be an integer >= 1, got '0'``, and exit status 2.
"""
import argparse
import math
import os
import re
import tempfile


def _number(text, kind):
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be {'an integer' if kind is int else 'a number'}, got {text!r}") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


#: structured orders of ``models.orders`` by name (``runs:M`` and ``dilated:S`` take an integer >= 1).
STRUCTURED_ORDER = re.compile(r"binary-search|dilated|dilated:[1-9][0-9]*|runs:[1-9][0-9]*")


def policy_arg(names):
    """A position policy of ``names`` or a structured order (binary-search, runs:M, dilated[:S])."""
    def parse(text):
        if text in names or STRUCTURED_ORDER.fullmatch(text):
            return text
        raise argparse.ArgumentTypeError(f"must be one of {', '.join(names)} or a structured order "
                                         f"(binary-search, runs:M, dilated, dilated:S), got {text!r}")
    parse.__name__ = "position policy"
    return parse


def int_at_least(low):
    """An int >= ``low``."""
    def parse(text):
        value = _number(text, int)
        if value < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text!r}")
        return value
    parse.__name__ = f"integer >= {low}"
    return parse


def float_in(low=None, high=None, *, low_open=True, high_open=False):
    """A finite float in the interval (closed or open ends as given; None: unbounded)."""
    lo = "(-inf" if low is None else f"{'(' if low_open else '['}{low:g}"
    hi = "inf)" if high is None else f"{high:g}{')' if high_open else ']'}"

    def parse(text):
        value = _number(text, float)
        bad_low = low is not None and (value <= low if low_open else value < low)
        bad_high = high is not None and (value >= high if high_open else value > high)
        if bad_low or bad_high:
            raise argparse.ArgumentTypeError(f"must be a number in {lo}, {hi}, got {text!r}")
        return value
    parse.__name__ = f"number in {lo}, {hi}"
    return parse


positive_int = int_at_least(1)
nonneg_int = int_at_least(0)
positive_float = float_in(0.0)
nonneg_float = float_in(0.0, low_open=False)
probability = float_in(0.0, 1.0, high_open=True)


def path_arg(text):
    """A non-empty path (an empty string would silently mean the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"must be a non-empty path, got {text!r}")
    return text


def check_writable_dir(option, path):
    r"""Create folder ``path`` if needed and prove it writable by writing a temporary file there,
    before any work starts; ``ValueError`` naming ``option`` otherwise."""
    try:
        os.makedirs(path, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".write-test-")
        os.close(fd)
        os.remove(probe)
    except OSError as err:
        raise ValueError(f"{option} {path!r} is not a writable folder ({err.strerror or err})") from None


def check_readable_file(option, path):
    """``ValueError`` naming ``option`` unless ``path`` is a readable file."""
    if not os.path.isfile(path):
        what = "a folder" if os.path.isdir(path) else "missing"
        raise ValueError(f"{option} must be a readable file, got {path!r} ({what})")
    if not os.access(path, os.R_OK):
        raise ValueError(f"{option} must be a readable file, got {path!r} (permission denied)")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    r"""Every option's help ends with its default (a list as its items, none as 'none'), unless the
    help already speaks of it, the option is required or a flag; a description or epilog holding line
    breaks is printed as written (lists of kinds, the glossary), a one-line one is wrapped."""

    def _fill_text(self, text, width, indent):
        if "\n" in text.strip("\n"):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)

    def _get_help_string(self, action):
        text = action.help or ""
        flag = action.nargs == 0  # store_true, help, version: nothing to show
        positional = not action.option_strings and action.nargs not in ("?", "*")
        if "default" in text or flag or positional or action.required or action.default is argparse.SUPPRESS:
            return text
        default = action.default
        if isinstance(default, (list, tuple)):
            shown = " ".join(map(str, default)) or "none"
        else:
            shown = "none" if default is None else str(default)
        return f"{text} (default: {shown.replace('%', '%%')})".lstrip()
