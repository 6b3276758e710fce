r"""``mdmlab table`` and ``mdmlab plot`` (one table or figure from any sweep directories), and the
handler of ``mdmlab report --sweep``; the work is :mod:`analysis.sweep_report`'s."""
import os

from mdmlab.analysis._argtypes import check_writable_dir, float_in, path_arg
from mdmlab.analysis.cli import SUMMARIES

TABLES = ("ser", "ter", "kl", "n-star", "verdicts")
PLOTS = ("ser", "ter-gap", "ser-heatmap", "n-star", "kl")
TABLE_FORMATS = (".tex", ".md", ".csv")
_DIRS_HELP = "sweep folders (results.csv) and/or n-star folders (nstar.csv)"


def add_parsers(sub):
    t = sub.add_parser("table", help=SUMMARIES["table"],
                       epilog="Example: mdmlab table runs/bigram --what ser --out ser.tex. A .tex file is a booktabs "
                              "table with caption and label (tab:WHAT); .md the same cells in Markdown; .csv the "
                              "tidy rows.")
    t.add_argument("dirs", nargs="+", metavar="SWEEP_DIR", help=_DIRS_HELP)
    t.add_argument("--what", default="ser", choices=TABLES, help="which table")
    t.add_argument("--out", type=path_arg, required=True, help="the table file: .tex, .md or .csv")
    t.add_argument("--delta", type=float_in(0.0, 1.0, high_open=True), default=0.5,
                   help="SER target of N* from the grid (when no nstar.csv is given)")
    t.set_defaults(func=_table)

    p = sub.add_parser("plot", help=SUMMARIES["plot"],
                       epilog="Example: mdmlab plot runs/bigram --what ser --out ser.png (writes ser.png and ser.pdf)")
    p.add_argument("dirs", nargs="+", metavar="SWEEP_DIR", help=_DIRS_HELP)
    p.add_argument("--what", default="ser", choices=PLOTS, help="which figure")
    p.add_argument("--out", type=path_arg, required=True, help="the figure file (.png; a .pdf is written next to it)")
    p.add_argument("--delta", type=float_in(0.0, 1.0, high_open=True), default=0.5,
                   help="SER target of N* (the grid's N* and the heatmap's exact N* line)")
    p.set_defaults(func=_plot)


def _check_dirs(dirs):
    for d in dirs:
        if not os.path.isdir(d):
            raise ValueError(f"SWEEP_DIR must be a folder holding results.csv or nstar.csv, got {d!r} "
                             f"({'a file' if os.path.exists(d) else 'missing'})")


def _out_folder(path):
    folder = os.path.dirname(os.path.abspath(path))
    check_writable_dir("--out", folder)


def _table(args):
    from mdmlab.analysis import sweep_report as sr

    ext = os.path.splitext(args.out)[1].lower()
    if ext not in TABLE_FORMATS:
        raise ValueError(f"--out must end in one of {', '.join(TABLE_FORMATS)}, got {args.out!r}")
    _check_dirs(args.dirs)
    _out_folder(args.out)
    df, nstar = sr.load_sweeps(args.dirs, delta=args.delta)
    name = args.what.replace("-", "_")
    if name == "verdicts":
        from mdmlab.analysis import verdicts as vd

        source = vd.verdicts(df, nstar)
    else:
        source = nstar if name == "n_star" else df
    views = sr.table_views(name, source, dirs=args.dirs)
    if views is None:
        raise ValueError(f"the sweeps {' '.join(args.dirs)} hold no rows for --what {args.what}")
    tidy, display, caption = views
    writers = {".csv": lambda fh: tidy.to_csv(fh, index=False),
               ".md": lambda fh: fh.write(display.to_markdown(index=False) + "\n"),
               ".tex": lambda fh: fh.write(sr.latex(display, caption=caption, label=f"tab:{name}"))}
    with open(args.out, "w", newline="") as fh:
        writers[ext](fh)
    print(display.to_string(index=False))
    print(f"wrote {args.out}")
    return 0


def _plot(args):
    from mdmlab.analysis import sweep_report as sr

    _check_dirs(args.dirs)
    _out_folder(args.out)
    df, nstar = sr.load_sweeps(args.dirs, delta=args.delta)
    _, build = sr.PLOTS[args.what]
    made = build({"ter": df, "ser": df, "kl": df, "nstar": nstar}, tuple(args.dirs), args.delta)
    if made is None:
        raise ValueError(f"the sweeps {' '.join(args.dirs)} hold nothing to draw for --what {args.what} "
                         f"(e.g. no finite TER gap, no SER above 0, no --kl rows)")
    fig, title = made
    paths = sr.save_figure(fig, args.out)
    print(f"{title}\nwrote {' and '.join(paths)}")
    return 0


def report_sweeps(args):
    r"""``mdmlab report --sweep DIR... --out OUT``: :func:`analysis.sweep_report.make_sweep_report`."""
    from mdmlab.analysis import sweep_report as sr

    _check_dirs(args.sweep)
    check_writable_dir("--out", args.out)
    verdicts = sr.make_sweep_report(args.sweep, args.out)
    if len(verdicts):
        print(verdicts[["claim", "language", "schedule", "verdict"]].to_string(index=False))
    print(f"wrote {os.path.join(args.out, 'REPORT.md')}")
    return 0
