r"""Brute-force oracle: enumerate every string (and every hidden path) of tiny languages.

Everything here is the definition, written out with no recursion: the joint law of X_{1:L} as an
array of shape ``(V,) * L``, and conditionals, log-probabilities and entropies read off it.
"""
import itertools

import numpy as np


def hmm_joint(initial, transition, emission, length):
    r"""q(x) = sum over all K^L paths z of pi[z_1] prod A[z_{t-1}, z_t] prod E[z_t, x_t]."""
    K, V = emission.shape
    joint = np.zeros((V,) * length)
    for z in itertools.product(range(K), repeat=length):
        pz = initial[z[0]] * np.prod([transition[z[t - 1], z[t]] for t in range(1, length)])
        for x in itertools.product(range(V), repeat=length):
            joint[x] += pz * np.prod([emission[z[t], x[t]] for t in range(length)])
    return joint


def ngram_joint(order, table, initial, length):
    r"""q(x) = initial[x_1..x_{n-1}] prod_{t>=n} table[x_{t-n+1}..x_t], marginalised if L < n-1."""
    V = table.shape[0]
    full = max(length, order - 1)
    joint = np.zeros((V,) * full)
    for x in itertools.product(range(V), repeat=full):
        if order == 1:
            p = np.prod([table[v] for v in x])
        else:
            p = initial[x[:order - 1]]
            for t in range(order - 1, full):
                p *= table[x[t - order + 1:t + 1]]
        joint[x] = p
    return joint.sum(axis=tuple(range(length, full)))


def log_prob(joint, x):
    """log q(observed tokens of x) (masked = negative ids are summed out)."""
    idx = tuple(int(v) if v >= 0 else slice(None) for v in x)
    with np.errstate(divide="ignore"):
        return float(np.log(joint[idx].sum()))


def conditionals(joint, x):
    """Rows q(x_i = . | observed tokens) for masked i, one-hot for observed i."""
    L, V = joint.ndim, joint.shape[0]
    idx = tuple(int(v) if v >= 0 else slice(None) for v in x)
    sub = joint[idx]
    masked = [i for i in range(L) if x[i] < 0]
    out = np.zeros((L, V))
    for i in range(L):
        if x[i] >= 0:
            out[i, x[i]] = 1.0
        else:
            k = masked.index(i)
            marg = sub.sum(axis=tuple(j for j in range(sub.ndim) if j != k))
            out[i] = marg / marg.sum()
    return out


def leave_one_out(joint, x):
    """Rows q(x_i = . | x_{-i}); NaN where q(x_{-i}) = 0."""
    L, V = joint.ndim, joint.shape[0]
    out = np.empty((L, V))
    for i in range(L):
        idx = tuple(slice(None) if j == i else int(x[j]) for j in range(L))
        col = joint[idx]
        out[i] = col / col.sum() if col.sum() > 0 else np.nan
    return out


def entropy(joint):
    """-sum q log q in nats."""
    p = joint[joint > 0]
    return float(-np.sum(p * np.log(p)))


def all_strings(vocab_size, length):
    """Every string of the given length, shape (V^L, L), in lexicographic order (= C order of joint)."""
    return np.array(list(itertools.product(range(vocab_size), repeat=length)), dtype=np.int64)
