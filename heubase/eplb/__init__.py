"""EPLB components: replication, packing, refinement, hierarchical placement.

Conventions shared by every module here:

* ``weight`` is a ``[L, E]`` tensor of expert loads (tokens) per layer.
* A *packing* of ``n`` items into ``m`` packs is an int64 tensor ``[B, n]`` giving
  each item's pack; every pack holds exactly ``n // m`` items (a GPU has a fixed
  number of expert slots).
* Slot ``r`` of ``R`` lives on GPU ``r // (R // num_gpus)``.
"""
