r"""The ``mdmlab`` command line: ``languages``, ``sample``, ``sweep``, ``train``, ``report`` and ``bounds``.

``mdmlab --help`` and ``mdmlab --version`` must answer at once, so this module imports nothing
heavy: the parsers of the commands (which need numpy, numba and the packages' names) are built
only when a command is named on the command line.
"""
import argparse
import os
import sys
from importlib.metadata import PackageNotFoundError, version

#: command -> one-line summary, shown by ``mdmlab --help`` (the command modules use the same lines).
SUMMARIES = {
    "languages": "create, describe and save a language",
    "sample": "show MDM samples with the step at which each token was revealed",
    "sweep": "a grid of sampling runs, one tidy row per cell (resumable)",
    "train": "train the torch denoiser on a language, logging its exact learning error",
    "report": "run a preset and write REPORT.md, tables and figures",
    "bounds": "print, evaluate and invert the theory's bounds",
    "schedule": "optimal counts for N steps and the exact KL of every named schedule (random order)",
    "verdicts": "check every claim on sweep and n-star directories (holds / violated / inconclusive / vacuous)",
    "n-star": "N*(L) by stochastic bisection over N, with its interval (SER or per-token KL target)",
    "table": "one paper table (.tex booktabs, .md, .csv) from any sweep directories",
    "plot": "one figure (PNG and PDF) from any sweep directories, theory drawn from the languages in the data",
}

#: command -> the analysis module whose ``add_parsers(sub)`` defines its options (imported on demand:
#: ``bounds`` pulls in sympy and pandas, which ``mdmlab sample`` does not need).
PARSER_MODULES = {"languages": "commands", "sample": "commands", "sweep": "commands", "train": "commands",
                  "report": "commands", "bounds": "bounds_cli", "schedule": "schedule_cli", "verdicts": "verdicts_cli",
                  "n-star": "verdicts_cli", "table": "sweep_report_cli", "plot": "sweep_report_cli"}


def _finish(parser, formatter):
    r"""``formatter`` for ``parser`` and every parser below it (sub-commands and their sub-commands)."""
    parser.formatter_class = formatter
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _finish(child, formatter)
    return parser


#: commands whose first run compiles numba kernels (the others answer without them)
COMPILING = ("languages", "sample", "sweep", "train", "report", "schedule", "n-star")


def _version():
    try:
        return version("mdmlab")
    except PackageNotFoundError:  # running from a source tree that was not installed
        return "unknown (not installed)"


def build_parser(command=None):
    r"""The argument parser; the full parsers of every command when ``command`` names one (or is
    ``"all"``), else only the list of commands with their summaries (no heavy imports)."""
    parser = argparse.ArgumentParser(
        prog="mdmlab",
        description="Exact numerical checks of what theory says about masked diffusion language models.",
        epilog="Example: mdmlab bounds ser --language pair-copy:symbols=4 --length 64 --steps 8. "
               "'mdmlab COMMAND --help' lists a command's options.")
    parser.add_argument("--version", action="version", version=f"mdmlab {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="{" + ",".join(SUMMARIES) + "}")
    if command in SUMMARIES or command == "all":
        import importlib

        wanted = set(PARSER_MODULES.values()) if command == "all" else {PARSER_MODULES[command]}
        for name, summary in SUMMARIES.items():  # the named command's module only: its imports, not all
            if PARSER_MODULES[name] not in wanted:
                sub.add_parser(name, help=summary, add_help=False)
        for module in sorted(wanted):
            importlib.import_module(f"mdmlab.analysis.{module}").add_parsers(sub)
    else:
        for name, summary in SUMMARIES.items():
            sub.add_parser(name, help=summary, add_help=False)
    from mdmlab.analysis._argtypes import HelpFormatter  # argparse only: --help stays fast

    return _finish(parser, HelpFormatter)


def _command_in(argv):
    """The first argument that names a command (options before it are top-level ones)."""
    for arg in argv:
        if not arg.startswith("-"):
            return arg if arg in SUMMARIES else None
    return None


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(_command_in(argv))
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command in COMPILING:
        from mdmlab.analysis import _numba_cache

        _numba_cache.announce_first_compile()
    try:
        return args.func(args)
    except BrokenPipeError:  # 'mdmlab ... | head' closed the pipe: stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (ValueError, TypeError, OSError, ArithmeticError) as err:  # bad values or files argparse cannot see
        msg = " ".join(str(err).split()) or type(err).__name__  # one line, no traceback
        parser.exit(2, f"mdmlab {args.command}: error: {msg}\n")
    except KeyboardInterrupt:  # Ctrl-C: the command said what was kept and how to resume
        parser.exit(130, f"mdmlab {args.command}: interrupted\n")


if __name__ == "__main__":
    sys.exit(main())
