r"""``mdmlab languages``, ``sample``, ``sweep``, ``train`` and ``report``: argument parsers and handlers."""
import os
import sys

import numpy as np

from mdmlab import models
from mdmlab import synth
from mdmlab.analysis._argtypes import (check_readable_file, check_writable_dir, float_in, int_at_least, nonneg_int,
                                      path_arg, positive_float, positive_int)
from mdmlab.analysis.cli import SUMMARIES
from mdmlab.models import POLICIES, SCHEDULES

_COLOURS = ["\033[38;5;{}m".format(c) for c in (196, 208, 226, 46, 51, 33, 93, 201)]


def add_parsers(sub):
    lang = sub.add_parser("languages", help=SUMMARIES["languages"],
                          epilog="Example: mdmlab languages ngram:order=3,vocab=8,sparsity=0.5,seed=1 --save lang.npz")
    lang.add_argument("spec", help=f"language spec ({', '.join(synth.LANGUAGE_KINDS)}: kind:key=value,...) "
                                      f"or a saved file")
    lang.add_argument("--length", type=positive_int, default=64, help="L for the entropy and mutual information shown")
    lang.add_argument("--save", metavar="FILE", type=path_arg, help="write the language to FILE")
    lang.set_defaults(func=_languages)

    smp = sub.add_parser("sample", help=SUMMARIES["sample"],
                         epilog="Example: mdmlab sample pair-copy:symbols=4 --length 24 --steps 6 --size 4")
    smp.add_argument("spec")
    smp.add_argument("--length", type=positive_int, default=32)
    smp.add_argument("--steps", type=positive_int, default=8)
    smp.add_argument("--size", type=positive_int, default=4)
    smp.add_argument("--schedule", default="linear", choices=list(SCHEDULES))
    smp.add_argument("--policy", default="random", choices=list(POLICIES))
    smp.add_argument("--block-length", type=positive_int)
    smp.add_argument("--seed", type=nonneg_int, default=0)
    smp.add_argument("--no-colour", action="store_true", help="print reveal steps as numbers instead of colours")
    smp.add_argument("--sampler", metavar="NAME:KEY=VALUE,...",
                     help="a peer sampler preset (mdlm, llada, dream; models.presets), e.g. llada:steps=8,block_length=8;"
                          " replaces --steps, --schedule, --policy and --block-length")
    smp.set_defaults(func=_sample)

    swp = sub.add_parser("sweep", help=SUMMARIES["sweep"],
                         epilog="Example: mdmlab sweep --language pair-copy:symbols=4 --length 16 64 256 "
                                "--steps-per-length 0.125 0.5 1 --out runs/pair")
    swp.add_argument("--language", nargs="+", required=True, help="language specs or files")
    swp.add_argument("--length", type=positive_int, nargs="+", required=True)
    swp.add_argument("--steps", type=positive_int, nargs="*", default=[])
    swp.add_argument("--steps-per-length", type=positive_float, nargs="*", default=[])
    swp.add_argument("--schedule", nargs="+", default=["linear"], choices=list(SCHEDULES))
    swp.add_argument("--policy", nargs="+", default=["random"], choices=list(POLICIES))
    swp.add_argument("--seeds", type=positive_int, default=1, help="replicates per cell")
    swp.add_argument("--samples", type=int_at_least(2), default=256, help="draws per cell (per batch with --target-ci)")
    swp.add_argument("--target-ci", type=float_in(0.0, 1.0),
                     help="draw until SER CI half-width and TER s.e. are <= this")
    swp.add_argument("--max-samples", type=int_at_least(2), default=16384)
    swp.add_argument("--kl", action="store_true", help="also E_M KL(q || p_M) and the Li & Cai bound")
    swp.add_argument("--base-seed", type=nonneg_int, default=0)
    swp.add_argument("--workers", type=positive_int, default=None,
                     help="processes (default: all cores; capped at the cells to run and the cores)")
    swp.add_argument("--out", type=path_arg, required=True)
    swp.add_argument("--fresh", action="store_true", help="recompute every cell instead of reusing finished ones")
    swp.add_argument("--scheduler", metavar="ADDRESS",
                     help="run the cells on Dask instead of the local pool: 'local' or 'local:N' starts a "
                          "LocalCluster of N workers here, 'tcp://HOST:8786' uses a running scheduler (needs "
                          "dask.distributed; results are identical to a local run)")
    swp.set_defaults(func=_sweep)

    trn = sub.add_parser("train", help=SUMMARIES["train"],
                         epilog="Example: mdmlab train --language ngram:order=3,vocab=8,sparsity=0.5,seed=1 "
                                "--length 64 --minutes 10 --out runs/denoiser")
    trn.add_argument("--language", required=True)
    trn.add_argument("--length", type=positive_int, default=64)
    trn.add_argument("--steps", type=positive_int, default=2000, help="optimiser steps (the cosine schedule's length)")
    trn.add_argument("--minutes", type=positive_float, help="also stop after this much wall-clock time")
    trn.add_argument("--batch-size", type=positive_int, default=32)
    trn.add_argument("--lr", type=float_in(0.0, 1.0), default=3e-3, help="peak learning rate, in (0, 1]")
    trn.add_argument("--layers", type=positive_int, default=2)
    trn.add_argument("--heads", type=positive_int, default=4)
    trn.add_argument("--width", type=positive_int, default=64)
    trn.add_argument("--objective", default="masked-mean", choices=["masked-mean", "elbo"],
                     help="masked-token mean cross-entropy, or the 1/t-weighted ELBO (see models.training)")
    trn.add_argument("--eval-every", type=positive_int, default=100)
    trn.add_argument("--seed", type=nonneg_int, default=0)
    trn.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    trn.add_argument("--out", type=path_arg, required=True, help="folder for checkpoint.pt and history.csv")
    trn.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    trn.set_defaults(func=_train)

    rep = sub.add_parser("report", help=SUMMARIES["report"],
                         epilog="Example: mdmlab report --preset quick --out reports/quick")
    rep.add_argument("--preset", default="quick", choices=["quick", "full", "samplers"],
                     help="samplers: the peers' samplers (models.presets) on exact languages, its own report")
    rep.add_argument("--out", type=path_arg, required=True)
    rep.add_argument("--workers", type=positive_int, default=None)
    rep.add_argument("--denoiser", metavar="CHECKPOINT", type=path_arg,
                     help="a checkpoint of mdmlab train: adds the learned-vs-exact denoiser section")
    rep.set_defaults(func=_report)


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
    lang = synth.from_spec(args.spec)
    if args.sampler:  # a named peer sampler (models.presets); its steps replace --steps
        kwargs = models.presets.from_spec(args.sampler)
        args.steps, args.schedule, args.policy = kwargs["steps"], args.sampler, kwargs["policy"]
        res = models.sample(lang, args.length, size=args.size, rng=args.seed, **kwargs)
        args.steps = res.counts.shape[-1]  # a final greedy step is step N
    else:
        res = models.sample(lang, args.length, args.steps, size=args.size, schedule=args.schedule,
                            policy=args.policy, block_length=args.block_length, rng=args.seed)
    colour = sys.stdout.isatty() and not args.no_colour and "NO_COLOR" not in os.environ
    ok = lang.in_support(res.tokens)
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


def _sweep(args):
    from mdmlab.analysis.sweep import SweepConfig, run_sweep

    if not args.steps and not args.steps_per_length:
        raise ValueError("give --steps and/or --steps-per-length")
    cfg = SweepConfig(languages=tuple(args.language), lengths=tuple(args.length), steps=tuple(args.steps),
                      steps_per_length=tuple(args.steps_per_length), schedules=tuple(args.schedule),
                      policies=tuple(args.policy), seeds=args.seeds, samples=args.samples, target_ci=args.target_ci,
                      max_samples=args.max_samples, kl=args.kl, base_seed=args.base_seed)
    for spec in cfg.languages:
        synth.from_spec(spec)  # fail fast on a bad spec, before any worker starts
    if not cfg.cells():
        raise ValueError(f"the grid has no cell: every N from --steps/--steps-per-length exceeds its L "
                         f"(--length {' '.join(map(str, cfg.lengths))})")
    check_writable_dir("--out", args.out)
    table = run_sweep(cfg, args.out, workers=args.workers, fresh=args.fresh, scheduler=args.scheduler)
    print(f"{len(table)} cells in {os.path.join(args.out, 'results.csv')}")
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
    from mdmlab.analysis.report import make_report

    if args.denoiser is not None:  # checked before the sweeps run, not after them
        from mdmlab.models.training import load_denoiser

        check_readable_file("--denoiser", args.denoiser)
        load_denoiser(args.denoiser)
    check_writable_dir("--out", args.out)
    if args.preset == "samplers":  # issue 11: analysis/samplers_report.py, no verdict table
        make_report("samplers", args.out, command="mdmlab " + " ".join(sys.argv[1:]))
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
