r"""Deprecated option names that keep working: the old spelling stores into the new option and warns once."""
import argparse
import sys


class _Alias(argparse.Action):
    r"""Store into ``new_dest`` and print ``mdmlab: warning: OLD is deprecated, use NEW`` on stderr."""

    def __init__(self, option_strings, dest, new_dest, new_option, **kwargs):
        super().__init__(option_strings, dest, **kwargs)
        self.new_dest, self.new_option = new_dest, new_option

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"mdmlab: warning: {option_string} is deprecated (it will be removed), use {self.new_option}",
              file=sys.stderr)
        setattr(namespace, self.new_dest, values)


def add_alias(parser, old, new, **kwargs):
    r"""Accept option ``old`` as a deprecated spelling of the option ``new`` of ``parser`` (listed in ``--help``).

    The alias has its own ``type`` and ``nargs`` (``kwargs``, those of ``new``), so a bad value is
    refused under the name the user typed ("argument --seeds: must be an integer >= 1").
    """
    action = next(a for a in parser._actions if new in a.option_strings)
    kwargs.setdefault("metavar", action.metavar or action.dest.upper())
    parser.add_argument(old, action=_Alias, new_dest=action.dest, new_option=new, dest=argparse.SUPPRESS,
                        default=argparse.SUPPRESS, help=f"deprecated spelling of {new}, still accepted with a warning "
                                                        f"(default: that of {new})", **kwargs)
