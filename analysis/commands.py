r"""``mdmlab languages``, ``sample``, ``sweep``, ``train`` and ``report``: argument parsers and handlers."""
import os
import sys

import numpy as np

from mdmlab import models
from mdmlab import synth
from mdmlab.analysis._argtypes import (check_readable_file, check_writable_dir, float_in, nonneg_int, path_arg,
                                      policy_arg, positive_float, positive_int)
from mdmlab.analysis import sweep_cli
from mdmlab.analysis._deprecated import add_alias
from mdmlab.analysis.cli import SUMMARIES
from mdmlab.models import POLICIES, SCHEDULES

GIF_MAX_LENGTH = 64  # one cell per token: a longer sample makes an unreadable (and slow) animation
_COLOURS = ["\033[38;5;{}m".format(c) for c in (196, 208, 226, 46, 51, 33, 93, 201)]


def add_parsers(sub):
    lang = sub.add_parser("languages", help=SUMMARIES["languages"],
                          epilog="Example: mdmlab languages ngram:order=3,vocab=8,sparsity=0.5,seed=1 --save lang.npz"
                                 + help_epilog())
    lang.add_argument("spec", help=f"language spec ({', '.join(synth.LANGUAGE_KINDS)}: kind:key=value,...) "
                                      f"or a saved file")
    lang.add_argument("--length", type=positive_int, default=64, help="L for the entropy and mutual information shown")
    lang.add_argument("--save", metavar="FILE", type=path_arg, help="write the language to FILE (.npz or .json)")
    lang.set_defaults(func=_languages)

    smp = sub.add_parser("sample", help=SUMMARIES["sample"],
                         epilog="Example: mdmlab sample pair-copy:symbols=4 --length 24 --steps 6 --samples 4 --frames"
                                + help_epilog())
    smp.add_argument("spec", help="language spec (kind:key=value,...; kinds and keys below) or a saved language file")
    smp.add_argument("--length", type=positive_int, default=32, help="L, tokens per sample")
    smp.add_argument("--steps", type=positive_int, default=8, help="N, sampling steps")
    smp.add_argument("--samples", dest="size", metavar="SAMPLES", type=positive_int, default=4,
                     help="number of samples (was --size)")
    add_alias(smp, "--size", "--samples", type=positive_int)
    smp.add_argument("--schedule", default="linear", choices=[*SCHEDULES, "natural"],
                     help="how many tokens each step reveals ('natural': a structured order's own counts)")
    smp.add_argument("--policy", default="random", type=policy_arg(list(POLICIES)), metavar="POLICY",
                     help=f"which masked positions a step reveals: {', '.join(POLICIES)}, or a structured order "
                          f"binary-search, runs:M, dilated[:S] (models.orders)")
    smp.add_argument("--block-length", type=positive_int,
                     help="semi-autoregressive blocks of this many positions (default: none, one block of L)")
    smp.add_argument("--seed", type=nonneg_int, default=0, help="seed of the sampler's random numbers")
    smp.add_argument("--no-colour", action="store_true", help="print reveal steps as numbers instead of colours")
    smp.add_argument("--sampler", metavar="NAME:KEY=VALUE,...",
                     help="a peer sampler preset (mdlm, llada, dream; models.presets), e.g. llada:steps=8,block_length=8;"
                          " replaces --steps, --schedule, --policy and --block-length (default: none)")
    smp.add_argument("--frames", action="store_true",
                     help="print each sample's reveal step by step (new tokens marked, log q, where it left the support)")
    smp.add_argument("--gif", metavar="FILE", type=path_arg,
                     help=f"write the first sample's reveal as an animated GIF (L <= {GIF_MAX_LENGTH})")
    smp.set_defaults(func=_sample)

    swp = sub.add_parser("sweep", help=SUMMARIES["sweep"],
                         epilog="Example: mdmlab sweep --language pair-copy:symbols=4 --length 16 64 256 "
                                "--steps-per-length 0.125 0.5 1 --out runs/pair" + help_epilog())
    sweep_cli.add_options(swp, SCHEDULES, POLICIES)  # also --config, --from, --dry-run, --calibrate

    trn = sub.add_parser("train", help=SUMMARIES["train"],
                         epilog="Example: mdmlab train --language ngram:order=3,vocab=8,sparsity=0.5,seed=1 "
                                "--length 64 --minutes 10 --out runs/denoiser")
    trn.add_argument("--language", required=True, help="language spec or file")
    trn.add_argument("--length", type=positive_int, default=64, help="L, tokens per training sequence")
    trn.add_argument("--train-steps", dest="steps", type=positive_int, default=2000,
                     help="optimiser steps, the cosine schedule's length (was --steps)")
    add_alias(trn, "--steps", "--train-steps", type=positive_int)
    trn.add_argument("--minutes", type=positive_float, help="also stop after this much wall-clock time (default: no limit)")
    trn.add_argument("--batch-size", type=positive_int, default=32, help="sequences per optimiser step")
    trn.add_argument("--lr", type=float_in(0.0, 1.0), default=3e-3, help="peak learning rate, in (0, 1]")
    trn.add_argument("--layers", type=positive_int, default=2, help="transformer blocks")
    trn.add_argument("--heads", type=positive_int, default=4, help="attention heads per block")
    trn.add_argument("--width", type=positive_int, default=64, help="embedding width")
    trn.add_argument("--objective", default="masked-mean", choices=["masked-mean", "elbo"],
                     help="masked-token mean cross-entropy, or the 1/t-weighted ELBO (see models.training)")
    trn.add_argument("--eval-every", type=positive_int, default=100, help="optimiser steps between eps_learning evaluations")
    trn.add_argument("--seed", type=nonneg_int, default=0, help="seed of the data, masks and initial weights")
    trn.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    trn.add_argument("--out", type=path_arg, required=True, help="folder for checkpoint.pt and history.csv")
    trn.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    trn.set_defaults(func=_train)

    rep = sub.add_parser("report", help=SUMMARIES["report"],
                         epilog="Example: mdmlab report --preset quick --out reports/quick")
    rep.add_argument("--preset", default="quick", choices=["quick", "full", "samplers", "schedules"],
                     help="quick/full: the verdicts; samplers: the peers' samplers (models.presets) on exact "
                          "languages; schedules: exact E_M KL of random-order schedules and the optimal counts")
    rep.add_argument("--sweep", nargs="+", metavar="DIR",
                     help="report on these sweep / n-star folders instead of running a preset (default: none)")
    rep.add_argument("--out", type=path_arg, required=True, help="folder for REPORT.md, tables, figures and sweeps/")
    rep.add_argument("--workers", type=positive_int, default=None, help="processes (default: all cores)")
    rep.add_argument("--denoiser", metavar="CHECKPOINT", type=path_arg,
                     help="a checkpoint of mdmlab train: adds the learned-vs-exact denoiser section (default: none)")
    rep.set_defaults(func=_report)


#: the metrics of a sweep row (and of the theory), with their units: the glossary of ``--help``.
GLOSSARY = {
    "TER": "log_ter: E_{x~p}[-log q(x)] / L, nats per token (inf once a sample is outside the support)",
    "ter_gap": "TER - H(q)/L, nats per token: the excess over the language's own entropy rate",
    "SER": "P_{x~p}[q(x) = 0], a fraction in [0, 1]: samples outside the support (Clopper-Pearson interval)",
    "N*": "least N with SER <= delta (or E_M KL / L <= eps), in sampling steps, with its interval",
    "NFE": "denoiser calls per sample (function evaluations)",
    "s_max": "most tokens revealed in one step (tokens)",
    "kl_q_pm": "E_M KL(q || p_M), nats per sequence (Li & Cai's left side; --kl, random policy)",
    "kl_pm_q": "E[log p_M(x) - log q(x)] over the sampler's outputs, nats per sequence (inf outside the support)",
}


def help_epilog():
    r"""The language kinds with their keys and the metric glossary, as lines for an epilog."""
    kinds = [f"  {kind}: {keys}" for kind, keys in synth.describe_kinds().items()]
    terms = [f"  {name:<8} {text}" for name, text in GLOSSARY.items()]
    return ("\n\nlanguage kinds (kind:key=value,...; or the path of a saved .npz / .json language):\n"
            + "\n".join(kinds) + "\n\nmetrics:\n" + "\n".join(terms))


def _languages(args):
    from mdmlab.theory import total_mutual_information

    lang = synth.from_spec(args.spec)
    h = lang.entropy(args.length, rng=0)
    mi = total_mutual_information(lang, args.length, rng=0)
    print(f"{lang!r}")
    print(f"spec: {lang.spec if lang.spec is not None else 'none (built by hand)'}")
    print(f"H(X_1:{args.length}) / L = {h.nats / args.length:.6f} nats/token ({h.method})")
    print(f"sum_i I(X_i; X_-i) at L = {args.length}: {mi.nats:.6f} nats ({mi.method})")
    print("sample:", " ".join(map(str, lang.sample(min(args.length, 40), rng=0))))
    if args.save:
        lang.save(args.save)
        print(f"saved to {args.save}")
    return 0


def _sample(args):
    if args.gif and args.length > GIF_MAX_LENGTH:
        raise ValueError(f"--gif draws one cell per token: --length must be <= {GIF_MAX_LENGTH}, got {args.length}")
    if args.gif:
        check_writable_dir("--gif", os.path.dirname(os.path.abspath(args.gif)))
    lang = synth.from_spec(args.spec)
    if args.sampler:  # a named peer sampler (models.presets); its steps replace --steps
        kwargs = models.presets.from_spec(args.sampler)
        args.schedule, args.policy = args.sampler, kwargs["policy"]
        res = models.sample(lang, args.length, size=args.size, rng=args.seed, **kwargs)
        args.steps = res.counts.shape[-1]  # a final greedy step is step N
    else:
        res = models.sample(lang, args.length, args.steps, size=args.size, schedule=args.schedule,
                            policy=args.policy, block_length=args.block_length, rng=args.seed)
    colour = sys.stdout.isatty() and not args.no_colour and "NO_COLOR" not in os.environ
    ok = lang.in_support(res.tokens)
    if args.frames or args.gif:
        return _frames(args, lang, res, ok, colour)
    for b in range(args.size):
        if colour:
            line = " ".join(f"{_COLOURS[s * len(_COLOURS) // args.steps]}{t}\033[0m"
                            for t, s in zip(res.tokens[b], res.reveal_step[b]))
        else:
            line = " ".join(f"{t}@{s}" for t, s in zip(res.tokens[b], res.reveal_step[b]))
        print(f"{'ok ' if ok[b] else 'ERR'} {line}")
    print(f"(token@step, steps 0..{args.steps - 1}; {np.count_nonzero(~ok)} of {args.size} outside the support; "
          f"schedule {args.schedule}, policy {args.policy})")
    return 0


def _frames(args, lang, res, ok, colour):
    r"""``--frames``: each sample's reveal step by step; ``--gif``: the first sample's as an animation."""
    from mdmlab.analysis.frames import animate, render, reveal_frames

    alphabet = getattr(lang, "alphabet", None)
    runs = [reveal_frames(lang, res.tokens[b], res.reveal_step[b]) for b in range(args.size)]
    if args.frames:
        for b, frames in enumerate(runs):
            print(f"sample {b}: {'in the support' if ok[b] else 'outside the support'}")
            print(render(frames, alphabet=alphabet, colour=colour))
        print(f"(schedule {args.schedule}, policy {args.policy}; log q in nats)")
    if args.gif:
        animate(runs[0], args.gif, alphabet=alphabet)
        print(f"wrote {args.gif} ({len(runs[0])} frames, sample 0)")
    return 0


def _train(args):
    from mdmlab.models.denoiser import DenoiserConfig
    from mdmlab.models.training import TrainConfig, train

    lang = synth.from_spec(args.language)
    if args.device is not None:
        _check_device(args.device)
    model = DenoiserConfig(vocab_size=lang.vocab_size, length=args.length, n_layer=args.layers, n_head=args.heads,
                           n_embd=args.width)
    cfg = TrainConfig(language=args.language, length=args.length, model=model, batch_size=args.batch_size,
                      max_steps=args.steps, max_minutes=args.minutes, lr=args.lr, eval_every=args.eval_every,
                      seed=args.seed, objective=args.objective)
    if args.resume and not os.path.isfile(os.path.join(args.out, "checkpoint.pt")):
        raise ValueError(f"--resume needs a checkpoint at {os.path.join(args.out, 'checkpoint.pt')!r}, found none")
    check_writable_dir("--out", args.out)  # before training, not after it
    try:
        res = train(cfg, language=lang, out_dir=args.out, resume=args.resume, device=args.device)
    except KeyboardInterrupt:
        print(f"\ninterrupted: the last checkpoint is in {os.path.join(args.out, 'checkpoint.pt')}; "
              f"continue with the same command and --resume", file=sys.stderr)
        raise
    res.history.to_csv(os.path.join(args.out, "history.csv"), index=False)
    print(res.history.to_string(index=False))
    print(f"eps_learning = {res.eps_learning:.4f} nats per masked token; checkpoint {os.path.join(args.out, 'checkpoint.pt')}")
    return 0


def _report(args):
    if args.sweep:  # any sweep directories: analysis.sweep_report, no preset constants
        from mdmlab.analysis.sweep_report_cli import report_sweeps

        return report_sweeps(args)
    from mdmlab.analysis.report import make_report

    if args.denoiser is not None:  # checked before the sweeps run, not after them
        from mdmlab.models.training import load_denoiser

        check_readable_file("--denoiser", args.denoiser)
        load_denoiser(args.denoiser)
    check_writable_dir("--out", args.out)
    if args.preset in ("samplers", "schedules"):  # their own reports (issues 11 and 15), no verdict table
        make_report(args.preset, args.out, command="mdmlab " + " ".join(sys.argv[1:]))
        print(f"wrote {os.path.join(args.out, 'REPORT.md')}")
        return 0
    try:
        verdicts = make_report(args.preset, args.out, workers=args.workers, denoiser=args.denoiser)
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished cells are kept under {os.path.join(args.out, 'sweeps')}; "
              f"rerun the same command to resume", file=sys.stderr)
        raise
    print(verdicts[["claim", "language", "schedule", "verdict"]].to_string(index=False))
    print(f"wrote {os.path.join(args.out, 'REPORT.md')}")
    return 0


def _check_device(name):
    import torch

    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"--device must be cpu or cuda[:N], got {name!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {name!r}: CUDA is not available on this machine; use --device cpu")
