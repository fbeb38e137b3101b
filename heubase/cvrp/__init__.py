"""HeuBase for the capacitated vehicle routing problem (CVRP): split, constructors, local search, perturbation.

Conventions shared by every component (see ``problems/cvrp/signature.py``):
node 0 is the depot, customers are ``1..n``; ``coords`` is float ``[n+1, 2]``,
``dist`` the Euclidean matrix ``[n+1, n+1]``, ``demands`` ``[n+1]`` with
``demands[0] == 0``; a *giant tour* is a permutation of ``1..n`` (no depot);
*routes* is a list of lists of customer ids (depot left out), each route's
demand within ``capacity``. ``neighbours`` is ``[n+1, k]``: the k nearest
customers of each customer (row 0 unused).

Roles: ``construct`` builds giant tours (and Clarke-Wright routes), ``split``
cuts a giant tour into optimal routes (Prins), ``local_search`` improves routes
with relocate / swap / 2-opt / 2-opt* / or-opt moves on neighbour lists,
``perturb`` ruins and recreates routes or mutates giant tours, ``acceptance``
decides whether an iterated search moves to a new solution, ``host`` holds the
complete solvers (multi-start and iterated split + local search).
"""
