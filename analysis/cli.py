r"""The ``mdmlab`` command line. Subcommands arrive with the analysis issues; for now: help, version."""
import argparse
import sys
from importlib.metadata import PackageNotFoundError, version


def _version():
    try:
        return version("mdmlab")
    except PackageNotFoundError:  # running from a source tree that was not installed
        return "unknown (not installed)"


def build_parser():
    parser = argparse.ArgumentParser(
        prog="mdmlab",
        description="Exact numerical checks of what theory says about masked diffusion language models.",
        epilog="Example: mdmlab --version")
    parser.add_argument("--version", action="version", version=f"mdmlab {_version()}")
    return parser


def main(argv=None):
    parser = build_parser()
    parser.parse_args(argv)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
