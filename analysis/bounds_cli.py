r"""``mdmlab bounds ter|ser|kl``: print a bound's statement, LaTeX and numbers; optionally write LaTeX."""
import numpy as np

from mdmlab import synth
from mdmlab import theory
from mdmlab.analysis._argtypes import nonneg_float, nonneg_int, path_arg, positive_float, positive_int, probability
from mdmlab.analysis.cli import SUMMARIES
from mdmlab.models import schedules

DELTAS = (0.5, 0.1, 0.05, 0.01)


def add_parsers(sub):
    p = sub.add_parser("bounds", help=SUMMARIES["bounds"],
                       description=__doc__, epilog="Example: mdmlab bounds ser --language pair-copy:symbols=4 "
                                                   "--length 64 --steps 8")
    kinds = p.add_subparsers(dest="bound", required=True, metavar="{ter,ser,kl}")
    ser = kinds.add_parser("ser", help="exact SER of a hard language and the steps it needs",
                           epilog="Example: mdmlab bounds ser --language pair-copy:symbols=4 --length 64 --steps 8")
    ser.add_argument("--language", default="pair-copy:symbols=2",
                     help=f"a spec or saved file of a hard language ({', '.join(theory.SER_BOUNDS)}), e.g. "
                          f"pair-copy:symbols=4 or block-copy:symbols=2,block=3")
    ser.add_argument("--length", type=positive_int, required=True, help="L")
    ser.add_argument("--steps", type=positive_int, required=True, help="N")
    ser.add_argument("--schedule", default="linear", choices=["linear", "balanced", "balanced-front", "balanced-back"],
                     help="count schedule")
    ser.add_argument("--delta", type=probability, nargs="+", default=list(DELTAS), help="SER targets for N*(L, delta)")
    ter = kinds.add_parser("ter", help="Feng et al.'s n-gram TER bound with its constants",
                           epilog="Example: mdmlab bounds ter --order 3 --vocab 8 --steps 64")
    ter.add_argument("--order", type=positive_int, required=True, help="n, the n-gram order")
    ter.add_argument("--vocab", type=positive_int, required=True, help="V, the vocabulary size")
    ter.add_argument("--steps", type=positive_int, required=True, help="N, sampling steps")
    ter.add_argument("--eps-learning", type=nonneg_float, default=0.0, help="learning error, nats per token")
    ter.add_argument("--c-steps", type=positive_float, default=1.0, help="the bound's unpublished constant c_N")
    ter.add_argument("--c-excess", type=positive_float, default=1.0, help="the bound's unpublished constant c_E")
    ter.add_argument("--target", type=positive_float, nargs="+", default=[1.0, 0.5, 0.1], help="excesses for N*")
    kl = kinds.add_parser("kl", help="Li & Cai's KL bound",
                          epilog="Example: mdmlab bounds kl --language ngram:order=3,vocab=8,seed=1 --length 64 --s-max 4")
    kl.add_argument("--s-max", type=positive_int, required=True, help="most tokens revealed in one step")
    kl.add_argument("--length", type=positive_int, required=True, help="L")
    src = kl.add_mutually_exclusive_group(required=True)
    src.add_argument("--mutual-information", type=nonneg_float, help="sum_i I(X_i; X_-i) in nats")
    src.add_argument("--language", help="a language spec or file; its mutual information is computed")
    kl.add_argument("--eps-train", type=nonneg_float, default=0.0, help="training error term, nats")
    kl.add_argument("--seed", type=nonneg_int, default=0, help="Monte Carlo seed (HMMs too long to enumerate)")
    for q in (ser, ter, kl):
        q.add_argument("--latex", metavar="FILE", type=path_arg, help="write a LaTeX snippet of the bound to FILE (default: none)")
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
    lang = _hard_language(args.language)
    spec = lang.spec
    for name in ("length", "steps"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name} must be >= 1, got {getattr(args, name)}")
    bound = theory.SER_BOUNDS[spec.kind]
    params = {"length": args.length, **spec.params}

    def ser_at(n):
        value = theory.closed_form_ser(lang, schedules.resolve(args.schedule, args.length, n))
        if value is None:
            raise ValueError(f"no closed-form SER for {spec} under the {args.schedule} schedule at L={args.length}")
        return value

    value = ser_at(args.steps)
    lines = [f"SER(N={args.steps}, L={args.length}, k={spec.params['symbols']}, {args.schedule}) = {value:.4f}"]
    if args.schedule != "linear":
        lines += _searched_n_star(ser_at, args)
        return bound, {**params, "steps": args.steps, "schedule": args.schedule, "SER": value}, lines
    for d in args.delta:
        n_star = float(bound.steps_needed(d, **params))
        lines.append(f"N*(L, delta={d:g}) = {n_star:.0f}  (N*/L = {n_star / args.length:.3f})")
    if spec.kind == "pair-copy":
        lines += [f"slope lim N*/L at delta={d:g}: {theory.pair_copy_slope(spec.params['symbols'], d):.4f}"
                  for d in args.delta]
    return bound, {**params, "steps": args.steps, "SER": value}, lines


def _hard_language(text):
    """The language of ``--language``; one line unless it is a hard language with closed forms."""
    lang = synth.from_spec(text)
    if lang.spec is None or lang.spec.kind not in theory.SER_BOUNDS:
        raise ValueError(f"--language must name a hard language ({', '.join(theory.SER_BOUNDS)}), e.g. "
                         f"pair-copy:symbols=4; {text!r} is {lang.spec or 'a language without a spec'}")
    return lang


def _searched_n_star(ser_at, args):
    """N*(L, delta) as the least N <= L with SER <= delta (fixed counts have no continuous inverse)."""
    lines = []
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
        res = theory.total_mutual_information(synth.from_spec(args.language), args.length, rng=args.seed)
        mi = res.nats
        lines.append(f"sum_i I(X_i; X_-i) = {res.nats:.6f} nats ({res.method}" +
                     (f", std. error {res.stderr:.2g})" if res.stderr else ")"))
    params = {"s_max": args.s_max, "length": args.length, "mutual_information": mi, "eps_train": args.eps_train}
    value = float(theory.LI_CAI_KL.evaluate(**params))
    lines.append(f"E_M KL(q || p_M) <= {value:.6f} nats  (factor 2^ceil(log2 s_max) - 1 = "
                 f"{2 ** int(np.ceil(np.log2(args.s_max))) - 1})")
    return theory.LI_CAI_KL, {**params, "bound": value}, lines
