r"""``mdmlab sweep``: its options, config files (``--config``, ``--from``), ``--dry-run`` and ``--calibrate``."""
import argparse
import os
import sys
from collections import defaultdict

from mdmlab.analysis._argtypes import (check_writable_dir, float_in, int_at_least, nonneg_int, path_arg,
                                      policy_arg, positive_float, positive_int)
from mdmlab.analysis._deprecated import add_alias
from mdmlab.analysis.sweep_config import DEFAULTS, KEYS, merge, read_manifest, read_toml, to_config


def _default(opt):
    value = DEFAULTS[opt]
    return " ".join(map(str, value)) if isinstance(value, tuple) else ("none" if value is None else str(value))


def add_options(swp, schedules, policies):
    r"""The options of ``mdmlab sweep`` on parser ``swp``: what to run (also from a file) and how."""
    src = swp.add_argument_group("configuration files (options given on the command line override them)")
    src.add_argument("--config", metavar="FILE.toml", type=path_arg,
                     help=f"read the options from a TOML file; keys: {', '.join(KEYS)} (default: none)")
    src.add_argument("--from", dest="from_manifest", metavar="MANIFEST", type=path_arg,
                     help="replay the configuration a sweep's manifest.json records, into its folder unless --out "
                          "is given (default: none)")
    swp.add_argument("--language", nargs="+",
                     help="language specs or files (kinds and keys below); required, no default")
    swp.add_argument("--length", type=positive_int, nargs="+", help="L values; required, no default")
    swp.add_argument("--steps", type=positive_int, nargs="*",
                     help="N values (sampling steps; N <= L kept) (default: none)")
    swp.add_argument("--steps-per-length", type=positive_float, nargs="*",
                     help="fractions f: N = max(1, round(f L)) for each L (default: none)")
    swp.add_argument("--schedule", nargs="+", choices=list(schedules),
                     help=f"count schedules (default: {_default('schedule')})")
    swp.add_argument("--policy", nargs="+", type=policy_arg(list(policies)), metavar="POLICY",
                     help=f"position policies: {', '.join(policies)}, or structured orders binary-search, runs:M, "
                          f"dilated[:S] (default: {_default('policy')})")
    swp.add_argument("--replicates", type=positive_int,
                     help=f"independent replicates of each cell (column seed = 0 .. R-1; was --seeds) "
                          f"(default: {_default('replicates')})")
    add_alias(swp, "--seeds", "--replicates", type=positive_int)
    swp.add_argument("--samples", type=int_at_least(2),
                     help=f"draws per cell (per batch with --target-ci) (default: {_default('samples')})")
    swp.add_argument("--target-ci", type=float_in(0.0, 1.0),
                     help="draw until SER CI half-width and TER s.e. are <= this (default: none, --samples draws)")
    swp.add_argument("--max-samples", type=int_at_least(2),
                     help=f"most draws per cell with --target-ci (default: {_default('max_samples')})")
    swp.add_argument("--kl", action=argparse.BooleanOptionalAction,
                     help="also E_M KL(q || p_M) (random policy only) and the Li & Cai bound (fixed-count schedules); "
                          "--no-kl turns off a config file's kl (default: off)")
    swp.add_argument("--base-seed", type=nonneg_int,
                     help=f"seed mixed into every cell's seed (default: {_default('base_seed')})")
    swp.add_argument("--workers", type=positive_int,
                     help="processes (default: all cores; capped at the cells to run and the cores)")
    swp.add_argument("--out", type=path_arg,
                     help="folder for cells/, results.csv and manifest.json; required, no default (--dry-run: "
                          "optional, to count the cells it would reuse)")
    swp.add_argument("--fresh", action="store_true", help="recompute every cell instead of reusing finished ones")
    swp.add_argument("--scheduler", metavar="ADDRESS",
                     help="run the cells on Dask instead of the local pool: 'local' or 'local:N' starts a "
                          "LocalCluster of N workers here, 'tcp://HOST:8786' uses a running scheduler (needs "
                          "dask.distributed; results are identical to a local run; default: the local pool)")
    plan = swp.add_argument_group("planning")
    plan.add_argument("--dry-run", action="store_true",
                      help="print the cells, the draws and the predicted time (cost model), run and write nothing")
    plan.add_argument("--calibrate", action="store_true",
                      help="time about 40 small cells on this machine (about a minute) and store the cost model "
                           "--dry-run uses (in $XDG_CACHE_HOME/mdmlab, else ~/.cache/mdmlab)")
    swp.set_defaults(func=run, _sweep_parser=swp)


def options(args):
    r"""The merged options of ``args``: the command line over ``--config`` or ``--from`` over the defaults."""
    if args.config and args.from_manifest:
        raise ValueError("give --config or --from, not both")
    parser = args._sweep_parser
    from_file = (read_toml(args.config, parser) if args.config else
                 read_manifest(args.from_manifest, parser) if args.from_manifest else {})
    return merge({k: getattr(args, k) for k in KEYS}, from_file)


def run(args):
    from mdmlab import synth
    from mdmlab.analysis.sweep import run_sweep

    if args.calibrate:
        return _calibrate()
    values = options(args)
    cfg = to_config(values)
    for spec in cfg.languages:
        synth.from_spec(spec)  # fail fast on a bad spec, before any worker starts
    if not cfg.cells():
        raise ValueError(f"the grid has no cell: every N from --steps/--steps-per-length exceeds its L "
                         f"(--length {' '.join(map(str, cfg.lengths))})")
    if args.dry_run:
        return dry_run(cfg, values, fresh=args.fresh)
    if values["out"] is None:
        raise ValueError("give --out (on the command line, or as 'out' in a --config file)")
    check_writable_dir("--out", values["out"])
    table = run_sweep(cfg, values["out"], workers=values["workers"], fresh=args.fresh, scheduler=values["scheduler"])
    print(f"{len(table)} cells in {os.path.join(values['out'], 'results.csv')}")
    return 0


def _calibrate():
    from mdmlab.analysis import cost

    model, ratios = cost.calibrate()
    coef = ", ".join(f"{t} {model.coefficients[t]:.3g}" for t in cost.TERMS)
    worst = max(ratios, key=lambda r: max(r, 1 / r))
    print(f"cost model ({model.source}): {coef} seconds per unit; fit predicted / measured over "
          f"{len(ratios)} cells: median {sorted(ratios)[len(ratios) // 2]:.2f}, worst {worst:.2f}")
    return 0


def dry_run(cfg, values, *, fresh=False, out=None):
    r"""Print the cells of ``cfg`` grouped by (language, L), the draws, how many cells would be reused
    from ``values["out"]`` and the predicted time; reads the cells folder, writes nothing."""
    from mdmlab import synth
    from mdmlab.analysis import cluster, cost
    from mdmlab.analysis.sweep import cells_to_run

    out_dir = values["out"]
    cells, todo, _ = cells_to_run(cfg, out_dir or os.devnull, fresh=fresh or out_dir is None)
    model = cost.load()
    workers = _workers(values, len(todo), cluster)
    per, total, wall = cost.predict_sweep(model, todo, cfg, workers)
    groups = _groups(todo, per, {spec: synth.from_spec(spec) for spec in cfg.languages})
    p = lambda *a: print(*a, file=out or sys.stdout)  # noqa: E731
    draws = f"{cfg.samples} draws per cell" + (f" per batch, up to {cfg.max_samples} (--target-ci {cfg.target_ci}; "
                                                 f"time predicted for one batch)" if cfg.target_ci else "")
    p(f"dry run: {len(cells)} cells ({_n(cfg.languages, 'language')} x {len(cfg.lengths)} L x N values x "
      f"{_n(cfg.schedules, 'schedule')} x {_n(cfg.policies, 'policy', 'policies')} x {cfg.seeds} replicates), "
      f"{len(cells) - len(todo)} reused from {out_dir or '(no --out)'}, {len(todo)} to run; {draws}, "
      f"{cfg.samples * len(todo)} draws in all")
    if todo:
        p(f"{'language':<44} {'L':>6} {'cells':>5}  {'path':<10} {'N':<24} {'predicted':>10}")
    for (lang, L), (n, steps, paths, t) in groups.items():
        Ns = " ".join(map(str, sorted(steps)))
        p(f"{lang[-44:]:<44} {L:>6} {n:>5}  {'/'.join(sorted(paths)):<10} {Ns[:24]:<24} {_seconds(t):>10}")
    where = (f"on {workers} worker{'s' if workers > 1 else ''}" if workers else
             "summed over cells (divide by the cluster's workers)")
    p(f"predicted time: {_seconds(wall)} {where} (cells total {_seconds(total)} of CPU; a warm numba cache, a core "
      f"per worker, start-up not counted); cost model: {model.source}")
    p("nothing was run or written (drop --dry-run to run)")
    return 0


def _groups(todo, per, langs):
    r"""(language, L) -> [cells, their N values, their paths, predicted seconds], in grid order."""
    from mdmlab.analysis import cost

    groups = defaultdict(lambda: [0, set(), set(), 0.0])
    for c, t in zip(todo, per):
        g = groups[(c.language, c.length)]
        g[0] += 1
        g[1].add(c.steps)
        g[2].add(cost.path_of(c, langs[c.language]))
        g[3] += t
    return groups


def _workers(values, n_todo, cluster):
    r"""The workers the sweep would use: the local pool's cap, ``local:N``'s N, or None for an address."""
    if values["scheduler"]:
        kind, n = cluster.parse_scheduler(values["scheduler"])
        return (n or os.cpu_count() or 1) if kind == "local" else None
    from mdmlab.analysis.sweep import _cap_workers

    return _cap_workers(values["workers"], n_todo, False)  # the local pool's own rule


def _n(items, one, many=None):
    return f"{len(items)} {one if len(items) == 1 else many or one + 's'}"


def _seconds(t):
    return f"{t:.1f} s" if t < 120 else f"{t / 60:.1f} min" if t < 7200 else f"{t / 3600:.1f} h"
