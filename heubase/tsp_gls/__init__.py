"""HeuBase for the TSP with guided local search (GLS).

All components work on a dense symmetric ``distance [n, n]`` matrix (float64)
and on tours given as permutations ``tour [n]`` of the cities 0..n-1 (the
cycle closes from the last city back to the first).

* ``tours``: tour length, positions, neighbour lists (plain helpers);
* ``construct``: start tours (nearest neighbour, greedy edge);
* ``moves``: vectorised best-improvement 2-opt and or-opt moves;
* ``local_search``: descent to a local optimum with those moves;
* ``gls``: the guided-local-search host (penalties on tour edges, augmented costs);
* ``guides``: edge guides ``guide [n, n]`` (how bad an edge looks; the GLS utility's numerator);
* ``utilities``: GLS utilities ``utility [m]`` of the tour's edges from their guide and penalty.
"""
