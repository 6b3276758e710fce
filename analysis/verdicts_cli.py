r"""``mdmlab verdicts`` (every claim on any sweep directories) and ``mdmlab n-star`` (N* by bisection)."""
import os

import pandas as pd

from mdmlab.analysis._argtypes import float_in, int_at_least, path_arg, positive_float, positive_int
from mdmlab.analysis.cli import SUMMARIES


def add_parsers(sub):
    v = sub.add_parser("verdicts", help=SUMMARIES["verdicts"],
                       epilog="Example: mdmlab verdicts runs/pair runs/nstar --out verdicts.csv. Each directory holds "
                              "a sweep's results.csv and/or an n-star search's nstar.csv; without any nstar.csv, "
                              "N* comes from the SER grid (with its interval and censoring).")
    v.add_argument("dirs", nargs="+", metavar="SWEEP_DIR", help="folders holding results.csv and/or nstar.csv")
    v.add_argument("--delta", type=float_in(0.0, 1.0, high_open=True), default=0.5, help="SER target of the grid N* (no nstar.csv given)")
    v.add_argument("--out", type=path_arg, help="write the verdict table as CSV (default: print only)")
    v.set_defaults(func=_verdicts)

    n = sub.add_parser("n-star", help=SUMMARIES["n-star"],
                       epilog="Example: mdmlab n-star --language pair-copy:symbols=4 --length 16 64 256 1024 "
                              "--ser-target 0.5 --kl-target 0.1 --out runs/nstar")
    n.add_argument("--language", nargs="+", required=True, help="language specs or files")
    n.add_argument("--length", type=int_at_least(2), nargs="+", required=True, help="L values")
    n.add_argument("--schedule", nargs="+", default=["linear"], help="count schedules")
    n.add_argument("--policy", nargs="+", default=["random"], help="position policies")
    n.add_argument("--ser-target", type=float_in(0.0, 1.0, low_open=False, high_open=True), nargs="*", default=[0.5], help="delta: least N with SER <= delta")
    n.add_argument("--kl-target", type=positive_float, nargs="*", default=[],
                   help="eps: least N with E_M KL(q || p_M) / L <= eps (nats per token)")
    n.add_argument("--samples", type=int_at_least(2), default=256, help="draws per evaluated N (doubled until --rel-width)")
    n.add_argument("--rel-width", type=positive_float, default=0.2, help="target (high - low) / N* of N*'s 95%% interval")
    n.add_argument("--max-samples", type=int_at_least(2), default=4096, help="most draws per evaluated N")
    n.add_argument("--base-seed", type=int, default=0, help="seed mixed into every search's seed")
    n.add_argument("--workers", type=positive_int, default=None, help="processes (default: all cores)")
    n.add_argument("--out", type=path_arg, required=True, help="folder for nstar.csv")
    n.set_defaults(func=_n_star)


def load_dirs(dirs):
    r"""(sweep rows, N* rows or None) from directories holding ``results.csv`` and/or ``nstar.csv``."""
    sweeps, nstars = [], []
    for d in dirs:
        found = False
        for name, acc in (("results.csv", sweeps), ("nstar.csv", nstars)):
            path = os.path.join(d, name)
            if os.path.isfile(path):
                acc.append(pd.read_csv(path, dtype={"censored": object}).fillna({"censored": ""})
                           if name == "nstar.csv" else pd.read_csv(path))
                found = True
        if not found:
            raise ValueError(f"SWEEP_DIR {d!r} holds neither results.csv nor nstar.csv")
    df = pd.concat(sweeps, ignore_index=True) if sweeps else pd.DataFrame()
    return df, (pd.concat(nstars, ignore_index=True) if nstars else None)


def verdicts_for_dirs(dirs, *, delta=0.5):
    r"""The verdict table of :func:`analysis.verdicts.verdicts` for sweep and n-star directories."""
    from mdmlab.analysis import verdicts as vd

    df, nstar = load_dirs(dirs)
    if nstar is None and not df.empty and "ser_low" in df:
        nstar = vd.n_star_grid(df, delta)
    return vd.verdicts(df, nstar)


def _verdicts(args):
    table = verdicts_for_dirs(args.dirs, delta=args.delta)
    with pd.option_context("display.width", 200, "display.max_colwidth", 60):
        print(table[["claim", "language", "schedule", "verdict", "measured", "low", "high", "detectable",
                     "cells", "censored"]].to_string(index=False))
    print(", ".join(f"{(table['verdict'] == v).sum()} {v}" for v in ("holds", "violated", "inconclusive", "vacuous")))
    if args.out:
        table.to_csv(args.out, index=False)
        print(f"wrote {args.out}")
    return 0


def _n_star(args):
    from mdmlab import synth
    from mdmlab.analysis.nstar import NStarConfig, run_n_star

    for spec in args.language:
        synth.from_spec(spec)  # fail fast on a bad spec
    if args.max_samples < args.samples:
        raise ValueError(f"--max-samples must be >= --samples = {args.samples}, got {args.max_samples}")
    if not args.ser_target and not args.kl_target:
        raise ValueError("give at least one --ser-target or --kl-target")
    cfg = NStarConfig(languages=tuple(args.language), lengths=tuple(args.length), schedules=tuple(args.schedule),
                      policies=tuple(args.policy), ser_targets=tuple(args.ser_target),
                      kl_targets=tuple(args.kl_target), samples=args.samples, rel_width=args.rel_width,
                      max_samples=args.max_samples, base_seed=args.base_seed)
    table = run_n_star(cfg, args.out, workers=args.workers)
    print(table.drop(columns=["method"]).to_string(index=False))
    print(f"wrote {os.path.join(args.out, 'nstar.csv')}")
    return 0
