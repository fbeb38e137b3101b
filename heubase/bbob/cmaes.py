"""CMA-ES in separate steps over a plain state dict (after Hansen's tutorial, arXiv:1604.00772).

:func:`new_state` makes the state; a sampler turns it into ``offspring [lam, d]``;
an updater takes the evaluated offspring (lower fitness is better) and moves
the mean, the step size and the covariance. Every sampler works with every
updater: samplers read ``mean``, ``sigma``, ``B`` (eigenvectors) and ``D``
(square roots of the eigenvalues); updaters keep them current.
"""
from __future__ import annotations

import numpy as np

MIN_SIGMA = 1e-300


def new_state(x0: np.ndarray, sigma0: float, popsize: int) -> dict:
    """A fresh CMA-ES state around ``x0`` with step size ``sigma0`` and ``popsize`` offspring per generation.

    Returns ``state``, a dict with the strategy parameters (``lam``, ``mu``,
    ``weights``, ``mueff``, ``cc``, ``cs``, ``c1``, ``cmu``, ``damps``, ``chiN``)
    and the dynamic state (``mean``, ``sigma``, ``C``, ``B``, ``D``, ``pc``, ``ps``, ``gen``).

    >>> s = new_state(np.zeros(3), 0.5, 8)
    >>> s["lam"], s["mu"], round(float(s["weights"].sum()), 6)
    (8, 4, 1.0)
    """
    mean = np.asarray(x0, dtype=np.float64).copy()
    d = mean.size
    lam = max(2, int(popsize))
    mu = lam // 2
    raw = np.log((lam + 1) / 2) - np.log(np.arange(1, mu + 1))
    weights = raw / raw.sum()
    mueff = 1.0 / float((weights ** 2).sum())
    cc = (4 + mueff / d) / (d + 4 + 2 * mueff / d)
    cs = (mueff + 2) / (d + mueff + 5)
    c1 = 2 / ((d + 1.3) ** 2 + mueff)
    cmu = min(1 - c1, 2 * (mueff - 2 + 1 / mueff) / ((d + 2) ** 2 + mueff))
    damps = 1 + 2 * max(0.0, np.sqrt((mueff - 1) / (d + 1)) - 1) + cs
    return {"d": d, "lam": lam, "mu": mu, "weights": weights, "mueff": mueff, "cc": cc, "cs": cs, "c1": c1,
            "cmu": cmu, "damps": damps, "chiN": np.sqrt(d) * (1 - 1 / (4 * d) + 1 / (21 * d * d)),
            "mean": mean, "sigma": float(sigma0), "sigma0": float(sigma0), "C": np.eye(d), "B": np.eye(d),
            "D": np.ones(d), "invsqrtC": np.eye(d), "pc": np.zeros(d), "ps": np.zeros(d), "gen": 0,
            "eigen_gen": 0}


def sample_gaussian(state: dict, rng: np.random.Generator) -> np.ndarray:
    """Standard CMA-ES sampling: ``mean + sigma * B diag(D) z`` with ``z ~ N(0, I)``.

    Returns ``offspring [lam, d]``.
    """
    z = rng.standard_normal((state["lam"], state["d"]))
    return state["mean"] + state["sigma"] * (z * state["D"]) @ state["B"].T


def sample_mirrored(state: dict, rng: np.random.Generator) -> np.ndarray:
    """Mirrored sampling: half the offspring are the other half reflected through the mean (less noise in
    the mean's update on symmetric landscapes).

    Returns ``offspring [lam, d]``.
    """
    lam, d = state["lam"], state["d"]
    z = rng.standard_normal(((lam + 1) // 2, d))
    z = np.concatenate([z, -z])[:lam]
    return state["mean"] + state["sigma"] * (z * state["D"]) @ state["B"].T


def sample_orthogonal(state: dict, rng: np.random.Generator) -> np.ndarray:
    """Orthogonal sampling: directions of each block of ``d`` offspring are orthogonal, lengths chi-distributed
    (covers all directions evenly within a generation).

    Returns ``offspring [lam, d]``.
    """
    lam, d = state["lam"], state["d"]
    blocks = []
    for _ in range(-(-lam // d)):
        q, r = np.linalg.qr(rng.standard_normal((d, d)))
        q = q * np.sign(np.diag(r))
        lengths = np.sqrt(rng.chisquare(d, size=d))
        blocks.append(q * lengths[:, None])
    z = np.concatenate(blocks)[:lam]
    return state["mean"] + state["sigma"] * (z * state["D"]) @ state["B"].T


def _select(state: dict, offspring: np.ndarray, fitness: np.ndarray) -> np.ndarray:
    order = np.argsort(np.asarray(fitness, dtype=np.float64), kind="stable")
    return np.asarray(offspring, dtype=np.float64)[order[: state["mu"]]]


def _step_size(state: dict, y: np.ndarray, damps_scale: float) -> float:
    """Cumulative step-size adaptation: updates ``ps`` from the mean's move ``y`` and returns hsig."""
    cs, d = state["cs"], state["d"]
    state["ps"] = (1 - cs) * state["ps"] + np.sqrt(cs * (2 - cs) * state["mueff"]) * (state["invsqrtC"] @ y)
    norm = float(np.linalg.norm(state["ps"]))
    state["gen"] += 1
    hsig = norm / np.sqrt(1 - (1 - cs) ** (2 * state["gen"])) / state["chiN"] < 1.4 + 2 / (d + 1)
    factor = np.exp(min(1.0, (cs / (state["damps"] * damps_scale)) * (norm / state["chiN"] - 1)))
    state["sigma"] = float(max(state["sigma"] * factor, MIN_SIGMA))
    return float(hsig)


def cma_update(state: dict, offspring: np.ndarray, fitness: np.ndarray, c1_scale: float = 1.0,
               cmu_scale: float = 1.0, damps_scale: float = 1.0) -> dict:
    """Full CMA-ES update: weighted recombination of the best ``mu``, cumulative step-size adaptation,
    rank-one (evolution path) and rank-mu covariance updates, lazy eigendecomposition.

    ``c1_scale``/``cmu_scale`` multiply the two covariance learning rates (their sum is kept below 1),
    ``damps_scale`` the step-size damping. Returns ``state`` (updated in place).
    """
    selected = _select(state, offspring, fitness)
    old, sigma = state["mean"], state["sigma"]
    state["mean"] = state["weights"] @ selected
    y = (state["mean"] - old) / sigma
    hsig = _step_size(state, y, damps_scale)
    cc = state["cc"]
    state["pc"] = (1 - cc) * state["pc"] + hsig * np.sqrt(cc * (2 - cc) * state["mueff"]) * y
    c1, cmu = state["c1"] * c1_scale, state["cmu"] * cmu_scale
    if c1 + cmu > 0.95:
        c1, cmu = 0.95 * c1 / (c1 + cmu), 0.95 * cmu / (c1 + cmu)
    steps = (selected - old) / sigma
    state["C"] = ((1 - c1 - cmu) * state["C"]
                  + c1 * (np.outer(state["pc"], state["pc"]) + (1 - hsig) * cc * (2 - cc) * state["C"])
                  + cmu * (steps.T * state["weights"]) @ steps)
    if state["gen"] - state["eigen_gen"] >= state["lam"] / ((c1 + cmu) * state["d"] * 10):
        _decompose(state)
    return state


def _decompose(state: dict) -> None:
    C = np.triu(state["C"]) + np.triu(state["C"], 1).T
    values, vectors = np.linalg.eigh(C)
    values = np.maximum(values, 1e-30 * max(values.max(), 1e-300))
    state["C"], state["B"], state["D"] = C, vectors, np.sqrt(values)
    state["invsqrtC"] = (vectors / state["D"]) @ vectors.T
    state["eigen_gen"] = state["gen"]


def sep_cma_update(state: dict, offspring: np.ndarray, fitness: np.ndarray, c1_scale: float = 1.0,
                   cmu_scale: float = 1.0, damps_scale: float = 1.0) -> dict:
    """Separable CMA-ES update (Ros & Hansen 2008): a diagonal covariance learned (d+2)/3 times faster;
    O(d) per offspring, good on separable and high-dimensional problems.

    Returns ``state`` (updated in place; ``C`` stays diagonal, ``B`` the identity).
    """
    selected = _select(state, offspring, fitness)
    old, sigma, d = state["mean"], state["sigma"], state["d"]
    state["mean"] = state["weights"] @ selected
    y = (state["mean"] - old) / sigma
    hsig = _step_size(state, y, damps_scale)
    cc = state["cc"]
    state["pc"] = (1 - cc) * state["pc"] + hsig * np.sqrt(cc * (2 - cc) * state["mueff"]) * y
    speed = (d + 2) / 3
    c1, cmu = state["c1"] * c1_scale * speed, state["cmu"] * cmu_scale * speed
    if c1 + cmu > 0.95:
        c1, cmu = 0.95 * c1 / (c1 + cmu), 0.95 * cmu / (c1 + cmu)
    steps = (selected - old) / sigma
    diag = np.diag(state["C"]).copy()
    diag = ((1 - c1 - cmu) * diag + c1 * (state["pc"] ** 2 + (1 - hsig) * cc * (2 - cc) * diag)
            + cmu * state["weights"] @ steps ** 2)
    diag = np.maximum(diag, 1e-300)
    state["C"], state["B"], state["D"] = np.diag(diag), np.eye(d), np.sqrt(diag)
    state["invsqrtC"] = np.diag(1 / state["D"])
    state["eigen_gen"] = state["gen"]
    return state


def csa_update(state: dict, offspring: np.ndarray, fitness: np.ndarray, damps_scale: float = 1.0) -> dict:
    """Mean and cumulative step-size adaptation only (the covariance is left as it is): a (mu/mu_w, lambda)-ES.

    Returns ``state`` (updated in place).
    """
    selected = _select(state, offspring, fitness)
    old = state["mean"]
    state["mean"] = state["weights"] @ selected
    _step_size(state, (state["mean"] - old) / state["sigma"], damps_scale)
    return state
