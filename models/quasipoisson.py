"""Quasi-Poisson GLMs fitted for many series at once by IRLS, the reweighting of past outbreaks and the
negative-binomial upper bound: the statistics under Farrington-flexible (:mod:`models.farrington`).

``log mu_i = a (+ b x_i)`` on the reference weeks of each series; dispersion
``phi = max(1, sum w_i (y_i - mu_i)^2 / mu_i / (n - p))``. Reweighting (Noufaily et al. 2013): Anscombe
residuals above ``REWEIGHT_THRESHOLD`` (2.58) are down-weighted by ``r^-2`` and the model is refitted once.
"""
from __future__ import annotations

import numpy as np
from scipy import stats

REWEIGHT_THRESHOLD = 2.58
IRLS_ITER = 30
MU_FLOOR = 1e-8


# --- vectorised quasi-Poisson IRLS ------------------------------------------------------------

def fit_quasipoisson(y: np.ndarray, x: np.ndarray | None, prior: np.ndarray, n_iter: int = IRLS_ITER) -> dict:
    """Fit ``log mu = a (+ b x)`` for many series at once by IRLS.

    ``y``, ``x``, ``prior``: arrays (S, n); ``prior`` holds the prior weights (0 = not a reference week).
    ``x=None`` fits the intercept-only model. Returns ``beta`` (S, p), ``mu`` (S, n), ``phi`` (S,),
    ``cov`` (S, p, p) = phi (X'WX)^-1, ``hat`` (S, n) and ``n`` (S,) the number of weeks used.
    """
    y = np.asarray(y, float)
    prior = np.asarray(prior, float)
    S, n = y.shape
    p = 1 if x is None else 2
    X = np.ones((S, n, p))
    if x is not None:
        X[..., 1] = x
    ybar = (prior * y).sum(1) / np.maximum(prior.sum(1), 1e-12)
    beta = np.zeros((S, p))
    beta[:, 0] = np.log(np.maximum(ybar, 0.5))
    eye = np.eye(p) * 1e-10
    for _ in range(n_iter):
        eta = np.einsum("snp,sp->sn", X, beta)
        mu = np.maximum(np.exp(np.clip(eta, -30, 30)), MU_FLOOR)
        z = eta + (y - mu) / mu
        w = prior * mu
        xtwx = np.einsum("snp,sn,snq->spq", X, w, X) + eye
        xtwz = np.einsum("snp,sn,sn->sp", X, w, z)
        new = np.linalg.solve(xtwx, xtwz[..., None])[..., 0]
        new = np.clip(new, -30, 30)
        if np.nanmax(np.abs(new - beta)) < 1e-8:
            beta = new
            break
        beta = new
    eta = np.einsum("snp,sp->sn", X, beta)
    mu = np.maximum(np.exp(np.clip(eta, -30, 30)), MU_FLOOR)
    w = prior * mu
    xtwx = np.einsum("snp,sn,snq->spq", X, w, X) + eye
    inv = np.linalg.inv(xtwx)
    hat = np.einsum("snp,spq,snq->sn", X, inv, X) * w
    n_used = (prior > 0).sum(1)
    dof = np.maximum(n_used - p, 1)
    pearson = (prior * (y - mu) ** 2 / mu).sum(1) / dof
    phi = np.maximum(1.0, pearson)
    return {"beta": beta, "mu": mu, "phi": phi, "cov": inv * phi[:, None, None], "hat": hat, "n": n_used}


def anscombe_weights(y: np.ndarray, fit: dict, mask: np.ndarray, threshold: float = REWEIGHT_THRESHOLD) -> np.ndarray:
    """Noufaily et al. (2013) weights: gamma * r^-2 for Anscombe residuals r > threshold, else gamma (sum = n)."""
    mu, phi, hat = fit["mu"], fit["phi"], fit["hat"]
    y = np.where(mask, y, 0.0)
    denom = np.sqrt(phi)[:, None] * mu ** (1 / 6) * np.sqrt(np.clip(1 - hat, 1e-6, None))
    r = 1.5 * (np.cbrt(y) ** 2 - np.cbrt(mu) ** 2) / denom
    w = np.where(r > threshold, 1.0 / np.maximum(r, 1e-12) ** 2, 1.0)
    w = np.where(mask, w, 0.0)
    gamma = mask.sum(1) / np.maximum(w.sum(1), 1e-12)
    return w * gamma[:, None]


def fit_reweighted(y, x, mask, reweight: bool = True) -> dict:
    """:func:`fit_quasipoisson` on the weeks of ``mask``, refitted once with :func:`anscombe_weights` (unless
    ``reweight`` is False)."""
    first = fit_quasipoisson(y, x, mask.astype(float))
    if not reweight:
        return first
    w = anscombe_weights(y, first, mask)
    return fit_quasipoisson(y, x, w)


def nb_upper_bound(mu0: np.ndarray, phi: np.ndarray, alpha: float) -> np.ndarray:
    """(1 - alpha) quantile of a negative binomial with mean mu0 and variance phi * mu0 (Poisson if phi = 1)."""
    mu0 = np.asarray(mu0, float)
    phi = np.asarray(phi, float)
    out = stats.poisson.ppf(1 - alpha, mu0)
    over = phi > 1 + 1e-9
    if over.any():
        size = mu0[over] / (phi[over] - 1)
        prob = 1.0 / phi[over]                       # size / (size + mu0)
        out[over] = stats.nbinom.ppf(1 - alpha, size, prob)
    return out
