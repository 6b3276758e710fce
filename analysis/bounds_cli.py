r"""``mdmlab bounds ter|ser|kl``: print a bound's statement, LaTeX and numbers; optionally write LaTeX."""
import numpy as np

from mdmlab import theory
from mdmlab.analysis.cli import SUMMARIES
from mdmlab.analysis.specs import build_language
from mdmlab.models import schedules

DELTAS = (0.5, 0.1, 0.05, 0.01)


def add_parser(sub):
    p = sub.add_parser("bounds", help=SUMMARIES["bounds"],
                       description=__doc__, epilog="Example: mdmlab bounds ser --language pair-copy --symbols 4 "
                                                   "--length 64 --steps 8")
    kinds = p.add_subparsers(dest="bound", required=True, metavar="{ter,ser,kl}")
    ser = kinds.add_parser("ser", help="exact SER of a hard language and the steps it needs",
                           epilog="Example: mdmlab bounds ser --language pair-copy --symbols 4 --length 64 --steps 8")
    ser.add_argument("--language", choices=sorted(theory.SER_BOUNDS), default="pair-copy")
    ser.add_argument("--symbols", type=int, default=2, help="k, the alphabet size")
    ser.add_argument("--length", type=int, required=True, help="L")
    ser.add_argument("--steps", type=int, required=True, help="N")
    ser.add_argument("--block", type=int, default=2, help="m, for block-copy")
    ser.add_argument("--schedule", default="linear", choices=["linear", "balanced", "balanced-front", "balanced-back"])
    ser.add_argument("--delta", type=float, nargs="+", default=list(DELTAS), help="SER targets for N*(L, delta)")
    ter = kinds.add_parser("ter", help="Feng et al.'s n-gram TER bound with its constants",
                           epilog="Example: mdmlab bounds ter --order 3 --vocab 8 --steps 64")
    ter.add_argument("--order", type=int, required=True)
    ter.add_argument("--vocab", type=int, required=True)
    ter.add_argument("--steps", type=int, required=True)
    ter.add_argument("--eps-learning", type=float, default=0.0)
    ter.add_argument("--c-steps", type=float, default=1.0)
    ter.add_argument("--c-excess", type=float, default=1.0)
    ter.add_argument("--target", type=float, nargs="+", default=[1.0, 0.5, 0.1], help="excesses for N*")
    kl = kinds.add_parser("kl", help="Li & Cai's KL bound",
                          epilog="Example: mdmlab bounds kl --language ngram:order=3,vocab=8,seed=1 --length 64 --s-max 4")
    kl.add_argument("--s-max", type=int, required=True, help="most tokens revealed in one step")
    kl.add_argument("--length", type=int, required=True)
    src = kl.add_mutually_exclusive_group(required=True)
    src.add_argument("--mutual-information", type=float, help="sum_i I(X_i; X_-i) in nats")
    src.add_argument("--language", help="a language spec or file; its mutual information is computed")
    kl.add_argument("--eps-train", type=float, default=0.0)
    kl.add_argument("--seed", type=int, default=0, help="Monte Carlo seed (HMMs too long to enumerate)")
    for q in (ser, ter, kl):
        q.add_argument("--latex", metavar="FILE", help="write a LaTeX snippet of the bound to FILE")
    p.set_defaults(func=run)


def run(args):
    bound, values, lines = {"ser": _ser, "ter": _ter, "kl": _kl}[args.bound](args)
    print(bound.describe())
    print(f"LaTeX: {bound.latex()}")
    print("\n".join(lines))
    if args.latex:
        with open(args.latex, "w") as fh:
            fh.write(f"% {bound.name}: {bound.reference}\n% values: {values}\n"
                     f"\\begin{{equation}}\n  {bound.latex()}\n\\end{{equation}}\n")
        print(f"wrote {args.latex}")
    return 0


def _ser(args):
    bound = theory.SER_BOUNDS[args.language]
    params = {"symbols": args.symbols, "length": args.length}
    if args.language == "block-copy":
        params["block"] = args.block
    if args.schedule != "linear":
        return bound, params, _ser_counts(args)
    value = float(bound.evaluate(**params, steps=args.steps))
    lines = [f"SER(N={args.steps}, L={args.length}, k={args.symbols}, linear) = {value:.4f}"]
    for d in args.delta:
        n_star = float(bound.steps_needed(d, **params))
        lines.append(f"N*(L, delta={d:g}) = {n_star:.0f}  (N*/L = {n_star / args.length:.3f})")
    if args.language == "pair-copy":
        lines += [f"slope lim N*/L at delta={d:g}: {theory.pair_copy_slope(args.symbols, d):.4f}" for d in args.delta]
    return bound, {**params, "steps": args.steps, "SER": value}, lines


def _ser_counts(args):
    if args.language == "block-copy":
        raise SystemExit("mdmlab bounds ser: --schedule balanced* is derived for pair-copy and all-equal only")
    form = theory.pair_copy_ser_counts if args.language == "pair-copy" else theory.all_equal_ser_counts

    def ser_at(n):
        return form(args.symbols, schedules.resolve(args.schedule, args.length, n).counts)

    lines = [f"SER(N={args.steps}, L={args.length}, k={args.symbols}, {args.schedule}) = {ser_at(args.steps):.4f}"]
    for d in args.delta:
        n_star = next((n for n in range(1, args.length + 1) if ser_at(n) <= d), None)
        lines.append(f"N*(L, delta={d:g}) = {n_star} " + (f"(N*/L = {n_star / args.length:.3f})" if n_star else
                                                         "(not reached with N <= L)"))
    return lines


def _ter(args):
    params = {"order": args.order, "vocab": args.vocab, "eps_learning": args.eps_learning, "c_steps": args.c_steps,
              "c_excess": args.c_excess}
    value = float(theory.FENG_TER.evaluate(**params, steps=args.steps))
    lines = [f"excess log TER bound at N={args.steps}: {value:.4f} nats/token (constants c_steps={args.c_steps:g}, "
             f"c_excess={args.c_excess:g}, eps_learning={args.eps_learning:g})"]
    lines += [f"N* for excess <= {t:g}: {theory.FENG_TER.steps_needed(t, **params):.0f}" for t in args.target]
    return theory.FENG_TER, {**params, "steps": args.steps, "excess": value}, lines


def _kl(args):
    lines = []
    mi = args.mutual_information
    if mi is None:
        res = theory.total_mutual_information(build_language(args.language), args.length, rng=args.seed)
        mi = res.nats
        lines.append(f"sum_i I(X_i; X_-i) = {res.nats:.6f} nats ({res.method}" +
                     (f", std. error {res.stderr:.2g})" if res.stderr else ")"))
    params = {"s_max": args.s_max, "length": args.length, "mutual_information": mi, "eps_train": args.eps_train}
    value = float(theory.LI_CAI_KL.evaluate(**params))
    lines.append(f"E_M KL(q || p_M) <= {value:.6f} nats  (factor 2^ceil(log2 s_max) - 1 = "
                 f"{2 ** int(np.ceil(np.log2(args.s_max))) - 1})")
    return theory.LI_CAI_KL, {**params, "bound": value}, lines
