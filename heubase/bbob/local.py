"""Local refinement from one point: each function spends at most ``budget`` evaluations of ``evaluate``
(a :class:`heubase.bbob.budget.Tracker`) starting at ``x0`` with initial step ``sigma0``, and returns
``refined [d]``, the best point it found (``x0`` if it found nothing better).
"""
from __future__ import annotations

import numpy as np

from heubase.bbob.budget import Tracker
from heubase.bbob.cmaes import cma_update, new_state, sample_gaussian
from heubase.bbob.restart import should_restart


def _limit(evaluate: Tracker, budget: int) -> int:
    """The tracker's ``used`` count at which this refinement must stop."""
    return evaluate.used + max(0, min(int(budget), evaluate.left))


def _into_box(evaluate: Tracker, points: np.ndarray) -> np.ndarray:
    return np.clip(points, evaluate.lower, evaluate.upper)


def nelder_mead(evaluate: Tracker, x0: np.ndarray, sigma0: float, budget: int,
                rng: np.random.Generator) -> np.ndarray:
    """Nelder-Mead simplex with the dimension-adaptive coefficients of Gao & Han (2012).

    The initial simplex is ``x0`` plus ``sigma0`` along each axis. Returns ``refined [d]``.
    """
    stop = _limit(evaluate, budget)
    x0 = _into_box(evaluate, np.asarray(x0, dtype=np.float64))
    d = x0.size
    alpha, beta, gamma, delta = 1.0, 1.0 + 2.0 / d, 0.75 - 0.5 / d, 1.0 - 1.0 / max(d, 2)
    simplex = _into_box(evaluate, np.vstack([x0, x0 + sigma0 * np.eye(d)]))
    values = evaluate(simplex)
    while evaluate.used < stop and not evaluate.exhausted:
        order = np.argsort(values, kind="stable")
        simplex, values = simplex[order], values[order]
        if np.max(np.abs(simplex[1:] - simplex[0])) < 1e-13 * max(1.0, sigma0):
            break
        centroid = simplex[:-1].mean(axis=0)
        reflected = _into_box(evaluate, centroid + alpha * (centroid - simplex[-1]))
        f_r = evaluate(reflected)[0]
        if values[0] <= f_r < values[-2]:
            simplex[-1], values[-1] = reflected, f_r
        elif f_r < values[0]:
            expanded = _into_box(evaluate, centroid + beta * (reflected - centroid))
            f_e = evaluate(expanded)[0]
            simplex[-1], values[-1] = (expanded, f_e) if f_e < f_r else (reflected, f_r)
        else:
            outside = f_r < values[-1]
            target = reflected if outside else simplex[-1]
            contracted = _into_box(evaluate, centroid + gamma * (target - centroid))
            f_c = evaluate(contracted)[0]
            if f_c < (f_r if outside else values[-1]):
                simplex[-1], values[-1] = contracted, f_c
            else:
                simplex[1:] = simplex[0] + delta * (simplex[1:] - simplex[0])
                values[1:] = evaluate(simplex[1:])
    best = int(np.argmin(values))
    return simplex[best].copy()


def one_plus_one_es(evaluate: Tracker, x0: np.ndarray, sigma0: float, budget: int, rng: np.random.Generator,
                    factor: float = 1.5) -> np.ndarray:
    """(1+1)-ES with the 1/5th success rule: the step grows by ``factor`` after a success and shrinks by
    ``factor ** -0.25`` after a failure (balanced at a success rate of one in five).

    Returns ``refined [d]``.
    """
    stop = _limit(evaluate, budget)
    x = _into_box(evaluate, np.asarray(x0, dtype=np.float64))
    f = evaluate(x)[0]
    sigma = float(sigma0)
    while evaluate.used < stop and not evaluate.exhausted and sigma > 1e-13 * max(1.0, sigma0):
        y = _into_box(evaluate, x + sigma * rng.standard_normal(x.size))
        f_y = evaluate(y)[0]
        if f_y <= f:
            x, f = y, f_y
            sigma *= factor
        else:
            sigma *= factor ** -0.25
    return x


def coordinate_search(evaluate: Tracker, x0: np.ndarray, sigma0: float, budget: int,
                      rng: np.random.Generator) -> np.ndarray:
    """Compass search: try ``+-step`` along every axis in one batch, move to the best improvement and
    double the step, otherwise halve it. Returns ``refined [d]``.
    """
    stop = _limit(evaluate, budget)
    x = _into_box(evaluate, np.asarray(x0, dtype=np.float64))
    f = evaluate(x)[0]
    step, d = float(sigma0), x.size
    directions = np.vstack([np.eye(d), -np.eye(d)])
    while evaluate.used < stop and not evaluate.exhausted and step > 1e-13 * max(1.0, sigma0):
        trial = _into_box(evaluate, x + step * directions[rng.permutation(2 * d)])
        values = evaluate(trial[: max(1, stop - evaluate.used)])
        k = int(np.argmin(values))
        if values[k] < f:
            x, f = trial[k], values[k]
            step *= 2.0
        else:
            step *= 0.5
    return x


def cma_local(evaluate: Tracker, x0: np.ndarray, sigma0: float, budget: int, rng: np.random.Generator,
              popsize_scale: float = 1.0) -> np.ndarray:
    """A default CMA-ES run started at ``x0`` with step ``sigma0``, until it converges or the budget ends.

    Returns ``refined [d]``.
    """
    stop = _limit(evaluate, budget)
    x0 = _into_box(evaluate, np.asarray(x0, dtype=np.float64))
    f0 = evaluate(x0)[0]
    d = x0.size
    state = new_state(x0, sigma0, max(4, int(popsize_scale * (4 + 3 * np.log(d)))))
    history: list[float] = []
    best_x, best_f = x0, f0
    while evaluate.used < stop and not evaluate.exhausted:
        offspring = _into_box(evaluate, sample_gaussian(state, rng))[: stop - evaluate.used]
        fitness = evaluate(offspring)
        if len(offspring) < state["lam"]:
            fitness = np.concatenate([fitness, np.full(state["lam"] - len(offspring), np.inf)])
            offspring = np.vstack([offspring, np.repeat(state["mean"][None], state["lam"] - len(offspring), 0)])
        k = int(np.argmin(fitness))
        if fitness[k] < best_f:
            best_x, best_f = offspring[k].copy(), fitness[k]
        state = cma_update(state, offspring, fitness)
        history.append(float(fitness.min()))
        if should_restart(state, history):
            break
    return best_x
