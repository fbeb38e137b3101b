"""Reference solver: best fit (FunSearch's starting point), scored beside every candidate."""
from heubase.binpack.rules import best_fit as priority

__all__ = ["priority"]
