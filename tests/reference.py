r"""Plain-numpy reference forward-backward for a dense HMM: slow, obvious, log space, one sequence.

log alpha_t(k) = log e_t(k) + logsumexp_i(log alpha_{t-1}(i) + log A[i, k]);
log beta_t(k)  = logsumexp_j(log A[k, j] + log e_{t+1}(j) + log beta_{t+1}(j)).
The token posterior given the *other* observed positions drops position t's own evidence:
log p(x_t = v | rest) = logsumexp_k(log pred_t(k) + log beta_t(k) + log E[k, v]) - normaliser.
"""
import numpy as np
from scipy.special import logsumexp


def _log(a):
    with np.errstate(divide="ignore"):
        return np.log(a)


def forward_backward(initial, transition, emission, x):
    """Return (log q(observed x), rows) where rows[t] = p(x_t = . | observed x_s, s != t)."""
    L = len(x)
    K, V = emission.shape
    logA, logE = _log(transition), _log(emission)
    log_ev = np.array([np.zeros(K) if v < 0 else logE[:, v] for v in x])  # (L, K)
    log_pred = np.empty((L, K))
    log_alpha = np.empty((L, K))
    log_pred[0] = _log(initial)
    for t in range(L):
        if t > 0:
            log_pred[t] = logsumexp(log_alpha[t - 1][:, None] + logA, axis=0)
        log_alpha[t] = log_pred[t] + log_ev[t]
    log_beta = np.zeros((L, K))
    for t in range(L - 2, -1, -1):
        log_beta[t] = logsumexp(logA + (log_ev[t + 1] + log_beta[t + 1])[None, :], axis=1)
    rows = np.empty((L, V))
    for t in range(L):
        lr = logsumexp((log_pred[t] + log_beta[t])[:, None] + logE, axis=0)
        z = logsumexp(lr)
        rows[t] = np.exp(lr - z) if np.isfinite(z) else np.nan
    return float(logsumexp(log_alpha[-1])), rows
