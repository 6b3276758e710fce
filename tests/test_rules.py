r"""The rule path of issue 11 (sampled-token scores, tie rules, position temperature, token rules,
prompts, the final greedy step, N > L, the peers' count rules) against the plain mirror in
tests/naive.py (bit for bit, STYLE 14/15b) and against ``models.exact_law`` (in law, STYLE 15)."""
import itertools

import numpy as np
import pytest
from scipy import stats

from mdmlab import models
from mdmlab import synth
from mdmlab.models import _kernels as mkern
from mdmlab.models import schedules as sch
from tests import naive
from tests.conftest import TINY, naive_of

MASK = synth.MASK
RULES = [  # (policy, keyword arguments of models.sample)
    ("sampled", dict(tie="lowest-index")),
    ("sampled-raw", dict(tie="highest-index", temperature=0.7)),
    ("sampled", dict(tie="random", temperature=1.3, top_p=0.8)),
    ("confidence", dict(tie="lowest-index", temperature=0.0)),
    ("margin", dict(position_temperature=0.05, top_k=2)),
    ("entropy", dict(tie="highest-index", temperature=0.5, top_k=2, top_p=0.9)),
    ("random", dict(temperature=0.0, final_argmax=True)),
    ("left-to-right", dict(temperature=2.0, prompt=[MASK, 1, MASK, MASK, 0, MASK])),
    ("random", dict(position_temperature=1.0, prompt=[2, MASK, MASK, MASK, MASK, MASK])),
    ("sampled", dict(position_temperature=0.1, temperature=0.8, prompt=[MASK, MASK, 1, MASK, MASK, MASK])),
]


def _layout(res, policy, kwargs, L, B, seed):
    """The randomness of ``models.sample(..., rng=seed)`` on the rule path, drawn here in its layout."""
    rng = np.random.default_rng(seed)
    N = res.steps
    counts = res.schedule.draw(B, rng)
    rank = np.array([naive.ranks(r) for r in rng.random((B, L)).tolist()])
    token_u = rng.random((B, L))
    step_u = rng.random((B, N, L)) if policy in naive.SAMPLED else None
    pos_u = rng.random((B, N, L)) if kwargs.get("position_temperature", 0.0) > 0 else None
    return counts, rank, token_u, step_u, pos_u


@pytest.mark.parametrize("name", ["hmm-sparse", "trigram-sparse"])
@pytest.mark.parametrize("case", range(len(RULES)))
def test_rule_path_matches_naive_bit_for_bit(name, case):
    policy, kwargs = RULES[case]
    lang, L, N, B, seed = TINY[name](), 6, 3, 8, 40 + case
    kw = dict(kwargs, schedule="linear" if case % 2 else "balanced", block_length=None if case % 3 else 2)
    res = models.sample(lang, L, N, size=B, policy=policy, rng=seed, **kw)
    gen = models.sample(lang, L, N, size=B, policy=policy, rng=seed, method="generic", **kw)
    counts, rank, token_u, step_u, pos_u = _layout(res, policy, kwargs, L, B, seed)
    x0 = kwargs.get("prompt", [MASK] * L)
    block_of = naive.rule_blocks(L, kw["block_length"], x0.index(MASK))
    rule = dict(tie=kwargs.get("tie", "random"), pos_temp=kwargs.get("position_temperature", 0.0),
                temp=kwargs.get("temperature", 1.0), top_k=kwargs.get("top_k", 0) or 0,
                top_p=kwargs.get("top_p", 1.0), final=kwargs.get("final_argmax", False))
    for b in range(B):
        x, reveal, lp, nfe = naive.run_rule(naive_of(name), [int(c) for c in counts[b]], policy, rule, x0, block_of,
                                            [int(r) for r in rank[b]], token_u[b].tolist(),
                                            None if step_u is None else step_u[b].tolist(),
                                            None if pos_u is None else pos_u[b].tolist())
        for r in (res, gen):
            np.testing.assert_array_equal(r.tokens[b], x)
            np.testing.assert_array_equal(r.reveal_step[b], reveal)
            assert r.nfe[b] == nfe
            np.testing.assert_allclose(r.log_prob_sampler[b], lp, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("policy", ["random", "left-to-right", "confidence", "margin", "entropy"])
def test_rule_path_with_default_rule_is_todays_sampler_bit_for_bit(policy):
    lang = TINY["hmm-dense"]()
    old = models.sample(lang, 7, 3, size=20, policy=policy, block_length=3, rng=5, method="sweep")
    new = models.sample(lang, 7, 3, size=20, policy=policy, block_length=3, rng=5, prompt=[MASK] * 7)
    np.testing.assert_array_equal(old.tokens, new.tokens)
    np.testing.assert_array_equal(old.reveal_step, new.reveal_step)
    np.testing.assert_array_equal(old.log_prob_sampler, new.log_prob_sampler)


def test_token_row_matches_naive():
    rng = np.random.default_rng(0)
    for _ in range(200):
        V = int(rng.integers(2, 7))
        row = rng.dirichlet(np.ones(V)) * (rng.random(V) > 0.2)
        row = row / row.sum() if row.sum() > 0 else np.eye(V)[0]
        temp, k = float(rng.choice([0.0, 0.5, 1.0, 2.0])), int(rng.integers(0, V + 1))
        p = float(rng.choice([0.3, 0.9, 1.0]))
        out = np.empty(V)
        mkern.token_row(row, temp, k, p, out)
        assert out.tolist() == naive.rule_row(row.tolist(), temp, k, p)


def _chi2_pvalue(law, tokens):
    """Pearson chi-square of sample strings against an exact law (cells of expected count < 5 pooled)."""
    V, L = law.shape[0], law.ndim
    idx = np.ravel_multi_index(tokens.T, (V,) * L)
    obs = np.bincount(idx, minlength=V ** L).astype(float)
    exp = law.ravel() * len(tokens)
    assert obs[exp == 0].sum() == 0, "a sample outside the exact law's support"
    big = exp >= 5
    o = np.append(obs[big], obs[~big].sum())
    e = np.append(exp[big], exp[~big].sum())
    keep = e > 0
    return stats.chisquare(o[keep], e[keep] * o[keep].sum() / e[keep].sum()).pvalue


LAW_CASES = [  # (policy, kwargs, schedule, steps)
    ("sampled", dict(tie="lowest-index", temperature=0.8), "balanced", 3),
    ("sampled-raw", dict(tie="lowest-index", temperature=1.5, top_k=2), [2, 0, 2], 3),
    ("entropy", dict(position_temperature=0.2, top_p=0.8), "balanced", 2),
    ("random", dict(temperature=0.0, final_argmax=True), sch.TimeGrid("linear", 0.05, reveal_rest=False), 6),
    ("confidence", dict(tie="highest-index", prompt=[MASK, 2, MASK, MASK]), "linear", 2),
]


@pytest.mark.parametrize("case", range(len(LAW_CASES)))
def test_exact_law_matches_samples(case):
    """40,000 fused samples against the rule path's exact law: Pearson chi-square at level 1e-3."""
    policy, kwargs, schedule, N = LAW_CASES[case]
    lang, L = TINY["hmm-sparse"](), 4
    law = models.exact_law(lang, L, N, schedule=schedule, policy=policy, **kwargs)
    assert abs(law.sum() - 1) < 1e-12 and np.count_nonzero(law) <= 81
    res = models.sample(lang, L, N, size=40_000, schedule=schedule, policy=policy, rng=100 + case, **kwargs)
    assert _chi2_pvalue(law, res.tokens) > 1e-3


def test_exact_law_detects_the_wrong_rule():
    """Power: the sampled-token rule's samples are rejected against the max-probability rule's law."""
    lang, L = TINY["trigram-sparse"](), 5
    kw = dict(schedule="balanced", tie="lowest-index", temperature=1.0)
    wrong = models.exact_law(lang, L, 2, policy="confidence", **kw)
    res = models.sample(lang, L, 2, size=40_000, policy="sampled", rng=1, **kw)
    idx = np.ravel_multi_index(res.tokens.T, (3,) * L)
    if np.any(wrong.ravel()[idx] == 0):
        return  # outside the wrong law's support: rejected outright
    assert _chi2_pvalue(wrong, res.tokens) < 1e-6


def test_ancestral_schedules_take_more_steps_than_tokens():
    lang = TINY["bigram-sparse"]()
    res = models.sample(lang, 4, 12, size=500, schedule="linear", rng=0, calls="every")
    assert res.counts.shape == (500, 12) and (res.counts.sum(axis=1) == 4).all()
    assert (res.nfe <= 4).all() and (res.calls == 12).all()
    law = models.exact_law(lang, 4, 12, schedule="linear")
    assert abs(law.sum() - 1) < 1e-12


def test_calls_under_each_caching_rule():
    counts = np.array([[1, 0, 0, 2, 1], [0, 0, 3, 0, 1]])
    np.testing.assert_array_equal(models.sampler.CALL_RULES["changed"](counts), [3, 2])
    np.testing.assert_array_equal(models.sampler.CALL_RULES["every"](counts), [5, 5])


def test_prompt_positions_are_kept():
    lang = TINY["hmm-dense"]()
    prompt = np.array([1, MASK, MASK, 2, MASK])
    res = models.sample(lang, 5, 3, size=50, prompt=prompt, schedule="balanced", rng=0)
    assert (res.tokens[:, [0, 3]] == [1, 2]).all() and (res.reveal_step[:, [0, 3]] == -1).all()
    assert (res.counts.sum(axis=1) == 3).all()


def test_rule_validation():
    lang = TINY["hmm-dense"]()
    with pytest.raises(ValueError, match="tie must be one of"):
        models.sample(lang, 4, 2, tie="first")
    with pytest.raises(ValueError, match="temperature must be a finite number >= 0"):
        models.sample(lang, 4, 2, temperature=-1.0)
    with pytest.raises(ValueError, match="top_p must be None or a number in"):
        models.sample(lang, 4, 2, top_p=0.0)
    with pytest.raises(ValueError, match="method='tree' runs today's rules only"):
        models.sample(lang, 4, 2, temperature=0.5, method="tree")
    with pytest.raises(ValueError, match="needs final_argmax=True"):
        models.sample(lang, 4, 2, schedule=sch.TimeGrid("linear", 0.1, reveal_rest=False))
    with pytest.raises(ValueError, match="prompt must leave at least one position masked"):
        models.sample(lang, 2, 1, prompt=[0, 1], temperature=0.5)
    with pytest.raises(ValueError, match="calls must be one of"):
        models.sample(lang, 4, 2, calls="never")


def test_llada_counts_match_get_num_transfer_tokens():
    torch = pytest.importorskip("torch")
    for L, b, N in itertools.product([4, 8, 12, 32], [1, 2, 4, 8], [1, 2, 4, 8, 16, 32]):
        if L % b or N % (L // b):
            continue
        ref = []
        for _ in range(L // b):  # LLaDA generate.py: per block, get_num_transfer_tokens(mask_index, steps // blocks)
            mask_num = torch.tensor([[b]])
            steps = N // (L // b)
            base, rem = mask_num // steps, mask_num % steps
            row = torch.zeros(1, steps, dtype=torch.int64) + base
            row[0, :rem[0]] += 1
            ref += row[0].tolist()
        assert sch.llada_counts(L, N, b).tolist() == ref


def test_dream_counts_match_its_float32_rule():
    torch = pytest.importorskip("torch")
    for L in range(1, 40):
        for N in range(1, L + 1):
            t = torch.linspace(1, 1e-3, N + 1)
            m, ref = L, []
            for i in range(N):
                num = torch.ones(1, m, dtype=torch.bool).sum() / 1
                k = int(num * (1 - t[i + 1] / t[i])) if i < N - 1 else int(num)
                ref.append(k)
                m -= k
            assert sch.dream_counts(L, N).tolist() == ref


# -- precision="float32": MDLM's race ------------------------------------------------------------

def test_race32_is_mdlms_sample_categorical():
    """Same q and float32 uniforms: the winner of MDLM's formula in torch (tests/peers.py style)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    rows = rng.dirichlet(np.ones(4), size=(64, 8))
    r = 0.01
    won, tok = models.sampler.race32(rows, r, np.random.default_rng(1))
    u = torch.from_numpy(np.random.default_rng(1).random((64, 8, 5), dtype=np.float32))
    q = torch.cat([torch.from_numpy(rows.astype(np.float32)) * np.float32(r),
                   torch.full((64, 8, 1), np.float32(1 - r))], dim=-1)
    ref = (q / (1e-10 - (u + 1e-10).log())).argmax(dim=-1).numpy()
    assert np.mean((ref < 4) == won) > 0.999 and np.mean(np.where(won, tok, 4) == ref) > 0.999


def test_float32_race_agrees_with_the_exact_law_at_moderate_probabilities():
    lang = TINY["hmm-dense"]()
    kw = models.presets.mdlm(5)
    law = models.exact_law(lang, 4, **kw)
    res = models.sample(lang, 4, size=40_000, rng=3, precision="float32", **kw)
    assert _chi2_pvalue(law, res.tokens) > 1e-3
    with pytest.raises(ValueError, match="precision='float32' reproduces MDLM's race"):
        models.sample(lang, 4, 2, precision="float32", policy="confidence")


def test_float32_race_underdraws_rare_tokens_exactly():
    """The float32 race's exact win probability (every 2^24 float32 uniform enumerated) for a token of
    probability 1e-6 at one step of N = 8 (r = 1/8): well below the true 1.25e-7 (0.78x), because
    1e-10 - log(U + 1e-10) cannot go below about 6e-8."""
    u = (np.arange(2 ** 24, dtype=np.float64) * 2.0 ** -24).astype(np.float32)
    e = np.float32(1e-10) - np.log(u + np.float32(1e-10))
    r, ps = 1.0 / 8, 1e-6
    qs, qb, qm = np.float32(ps) * np.float32(r), np.float32(1 - ps) * np.float32(r), np.float32(1 - r)
    rs = qs / e
    p = np.searchsorted(np.sort(qb / e), rs, side="left") / e.size  # the big token (earlier index) wins ties
    p = p * np.searchsorted(np.sort(qm / e), rs, side="right") / e.size  # the mask (later index) loses them
    ratio = p.mean() / (float(qs) / (float(qs) + float(qb) + float(qm)))
    assert 0.5 < ratio < 0.9
    assert e.min() > 5e-8


# -- re-masking (ReMDM cap schedule, generic driver) ----------------------------------------------

def test_remask_with_eta_zero_is_the_ancestral_sampler_exactly():
    from mdmlab.models import remask

    lang = TINY["hmm-sparse"]()
    for schedule in ("linear", "cosine"):
        np.testing.assert_allclose(remask.remask_law(lang, 3, 3, eta=0.0, schedule=schedule),
                                   models.exact_law(lang, 3, 3, schedule=schedule), atol=1e-14)


def test_remask_samples_agree_with_remask_law():
    from mdmlab.models import remask

    lang = TINY["hmm-sparse"]()
    kw = dict(eta=0.5, schedule=sch.TimeGrid("linear", 0.01, reveal_rest=False), final_argmax=True)
    law = remask.remask_law(lang, 4, 4, **kw)
    res = remask.sample_remask(lang, 4, 4, size=40_000, rng=2, **kw)
    assert abs(law.sum() - 1) < 1e-12 and _chi2_pvalue(law, res.tokens) > 1e-3
    assert (res.calls == 5).all() and (res.tokens >= 0).all()


def test_remask_raises_pair_copy_ser_under_the_exact_denoiser():
    """Pair-copy (k = 2, L = 4, N = 4): SER 0.2344 without re-masking, 0.3594 with eta = 1 (exact laws):
    re-masking a correct token forces more tokens to be revealed together later."""
    from mdmlab.models import remask

    lang = synth.from_spec("pair-copy:symbols=2")
    ok = lang.in_support(np.array(list(np.ndindex(*(2,) * 4)))).reshape((2,) * 4)
    ser = [1 - (remask.remask_law(lang, 4, 4, eta=eta) * ok).sum() for eta in (0.0, 1.0)]
    assert ser[0] == pytest.approx(0.234375, abs=1e-12) and ser[1] == pytest.approx(0.359375, abs=1e-12)
    with pytest.raises(ValueError, match="eta must be a number in"):
        remask.sample_remask(lang, 4, 2, eta=2.0)


# -- presets: keyword arguments, the CLI, peer count rules with N > L ------------------------------

def test_sample_cli_runs_a_named_peer_sampler(capsys):
    from mdmlab.analysis import cli

    assert cli.main(["sample", "pair-copy:symbols=4", "--length", "8", "--size", "2", "--no-colour",
                     "--sampler", "llada:steps=4,block_length=4,remasking=random,temperature=1"]) == 0
    out = capsys.readouterr().out
    # 16 tokens and the legend's "token@step"
    assert "schedule llada:steps=4" in out and "policy random" in out and out.count("@") == 17
    assert cli.main(["sample", "pair-copy:symbols=4", "--length", "8", "--size", "1", "--no-colour",
                     "--sampler", "mdlm:steps=20"]) == 0
    assert "steps 0..20" in capsys.readouterr().out  # the final greedy step is step 20
    with pytest.raises(SystemExit) as exc:
        cli.main(["sample", "pair-copy:symbols=4", "--sampler", "llada:stepz=4"])
    assert exc.value.code == 2 and "keys are ['steps'" in capsys.readouterr().err


def test_presets_name_the_peer_arguments():
    p = models.presets
    assert p.llada(8, 4)["policy"] == "sampled-raw" and p.llada(8, 4, "random")["policy"] == "random"
    assert p.dream(8, "maskgit_plus", alg_temp=0.2)["position_temperature"] == 0.2
    assert p.dream(8)["schedule"] == sch.TimeGrid("linear", 1e-3)
    assert p.mdlm(8, cache=False)["calls"] == "every" and p.mdlm(8)["final_argmax"]
    assert p.from_spec("dream:steps=4,alg=entropy,top_p=0.9,alg_temp=none")["top_p"] == 0.9
    with pytest.raises(ValueError, match="remasking must be one of"):
        p.llada(8, remasking="high_confidence")
    with pytest.raises(ValueError, match="LLaDA needs block_length"):
        models.sample(TINY["hmm-dense"](), 6, **p.llada(3, 4))


def test_peer_count_rules_take_steps_that_reveal_nothing():
    lang = TINY["hmm-dense"]()
    res = models.sample(lang, 4, size=3, rng=0, **models.presets.llada(8, 2))
    np.testing.assert_array_equal(res.counts[0], [1, 1, 0, 0, 1, 1, 0, 0])
    assert (res.calls == 8).all() and (res.nfe == 4).all()
    assert abs(models.exact_law(lang, 4, **models.presets.dream(6, "entropy", 1.0)).sum() - 1) < 1e-12
