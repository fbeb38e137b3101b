"""HeuBase for continuous black-box optimisation (BBOB): the classic pieces of evolution strategies,
differential evolution and local search, for composing whole optimisers under an evaluation budget.

* ``budget`` — :class:`Tracker`, the one door to the objective: counts evaluations, keeps the best point,
  never asks for more than the budget or past the time limit.
* ``cmaes`` — a compact CMA-ES as separate steps over a state dict: sampling, the full update
  (rank-one, rank-mu, cumulative step-size adaptation) and cheaper variants (diagonal, step size only).
* ``restart`` — when a run has converged or stalled, and the population size of the next run (IPOP, BIPOP).
* ``de`` — differential-evolution mutations and crossovers.
* ``boundary`` — ways to bring points back into the box.
* ``local`` — local refinement from a point: Nelder-Mead, (1+1)-ES with the 1/5th rule, coordinate
  search, a small CMA-ES run.
* ``design`` — initial space-filling designs.

Points are float64 ``[n, d]`` arrays (one row per point), the box is ``[lower, upper]^d``.
"""
