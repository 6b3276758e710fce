r"""The ``mdmlab`` command line: ``languages``, ``sample``, ``sweep``, ``train``, ``report`` and ``bounds``."""
import argparse
import sys
from importlib.metadata import PackageNotFoundError, version

from mdmlab.analysis import bounds_cli, commands


def _version():
    try:
        return version("mdmlab")
    except PackageNotFoundError:  # running from a source tree that was not installed
        return "unknown (not installed)"


def build_parser():
    parser = argparse.ArgumentParser(
        prog="mdmlab",
        description="Exact numerical checks of what theory says about masked diffusion language models.",
        epilog="Example: mdmlab bounds ser --language pair-copy --symbols 4 --length 64 --steps 8")
    parser.add_argument("--version", action="version", version=f"mdmlab {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="{languages,sample,sweep,train,report,bounds}")
    commands.add_parsers(sub)
    bounds_cli.add_parser(sub)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except ValueError as err:  # bad values that argparse cannot see: name them, no traceback
        parser.exit(2, f"mdmlab {args.command}: error: {err}\n")


if __name__ == "__main__":
    sys.exit(main())
