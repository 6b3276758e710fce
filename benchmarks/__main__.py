r"""``python -m benchmarks [suite ...]``: run the benchmark suites and print ratios against targets."""
import argparse
import sys

from benchmarks import _timing

SUITES = {"synth": "benchmarks.synth", "sampler": "benchmarks.sampler", "denoiser": "benchmarks.denoiser",
          "startup": "benchmarks.startup", "cost": "benchmarks.cost", "dask": "benchmarks.dask_scaling"}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("suites", nargs="*",
                        help=f"suites to run (default all): {', '.join(sorted(SUITES))}")
    args = parser.parse_args(argv)
    unknown = [s for s in args.suites if s not in SUITES]
    if unknown:
        parser.error(f"unknown suite(s) {unknown}; valid: {sorted(SUITES)}")
    print(f"machine: {_timing.machine()}")
    rows = []
    for name in args.suites or sorted(SUITES):
        module = __import__(SUITES[name], fromlist=["run"])
        rows += module.run()
    print()
    return 0 if _timing.report(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
