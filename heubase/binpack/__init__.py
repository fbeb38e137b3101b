"""HeuBase for online bin packing: classic placement rules and priority-shaping terms.

Every component scores the bins shown for one arriving item (see
``problems/binpack/signature.py``): ``f(item, bins_remain_cap) -> np.ndarray``.
``rules`` return a whole ``priority [n]`` (first fit, best fit, worst fit, …);
``shaping`` returns additive ``shaping [n]`` terms of order one (tight-fit bonus,
waste penalty, size-class matching, …) to add to a rule with a weight.
The bin capacity is ``bins_remain_cap.max()`` (the view always ends with a fresh bin).
"""
