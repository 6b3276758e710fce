r"""The catalogue of bad inputs: every one ends in one clear error, never a traceback or a silent result.

Two tables, one expected error each: ``API`` (call, exception type, message regex) and ``CLI`` (argv,
message regex; exit status 2 and one line ``mdmlab CMD: error: ...``). Files they need (truncated,
corrupt or foreign language files and checkpoints) are made once per module under ``{d}``.
"""
import os
import re

import numpy as np
import pytest

from mdmlab import models
from mdmlab import synth
from mdmlab.analysis import cli
from mdmlab.analysis.sweep import SweepConfig, run_sweep

NG = synth.NGramLanguage.random(2, 3, sparsity=0.3, rng=1)
HMM = synth.HMMLanguage.random(3, 3, rng=2)
P2 = np.full((2, 2), 0.5)
I2 = np.eye(2)


@pytest.fixture(scope="module")
def d(tmp_path_factory):
    r"""A folder of bad files: ``good.npz``, ``trunc.npz``, ``empty.npz``, ``arr.npy``, ``nokind.npz``,
    ``badtable.npz``, ``object.npz``, ``a-file`` (a plain file, so ``a-file/x`` cannot be created), a
    tiny checkpoint ``ckpt/checkpoint.pt`` and its corrupt and truncated copies."""
    root = tmp_path_factory.mktemp("bad")
    NG.save(root / "good.npz")
    data = (root / "good.npz").read_bytes()
    (root / "trunc.npz").write_bytes(data[: len(data) // 2])
    (root / "empty.npz").write_bytes(b"")
    np.save(root / "arr.npy", np.zeros(3))
    np.savez(root / "nokind.npz", table=np.zeros(3))
    np.savez(root / "badtable.npz", kind="ngram", order=2, table=np.ones((3, 3)), initial=np.ones(3) / 3)
    np.savez(root / "object.npz", kind="ngram", order=np.array([object()], dtype=object))
    (root / "a-file").write_text("not a folder")
    code = cli.main(["train", "--language", "ngram:order=2,vocab=3,seed=1", "--length", "8", "--steps", "2",
                     "--layers", "1", "--heads", "2", "--width", "8", "--eval-every", "1", "--out",
                     str(root / "ckpt")])
    assert code == 0
    ckpt = (root / "ckpt" / "checkpoint.pt").read_bytes()
    os.makedirs(root / "flipped")
    flipped = bytearray(ckpt)
    flipped[len(flipped) // 2] ^= 0xFF
    (root / "flipped" / "checkpoint.pt").write_bytes(bytes(flipped))
    (root / "flipped" / "checkpoint.pt.sha256").write_bytes((root / "ckpt" / "checkpoint.pt.sha256").read_bytes())
    (root / "trunc.pt").write_bytes(ckpt[: len(ckpt) // 3])
    (root / "empty.pt").write_bytes(b"")
    return root


def _train_cfg(**kw):
    from mdmlab.models.denoiser import DenoiserConfig
    from mdmlab.models.training import TrainConfig

    base = dict(language="ngram:order=2,vocab=3,seed=1", length=8,
                model=DenoiserConfig(vocab_size=3, length=8, n_layer=1, n_head=2, n_embd=8), max_steps=2,
                eval_every=1)
    return TrainConfig(**{**base, **kw})


def _train(**kw):
    from mdmlab.models.training import train

    return train(_train_cfg(**kw), progress=False)


def _denoiser_cfg(**kw):
    from mdmlab.models.denoiser import DenoiserConfig

    return DenoiserConfig(**kw)


def _load_denoiser(path):
    from mdmlab.models.training import load_denoiser

    return load_denoiser(path)


def _resume(d, **kw):
    from mdmlab.models.training import train

    return train(_train_cfg(**kw), out_dir=str(d / "ckpt"), resume=True, progress=False)


SWEEP = SweepConfig(languages=("pair-copy:symbols=2",), lengths=(4,), steps=(2,), samples=8)
COMPLEX = np.array([[0.5 + 0j, 0.5], [0.5, 0.5]])

# (id, call taking the fixture folder d, exception type, regex the message must match)
API = [
    # n-gram constructor
    ("ngram-order-0", lambda d: synth.NGramLanguage(0, [1.0]), ValueError, r"order must be >= 1, got 0"),
    ("ngram-order-float", lambda d: synth.NGramLanguage(2.5, P2), TypeError, r"order must be an integer, got float"),
    ("ngram-order-bool", lambda d: synth.NGramLanguage(True, P2), TypeError, r"order must be an integer, got bool"),
    ("ngram-table-shape", lambda d: synth.NGramLanguage(2, np.ones((2, 3)) / 3), ValueError, r"table must have shape"),
    ("ngram-table-complex", lambda d: synth.NGramLanguage(2, COMPLEX), TypeError, r"table must be real.*complex"),
    ("ngram-table-sum", lambda d: synth.NGramLanguage(2, [[0.5, 0.6], [0.5, 0.5]]), ValueError,
     r"table must sum to one.*row \(0,\): 1\.1"),
    ("ngram-table-negative", lambda d: synth.NGramLanguage(2, [[1.5, -0.5], [0.5, 0.5]]), ValueError,
     r"table must be non-negative, got table\[\(0, 1\)\] = -0\.5"),
    ("ngram-table-nan", lambda d: synth.NGramLanguage(2, [[np.nan, 1], [0.5, 0.5]]), ValueError, r"table must be finite"),
    ("ngram-table-inf", lambda d: synth.NGramLanguage(2, [[np.inf, 1], [0.5, 0.5]]), ValueError, r"table must be finite"),
    ("ngram-table-strings", lambda d: synth.NGramLanguage(2, [["a", "b"], ["c", "d"]]), TypeError,
     r"table must be an array of real numbers"),
    ("ngram-table-objects", lambda d: synth.NGramLanguage(2, np.array([[None, 1], [0.5, 0.5]], dtype=object)),
     TypeError, r"table must be an array of real numbers, got dtype object"),
    ("ngram-initial-complex", lambda d: synth.NGramLanguage(2, P2, initial=[0.5 + 1j, 0.5]), TypeError,
     r"initial must be real.*complex"),
    ("ngram-initial-shape", lambda d: synth.NGramLanguage(2, P2, initial=[0.2, 0.3, 0.5]), ValueError,
     r"initial must have shape \(2,\), got \(3,\)"),
    ("ngram-initial-sum", lambda d: synth.NGramLanguage(2, P2, initial=[0.2, 0.3]), ValueError,
     r"initial must sum to one"),
    ("ngram-random-order", lambda d: synth.NGramLanguage.random(0, 3), ValueError, r"order must be >= 1"),
    ("ngram-random-vocab", lambda d: synth.NGramLanguage.random(2, 0), ValueError, r"vocab_size must be >= 1, got 0"),
    ("ngram-random-vocab-float", lambda d: synth.NGramLanguage.random(2, 3.0), TypeError, r"vocab_size must be an integer"),
    ("ngram-random-huge", lambda d: synth.NGramLanguage.random(20, 8), ValueError, r"would need .* GiB"),
    ("ngram-random-rng-str", lambda d: synth.NGramLanguage.random(2, 3, rng="x"), TypeError, r"rng must be None, an int"),
    ("ngram-random-rng-neg", lambda d: synth.NGramLanguage.random(2, 3, rng=-1), ValueError, r"rng must be .* got int -1"),
    ("ngram-random-sparsity", lambda d: synth.NGramLanguage.random(2, 3, sparsity=1.5), ValueError, r"sparsity"),
    ("ngram-random-concentration", lambda d: synth.NGramLanguage.random(2, 3, concentration=0), ValueError,
     r"concentration"),
    # HMM constructor
    ("hmm-emission-rows", lambda d: synth.HMMLanguage([0.5, 0.5], P2, np.ones((3, 2)) / 2), ValueError,
     r"^emission must have shape \(2, 2\), got \(3, 2\)"),
    ("hmm-emission-1d", lambda d: synth.HMMLanguage([0.5, 0.5], P2, [0.5, 0.5]), ValueError,
     r"emission must have shape \(K, V\)"),
    ("hmm-emission-complex", lambda d: synth.HMMLanguage([0.5, 0.5], P2, COMPLEX), TypeError, r"emission must be real"),
    ("hmm-emission-sum", lambda d: synth.HMMLanguage([0.5, 0.5], P2, [[0.5, 0.4], [0.5, 0.5]]), ValueError,
     r"emission must sum to one"),
    ("hmm-transition-shape", lambda d: synth.HMMLanguage([0.5, 0.5], np.ones((3, 3)) / 3, I2), ValueError,
     r"transition must have shape \(2, 2\), got \(3, 3\)"),
    ("hmm-transition-complex", lambda d: synth.HMMLanguage([0.5, 0.5], COMPLEX, I2), TypeError, r"transition must be real"),
    ("hmm-transition-sum", lambda d: synth.HMMLanguage([0.5, 0.5], [[0.9, 0.9], [0.5, 0.5]], I2), ValueError,
     r"transition must sum to one.*1\.8"),
    ("hmm-transition-negative", lambda d: synth.HMMLanguage([0.5, 0.5], [[1.1, -0.1], [0.5, 0.5]], I2), ValueError,
     r"transition must be non-negative"),
    ("hmm-initial-2d", lambda d: synth.HMMLanguage(P2, P2, I2), ValueError, r"initial must have shape \(K,\), got \(2, 2\)"),
    ("hmm-initial-sum", lambda d: synth.HMMLanguage([0.5, 0.6], P2, I2), ValueError, r"initial must sum to one"),
    ("hmm-initial-complex", lambda d: synth.HMMLanguage([0.5j, 0.5], P2, I2), TypeError, r"initial must be real"),
    ("hmm-initial-empty", lambda d: synth.HMMLanguage([], np.ones((0, 0)), np.ones((0, 2))), ValueError,
     r"initial must not be empty"),
    ("hmm-random-states", lambda d: synth.HMMLanguage.random(0, 3), ValueError, r"num_states must be >= 1"),
    ("hmm-random-vocab", lambda d: synth.HMMLanguage.random(3, -1), ValueError, r"vocab_size must be >= 1"),
    ("hmm-random-huge", lambda d: synth.HMMLanguage.random(2 ** 15, 2), ValueError, r"transition matrix.*GiB"),
    ("hmm-random-rng-float", lambda d: synth.HMMLanguage.random(3, 3, rng=1.5), TypeError, r"rng must be .* got float"),
    ("hmm-random-rng-bool", lambda d: synth.HMMLanguage.random(3, 3, rng=True), TypeError, r"rng must be .* got bool"),
    # sampling and inference
    ("sample-length-0", lambda d: NG.sample(0), ValueError, r"length must be >= 1, got 0"),
    ("sample-length-neg", lambda d: NG.sample(-4), ValueError, r"length must be >= 1, got -4"),
    ("sample-length-float", lambda d: NG.sample(2.0), TypeError, r"length must be an integer, got float"),
    ("sample-length-str", lambda d: NG.sample("8"), TypeError, r"length must be an integer, got str"),
    ("sample-size-neg", lambda d: NG.sample(4, size=-1), ValueError, r"size must be >= 0, got -1"),
    ("sample-size-str", lambda d: NG.sample(4, size="a"), TypeError, r"size must be None, an int or a tuple"),
    ("sample-size-float", lambda d: NG.sample(4, size=2.5), TypeError, r"size must be None, an int or a tuple"),
    ("sample-size-tuple-neg", lambda d: NG.sample(4, size=(2, -1)), ValueError, r"size must be >= 0"),
    ("sample-rng-str", lambda d: NG.sample(4, rng="seed"), TypeError, r"rng must be None, an int"),
    ("sample-rng-object", lambda d: NG.sample(4, rng=object()), TypeError, r"rng must be .* got object"),
    ("sample-rng-bool", lambda d: NG.sample(4, rng=False), TypeError, r"rng must be .* got bool"),
    ("sample-rng-neg", lambda d: NG.sample(4, rng=-3), ValueError, r"rng must be .* got int -3"),
    ("sample-rng-list-neg", lambda d: NG.sample(4, rng=[1, -2]), TypeError, r"rng must be .* got list"),
    ("hmm-sample-rng", lambda d: HMM.sample(4, rng="x"), TypeError, r"rng must be None"),
    ("log-prob-token-high", lambda d: NG.log_prob([0, 5]), ValueError, r"x must hold token ids in \[0, 3\).*x\[\(1,\)\] = 5"),
    ("log-prob-token-neg", lambda d: NG.log_prob([0, -2]), ValueError, r"x must hold token ids.*= -2"),
    ("log-prob-float", lambda d: NG.log_prob([0.5, 1]), TypeError, r"x must be an integer array.*float64"),
    ("log-prob-bool", lambda d: NG.log_prob([True, False]), TypeError, r"x must be an integer array.*bool"),
    ("log-prob-complex", lambda d: NG.log_prob([1j, 0]), TypeError, r"x must be an integer array.*complex"),
    ("log-prob-empty", lambda d: NG.log_prob([]), TypeError, r"x must be an integer array"),
    ("log-prob-empty-int", lambda d: NG.log_prob(np.zeros(0, dtype=int)), ValueError, r"x must have length L >= 1"),
    ("log-prob-zero-batch", lambda d: NG.log_prob(np.zeros((0, 4), dtype=int)), ValueError, r"x is empty"),
    ("log-prob-scalar", lambda d: NG.log_prob(np.int64(3)), ValueError, r"x must have at least one dimension"),
    ("hmm-log-prob-token", lambda d: HMM.log_prob([[0, 1], [3, 0]]), ValueError, r"x\[\(1, 0\)\] = 3"),
    ("conditionals-token", lambda d: NG.conditionals([0, 9]), ValueError, r"x must hold token ids"),
    ("conditionals-impossible-arg", lambda d: NG.conditionals([0, -1], impossible="skip"), ValueError,
     r"impossible must be 'raise' or 'uniform', got 'skip'"),
    ("leave-one-out-mask", lambda d: NG.leave_one_out([0, -1]), ValueError, r"no MASK allowed"),
    ("in-support-token", lambda d: HMM.in_support([7]), ValueError, r"x must hold token ids"),
    ("entropy-length-0", lambda d: NG.entropy(0), ValueError, r"length must be >= 1, got 0"),
    ("hmm-entropy-samples", lambda d: HMM.entropy(30, samples=1), ValueError, r"samples must be >= 2, got 1"),
    ("hmm-entropy-enum", lambda d: HMM.entropy(3, max_enumeration=0), ValueError, r"max_enumeration must be >= 1"),
    # specs and files
    ("spec-unknown-kind", lambda d: synth.from_spec("nope:x=1"), ValueError, r"unknown kind 'nope'"),
    ("spec-unknown-key", lambda d: synth.from_spec("ngram:order=3,vocab=8,bogus=1"), ValueError, r"bogus"),
    ("spec-bad-value", lambda d: synth.from_spec("ngram:order=x,vocab=3"), ValueError, r"order"),
    ("spec-zero-states", lambda d: synth.from_spec("hmm:states=0,vocab=3"), ValueError, r"states|num_states"),
    ("spec-pair-copy-0", lambda d: synth.from_spec("pair-copy:symbols=0"), ValueError, r"symbols"),
    ("spec-block-0", lambda d: synth.from_spec("block-copy:symbols=2,block=0"), ValueError, r"block"),
    ("spec-missing-file", lambda d: synth.from_spec(str(d / "missing.npz")), ValueError, r"no such file"),
    ("spec-colon-missing-file", lambda d: synth.from_spec(str(d / "a:b.npz")), ValueError, r"no such file"),
    ("file-truncated", lambda d: synth.from_spec(str(d / "trunc.npz")), ValueError, r"not a saved mdmlab language"),
    ("file-empty", lambda d: synth.from_spec(str(d / "empty.npz")), ValueError, r"not a saved mdmlab language"),
    ("file-npy", lambda d: synth.from_spec(str(d / "arr.npy")), ValueError, r"not a saved mdmlab language"),
    ("file-no-kind", lambda d: synth.from_spec(str(d / "nokind.npz")), ValueError, r"kind None"),
    ("file-bad-table", lambda d: synth.from_spec(str(d / "badtable.npz")), ValueError, r"table must sum to one"),
    ("file-object-array", lambda d: synth.from_spec(str(d / "object.npz")), ValueError, r"not a saved mdmlab language"),
    ("load-truncated", lambda d: synth.load(d / "trunc.npz"), ValueError, r"not a saved mdmlab language"),
    ("load-missing", lambda d: synth.load(d / "missing.npz"), FileNotFoundError, r"missing\.npz"),
    # the sampler
    ("models-length-0", lambda d: models.sample(NG, 0, 1), ValueError, r"length must be >= 1"),
    ("models-steps-0", lambda d: models.sample(NG, 8, 0), ValueError, r"steps must be >= 1"),
    ("models-steps-float", lambda d: models.sample(NG, 8, 2.0), TypeError, r"steps must be an integer"),
    ("models-size-neg", lambda d: models.sample(NG, 8, 2, size=-1), ValueError, r"size must be >= 0"),
    ("models-schedule", lambda d: models.sample(NG, 8, 2, schedule="bogus"), ValueError, r"schedule.*bogus"),
    ("models-policy", lambda d: models.sample(NG, 8, 2, policy="bogus"), ValueError, r"policy.*bogus"),
    ("models-block-length-0", lambda d: models.sample(NG, 8, 2, block_length=0), ValueError, r"block_length"),
    ("models-method", lambda d: models.sample(NG, 8, 2, method="bogus"), ValueError, r"method.*bogus"),
    ("models-tree-adaptive", lambda d: models.sample(NG, 8, 2, policy="confidence", method="tree"), ValueError,
     r"static policy"),
    ("models-rng-str", lambda d: models.sample(NG, 8, 2, rng="x"), TypeError, r"rng must be None, an int"),
    ("models-rng-neg", lambda d: models.sample(NG, 8, 2, rng=-5), ValueError, r"rng must be .* got int -5"),
    ("models-tree-memory", lambda d: models.sample(synth.HMMLanguage.random(64, 2, rng=0), 2 ** 17, 2 ** 17,
                                                   method="tree", rng=0), ValueError, r"segment tree.*GiB"),
    ("models-denoiser-type", lambda d: models.sample(object(), 8, 2), TypeError, r"denoiser"),
    ("models-counts-sum", lambda d: models.sample(NG, 8, 2, schedule=[3, 3]), ValueError, r"sum|count"),
    # the torch denoiser and training
    ("denoiser-vocab-0", lambda d: _denoiser_cfg(vocab_size=0), ValueError, r"vocab_size must be >= 1, got 0"),
    ("denoiser-heads-0", lambda d: _denoiser_cfg(n_head=0), ValueError, r"n_head must be >= 1, got 0"),
    ("denoiser-layers-neg", lambda d: _denoiser_cfg(n_layer=-1), ValueError, r"n_layer must be >= 1, got -1"),
    ("denoiser-width-divisible", lambda d: _denoiser_cfg(n_embd=10, n_head=4), ValueError, r"n_embd must be divisible"),
    ("denoiser-head-size-odd", lambda d: _denoiser_cfg(n_embd=12, n_head=4), ValueError, r"head size .* must be even"),
    ("denoiser-dropout", lambda d: _denoiser_cfg(dropout=1.5), ValueError, r"dropout must be a number in \[0, 1\)"),
    ("denoiser-length-float", lambda d: _denoiser_cfg(length=2.0), TypeError, r"length must be an integer"),
    ("train-steps-0", lambda d: _train(max_steps=0), ValueError, r"TrainConfig.max_steps must be >= 1, got 0"),
    ("train-batch-0", lambda d: _train(batch_size=0), ValueError, r"TrainConfig.batch_size must be >= 1, got 0"),
    ("train-lr-huge", lambda d: _train(lr=1e6), ValueError, r"TrainConfig.lr must be .* got 1000000\.0"),
    ("train-lr-nan", lambda d: _train(lr=float("nan")), ValueError, r"TrainConfig.lr must be a finite number"),
    ("train-lr-zero", lambda d: _train(lr=0.0), ValueError, r"TrainConfig.lr must be"),
    ("train-eval-every-0", lambda d: _train(eval_every=0), ValueError, r"TrainConfig.eval_every must be >= 1"),
    ("train-length-float", lambda d: _train(length=8.0), TypeError, r"TrainConfig.length must be an integer"),
    ("train-objective", lambda d: _train(objective="mse"), ValueError, r"objective must be one of"),
    ("train-mask-ratio", lambda d: _train(min_mask_ratio=0.0), ValueError, r"TrainConfig.min_mask_ratio"),
    ("train-max-minutes", lambda d: _train(max_minutes=-1.0), ValueError, r"TrainConfig.max_minutes"),
    ("train-length-vs-model", lambda d: _train(length=16), ValueError, r"length = 16 exceeds the model's length 8"),
    ("train-resume-none", lambda d: __import__("mdmlab.models.training", fromlist=["train"]).train(
        _train_cfg(), out_dir=str(d / "nothing"), resume=True, progress=False), ValueError, r"needs a checkpoint"),
    ("train-resume-other-lr", lambda d: _resume(d, lr=0.01), ValueError, r"other settings \(lr: checkpoint 0\.003, now 0\.01"),
    ("train-resume-other-language", lambda d: _resume(d, language="ngram:order=2,vocab=3,seed=2"), ValueError,
     r"other settings \(language: checkpoint"),
    ("train-resume-other-steps", lambda d: _resume(d, max_steps=5), ValueError, r"max_steps: checkpoint 2, now 5"),
    ("checkpoint-missing", lambda d: _load_denoiser(d / "missing.pt"), ValueError, r"does not exist"),
    ("checkpoint-truncated", lambda d: _load_denoiser(d / "trunc.pt"), ValueError, r"not a readable mdmlab checkpoint"),
    ("checkpoint-empty", lambda d: _load_denoiser(d / "empty.pt"), ValueError, r"not a readable mdmlab checkpoint"),
    ("checkpoint-npz", lambda d: _load_denoiser(d / "good.npz"), ValueError, r"checkpoint"),
    ("checkpoint-flipped", lambda d: _load_denoiser(d / "flipped" / "checkpoint.pt"), ValueError,
     r"is corrupt: its sha256 differs"),
    ("checkpoint-folder", lambda d: _load_denoiser(d / "ckpt"), ValueError, r"does not exist \(or is not a file\)"),
    # sweeps
    ("sweep-out-empty", lambda d: run_sweep(SWEEP, "", progress=False), ValueError, r"out_dir must name a folder"),
    ("sweep-workers-0", lambda d: run_sweep(SWEEP, d / "sw", workers=0, progress=False), ValueError,
     r"workers must be >= 1, got 0"),
    ("sweep-out-under-file", lambda d: run_sweep(SWEEP, d / "a-file" / "x", progress=False), OSError, r"a-file"),
]

# (id, argv with {d} for the fixture folder, regex for the text after 'mdmlab CMD: error: ')
LANG = "pair-copy:symbols=2"
SW = ["sweep", "--language", LANG, "--out", "{d}/sweep-never"]
TR = ["train", "--language", "ngram:order=2,vocab=3,seed=1", "--out", "{d}/train-never"]
CLI = [
    # sweep: numbers refused before any work
    ("sweep-length-0", SW + ["--length", "0", "--steps", "1"], r"argument --length: must be an integer >= 1, got '0'"),
    ("sweep-length-neg", SW + ["--length", "-3", "--steps", "1"], r"argument --length: (must be|expected)"),
    ("sweep-length-word", SW + ["--length", "x", "--steps", "1"], r"argument --length: must be an integer, got 'x'"),
    ("sweep-length-float", SW + ["--length", "4.5", "--steps", "1"], r"argument --length: must be an integer, got '4.5'"),
    ("sweep-steps-0", SW + ["--length", "4", "--steps", "0"], r"argument --steps: must be an integer >= 1, got '0'"),
    ("sweep-spl-neg", SW + ["--length", "4", "--steps-per-length", "-0.5"],
     r"argument --steps-per-length: must be a number in \(0, inf\), got '-0.5'"),
    ("sweep-spl-0", SW + ["--length", "4", "--steps-per-length", "0"], r"argument --steps-per-length: must be a number"),
    ("sweep-spl-nan", SW + ["--length", "4", "--steps-per-length", "nan"], r"argument --steps-per-length: must be a finite"),
    ("sweep-spl-inf", SW + ["--length", "4", "--steps-per-length", "inf"], r"argument --steps-per-length: must be a finite"),
    ("sweep-seeds-0", SW + ["--length", "4", "--steps", "1", "--seeds", "0"], r"argument --seeds: must be an integer >= 1"),
    ("sweep-samples-0", SW + ["--length", "4", "--steps", "1", "--samples", "0"], r"argument --samples: must be an integer >= 2"),
    ("sweep-samples-1", SW + ["--length", "4", "--steps", "1", "--samples", "1"], r"argument --samples: must be an integer >= 2"),
    ("sweep-target-ci-neg", SW + ["--length", "4", "--steps", "1", "--target-ci", "-1"],
     r"argument --target-ci: must be a number in \(0, 1\], got '-1'"),
    ("sweep-target-ci-0", SW + ["--length", "4", "--steps", "1", "--target-ci", "0"], r"argument --target-ci"),
    ("sweep-target-ci-2", SW + ["--length", "4", "--steps", "1", "--target-ci", "2"], r"argument --target-ci"),
    ("sweep-max-samples-0", SW + ["--length", "4", "--steps", "1", "--max-samples", "0"], r"argument --max-samples"),
    ("sweep-base-seed-neg", SW + ["--length", "4", "--steps", "1", "--base-seed", "-1"],
     r"argument --base-seed: must be an integer >= 0"),
    ("sweep-workers-0", SW + ["--length", "4", "--steps", "1", "--workers", "0"], r"argument --workers: must be an integer >= 1"),
    ("sweep-workers-neg", SW + ["--length", "4", "--steps", "1", "--workers", "-2"], r"argument --workers"),
    ("sweep-out-empty", ["sweep", "--language", LANG, "--length", "4", "--steps", "1", "--out", ""],
     r"argument --out: must be a non-empty path, got ''"),
    ("sweep-out-blank", ["sweep", "--language", LANG, "--length", "4", "--steps", "1", "--out", "  "],
     r"argument --out: must be a non-empty path"),
    ("sweep-schedule", SW + ["--length", "4", "--steps", "1", "--schedule", "bogus"], r"argument --schedule: invalid choice"),
    ("sweep-policy", SW + ["--length", "4", "--steps", "1", "--policy", "bogus"],
     r"argument --policy: must be one of random.*got .bogus."),
    ("sweep-no-steps", SW + ["--length", "4"], r"give --steps and/or --steps-per-length"),
    ("sweep-empty-grid", SW + ["--length", "4", "--steps", "8"], r"the grid has no cell"),
    ("sweep-bad-kind", ["sweep", "--language", "nope:x=1", "--length", "4", "--steps", "1", "--out", "{d}/s"],
     r"unknown kind 'nope'"),
    ("sweep-bad-key", ["sweep", "--language", "ngram:order=2,vocab=3,colour=1", "--length", "4", "--steps", "1",
                       "--out", "{d}/s"], r"colour"),
    ("sweep-missing-file", ["sweep", "--language", "{d}/missing.npz", "--length", "4", "--steps", "1", "--out", "{d}/s"],
     r"no such file"),
    ("sweep-truncated-file", ["sweep", "--language", "{d}/trunc.npz", "--length", "4", "--steps", "1", "--out", "{d}/s"],
     r"not a saved mdmlab language"),
    ("sweep-out-under-file", ["sweep", "--language", LANG, "--length", "4", "--steps", "1", "--out", "{d}/a-file/x"],
     r"--out '.*a-file/x' is not a writable folder"),
    ("sweep-out-is-file", ["sweep", "--language", LANG, "--length", "4", "--steps", "1", "--out", "{d}/a-file"],
     r"--out '.*a-file' is not a writable folder"),
    # train
    ("train-steps-0", TR + ["--steps", "0"], r"argument --steps: must be an integer >= 1, got '0'"),
    ("train-batch-0", TR + ["--batch-size", "0"], r"argument --batch-size: must be an integer >= 1"),
    ("train-layers-neg", TR + ["--layers", "-1"], r"argument --layers: must be an integer >= 1, got '-1'"),
    ("train-lr-huge", TR + ["--lr", "1e6"], r"argument --lr: must be a number in \(0, 1\], got '1e6'"),
    ("train-lr-0", TR + ["--lr", "0"], r"argument --lr: must be a number in \(0, 1\]"),
    ("train-lr-nan", TR + ["--lr", "nan"], r"argument --lr: must be a finite number"),
    ("train-lr-word", TR + ["--lr", "fast"], r"argument --lr: must be a number, got 'fast'"),
    ("train-eval-every-0", TR + ["--eval-every", "0"], r"argument --eval-every: must be an integer >= 1"),
    ("train-heads-0", TR + ["--heads", "0"], r"argument --heads: must be an integer >= 1"),
    ("train-width-0", TR + ["--width", "0"], r"argument --width: must be an integer >= 1"),
    ("train-width-indivisible", TR + ["--width", "10"], r"n_embd must be divisible by n_head = 4"),
    ("train-length-0", TR + ["--length", "0"], r"argument --length: must be an integer >= 1"),
    ("train-minutes-0", TR + ["--minutes", "0"], r"argument --minutes: must be a number in \(0, inf\)"),
    ("train-minutes-neg", TR + ["--minutes", "-1"], r"argument --minutes"),
    ("train-seed-neg", TR + ["--seed", "-1"], r"argument --seed: must be an integer >= 0"),
    ("train-objective", TR + ["--objective", "mse"], r"argument --objective: invalid choice"),
    ("train-out-empty", ["train", "--language", LANG, "--out", ""], r"argument --out: must be a non-empty path"),
    ("train-out-under-file", ["train", "--language", "ngram:order=2,vocab=3,seed=1", "--out", "{d}/a-file/x"],
     r"--out '.*' is not a writable folder"),
    ("train-device", TR + ["--device", "tpu9"], r"--device must be cpu or cuda"),
    ("train-bad-language", ["train", "--language", "ngram:order=0,vocab=3", "--out", "{d}/t"], r"order must be >= 1"),
    ("train-missing-language", ["train", "--language", "{d}/missing.npz", "--out", "{d}/t"], r"no such file"),
    ("train-resume-none", TR + ["--resume"], r"needs a checkpoint"),
    ("train-resume-other-lr", ["train", "--language", "ngram:order=2,vocab=3,seed=1", "--length", "8", "--steps", "2",
                               "--layers", "1", "--heads", "2", "--width", "8", "--eval-every", "1", "--lr", "0.01",
                               "--out", "{d}/ckpt", "--resume"], r"other settings \(lr: checkpoint 0\.003, now 0\.01\)"),
    ("train-resume-other-language", ["train", "--language", "ngram:order=2,vocab=3,seed=5", "--length", "8", "--steps", "2",
                                     "--layers", "1", "--heads", "2", "--width", "8", "--eval-every", "1",
                                     "--out", "{d}/ckpt", "--resume"], r"other settings \(language: checkpoint"),
    ("train-resume-corrupt", ["train", "--language", "ngram:order=2,vocab=3,seed=1", "--length", "8", "--steps", "2",
                              "--layers", "1", "--heads", "2", "--width", "8", "--eval-every", "1",
                              "--out", "{d}/flipped", "--resume"], r"is corrupt: its sha256 differs"),
    # report
    ("report-workers-0", ["report", "--out", "{d}/r", "--workers", "0"], r"argument --workers: must be an integer >= 1"),
    ("report-out-empty", ["report", "--out", ""], r"argument --out: must be a non-empty path"),
    ("report-preset", ["report", "--out", "{d}/r", "--preset", "huge"], r"argument --preset: invalid choice"),
    ("report-denoiser-missing", ["report", "--out", "{d}/r", "--denoiser", "{d}/missing.pt"],
     r"--denoiser must be a readable file, got '.*missing\.pt' \(missing\)"),
    ("report-denoiser-folder", ["report", "--out", "{d}/r", "--denoiser", "{d}"], r"--denoiser must be a readable file.*folder"),
    ("report-denoiser-truncated", ["report", "--out", "{d}/r", "--denoiser", "{d}/trunc.pt"],
     r"not a readable mdmlab checkpoint"),
    ("report-denoiser-npz", ["report", "--out", "{d}/r", "--denoiser", "{d}/good.npz"], r"checkpoint"),
    ("report-denoiser-flipped", ["report", "--out", "{d}/r", "--denoiser", "{d}/flipped/checkpoint.pt"], r"is corrupt"),
    ("report-denoiser-empty", ["report", "--out", "{d}/r", "--denoiser", ""], r"argument --denoiser: must be a non-empty"),
    ("report-out-under-file", ["report", "--out", "{d}/a-file/r"], r"--out '.*' is not a writable folder"),
    # sample and languages
    ("sample-length-0", ["sample", LANG, "--length", "0"], r"argument --length: must be an integer >= 1"),
    ("sample-steps-0", ["sample", LANG, "--steps", "0"], r"argument --steps: must be an integer >= 1"),
    ("sample-size-0", ["sample", LANG, "--size", "0"], r"argument --size: must be an integer >= 1"),
    ("sample-block-length-0", ["sample", LANG, "--block-length", "0"], r"argument --block-length"),
    ("sample-seed-neg", ["sample", LANG, "--seed", "-1"], r"argument --seed: must be an integer >= 0"),
    ("sample-schedule", ["sample", LANG, "--schedule", "fast"], r"argument --schedule: invalid choice"),
    ("sample-bad-spec", ["sample", "ngram:order=2"], r"ngram:order=2"),
    ("sample-truncated-file", ["sample", "{d}/trunc.npz"], r"not a saved mdmlab language"),
    ("languages-length-0", ["languages", LANG, "--length", "0"], r"argument --length: must be an integer >= 1"),
    ("languages-save-empty", ["languages", LANG, "--save", ""], r"argument --save: must be a non-empty path"),
    ("languages-bad-kind", ["languages", "nope:x=1"], r"unknown kind"),
    ("languages-empty-file", ["languages", "{d}/empty.npz"], r"not a saved mdmlab language"),
    ("languages-npy-file", ["languages", "{d}/arr.npy"], r"not a saved mdmlab language"),
    ("languages-save-unwritable", ["languages", LANG, "--length", "4", "--save", "{d}/a-file/x.npz"], r"a-file"),
    # bounds
    ("bounds-ser-steps-0", ["bounds", "ser", "--length", "64", "--steps", "0"], r"argument --steps: must be an integer >= 1"),
    ("bounds-ser-length-0", ["bounds", "ser", "--length", "0", "--steps", "8"], r"argument --length"),
    ("bounds-ser-delta-0", ["bounds", "ser", "--length", "64", "--steps", "8", "--delta", "0"],
     r"argument --delta: must be a number in \(0, 1\)"),
    ("bounds-ser-delta-1", ["bounds", "ser", "--length", "64", "--steps", "8", "--delta", "1"], r"argument --delta"),
    ("bounds-ser-latex-empty", ["bounds", "ser", "--length", "64", "--steps", "8", "--latex", ""], r"argument --latex"),
    ("bounds-ter-order-0", ["bounds", "ter", "--order", "0", "--vocab", "8", "--steps", "8"], r"argument --order"),
    ("bounds-ter-vocab-0", ["bounds", "ter", "--order", "3", "--vocab", "0", "--steps", "8"], r"argument --vocab"),
    ("bounds-ter-steps-0", ["bounds", "ter", "--order", "3", "--vocab", "8", "--steps", "0"], r"argument --steps"),
    ("bounds-ter-eps-neg", ["bounds", "ter", "--order", "3", "--vocab", "8", "--steps", "8", "--eps-learning", "-1"],
     r"argument --eps-learning: must be a number in \[0, inf\)"),
    ("bounds-ter-c-steps-0", ["bounds", "ter", "--order", "3", "--vocab", "8", "--steps", "8", "--c-steps", "0"],
     r"argument --c-steps"),
    ("bounds-ter-target-0", ["bounds", "ter", "--order", "3", "--vocab", "8", "--steps", "8", "--target", "0"],
     r"argument --target"),
    ("bounds-kl-s-max-0", ["bounds", "kl", "--s-max", "0", "--length", "8", "--mutual-information", "1"],
     r"argument --s-max"),
    ("bounds-kl-length-0", ["bounds", "kl", "--s-max", "2", "--length", "0", "--mutual-information", "1"],
     r"argument --length"),
    ("bounds-kl-mi-neg", ["bounds", "kl", "--s-max", "2", "--length", "8", "--mutual-information", "-1"],
     r"argument --mutual-information"),
    ("bounds-kl-eps-neg", ["bounds", "kl", "--s-max", "2", "--length", "8", "--mutual-information", "1",
                           "--eps-train", "-0.1"], r"argument --eps-train"),
    ("bounds-kl-seed-neg", ["bounds", "kl", "--s-max", "2", "--length", "8", "--mutual-information", "1",
                            "--seed", "-1"], r"argument --seed"),
]


def test_catalogue_size():
    assert len(API) + len(CLI) >= 150
    assert len({c[0] for c in API}) == len(API) and len({c[0] for c in CLI}) == len(CLI)


@pytest.mark.parametrize("call, kind, pattern", [c[1:] for c in API], ids=[c[0] for c in API])
def test_api_bad_input(d, call, kind, pattern):
    with pytest.raises(kind) as err:
        call(d)
    msg = str(err.value)
    assert "\n" not in msg.strip(), msg
    assert re.search(pattern, msg), msg


@pytest.mark.parametrize("argv, pattern", [c[1:] for c in CLI], ids=[c[0] for c in CLI])
def test_cli_bad_input(d, capsys, argv, pattern):
    argv = [a.replace("{d}", str(d)) for a in argv]
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    command = argv[0] + (f" {argv[1]}" if argv[0] == "bounds" else "")
    assert last.startswith(f"mdmlab {command}: error: "), err
    assert re.search(pattern, last), last
    assert not os.path.exists(os.path.join(str(d), "sweep-never")) and not os.path.exists(os.path.join(str(d), "train-never"))
