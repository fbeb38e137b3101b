"""BEAM: bi-level evolution of complete solvers (exterior GA over skeletons, interior MCTS education)."""
__version__ = "0.1.0"
