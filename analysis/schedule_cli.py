r"""``mdmlab schedule LANGUAGE --length L --steps N``: the optimal counts for N steps and the exact
E_M KL(q || p_M) of every named schedule under a random position order (``theory.information``)."""
import numpy as np

from mdmlab import synth, theory
from mdmlab.analysis.cli import SUMMARIES
from mdmlab.models import schedules

NAMED = ("balanced", "balanced-back", "linear", "cosine", "loglinear")


def add_parsers(sub):
    p = sub.add_parser("schedule", help=SUMMARIES["schedule"], description=__doc__,
                       epilog="Example: mdmlab schedule ngram:order=2,vocab=4,concentration=0.2,seed=1 "
                              "--length 128 --steps 8")
    p.add_argument("spec", help="language spec (kind:key=value,...) or a saved language file")
    p.add_argument("--length", type=int, required=True, help="L, the sequence length")
    p.add_argument("--steps", type=int, nargs="+", required=True, help="N, one or more numbers of steps")
    p.add_argument("--samples", type=int, default=2048,
                   help="Monte Carlo strings per k when h_k is not exact (n >= 3, HMMs; default 2048)")
    p.add_argument("--seed", type=int, default=0, help="seed of the Monte Carlo estimate (default 0)")
    p.set_defaults(func=run)


def run(args):
    lang = synth.from_spec(args.spec)
    L = args.length
    if L < 1 or any(N < 1 or N > L for N in args.steps):
        raise ValueError(f"--length must be >= 1 and every --steps in [1, length = {L}], got L = {L}, "
                         f"N = {args.steps}")
    seeds = np.random.SeedSequence(args.seed).spawn(2)
    curve = theory.information_curve(lang, L, samples=args.samples, rng=np.random.default_rng(seeds[0]))
    # a Monte Carlo optimum is chosen on noisy values: its KL is read off an independent estimate
    judge = curve if curve.method != "monte-carlo" else theory.information_curve(
        lang, L, samples=args.samples, rng=np.random.default_rng(seeds[1]))
    print(f"{args.spec}, L = {L}: h_k by {curve.method}"
          + (f" ({curve.samples} strings; counts chosen on one estimate, KL read off an independent one)"
             if curve.samples else " (exact)")
          + f"; h_0 = {curve.h[0]:.4f}, h_(L-1) = {curve.h[-1]:.4f} nats")
    print("E_M KL(q || p_M) in nats, random position order (the identity sum_t c(r_t, s_t); derived here)")
    for N in args.steps:
        counts, _ = theory.optimal_counts(curve, N)
        print(f"\nN = {N}: optimal counts {counts.tolist()}")
        print(f"  {'optimal':<14} {_fmt(theory.expected_kl(judge, counts))}")
        for name in NAMED:
            print(f"  {name:<14} {_fmt(_named(judge, name, L, N))}")
    return 0


def _named(curve, name, L, N):
    plan = schedules.resolve(name, L, N)
    return theory.expected_kl(curve, plan.counts) if plan.kind == "fixed" else theory.expected_kl(curve, schedule=plan)


def _fmt(kl):
    return f"{kl.nats:10.4f}" + (f" +- {1.96 * kl.stderr:.4f} (95%)" if kl.stderr else "")
