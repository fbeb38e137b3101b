"""HeuBase for maximum independent set: constructors, repairs, ARW local search and an RLSA sampler.

Graphs come as CSR arrays ``indptr [n + 1]`` and ``indices [2 m]`` (symmetric,
no self-loops; see ``problems/mis/signature.py``). Sets are boolean masks
``[n]`` inside the components; the solver returns ``np.flatnonzero(mask)``.

* ``construct``: start sets (``start_mask``): min-degree greedy, random maximal, degree-0/1 reductions;
* ``repair``: any 0/1 vector -> a maximal independent set (``repaired_mask``);
* ``local_search``: ARW (1,2)-swaps and iterated local search (``improved_mask``);
* ``proposal`` / ``schedule``: the flip logits and temperature of the RLSA sampler;
* ``rlsa``: the host sampler (parallel chains on -|S| + penalty x edges inside S);
* ``graph``: small shared helpers (degrees, tightness, sparse adjacency).
"""
