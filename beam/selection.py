"""Parent selection and islands for the exterior layer.

Two selectors share one interface, :meth:`plan`, which turns one island's
members into the generation's variations (which parents, which operator):

* :class:`RankedPairs` — the BEAM paper's Algorithm 1 (the default):
  consecutive ranked pairs are crossed with probability ``crossover_rate``,
  every member is mutated towards the island's elite with probability
  ``mutation_rate``.
* :class:`QualityUncertainty` — QUBE's quality–uncertainty criterion
  (seeds/001, section 4): members are grouped into *clusters* of equal score;
  per cluster C, ``Q(C)`` is the mean score of all offspring whose parents
  came from C and ``N(C)`` how often C supplied a parent; the uncertainty-
  inclusive quality is ``Q~(C) = Q(C) + k * sqrt(ln t / N(C))`` at step ``t``.
  A crossover takes its two parents from the two clusters of highest ``Q~``,
  a mutation its current program from the best one; within a cluster a
  program is drawn with probability proportional to ``exp(l~ / T_prog)``,
  ``l~ = (max_len - len) / (min_len + 1e-6)``, favouring shorter sources.

Two conventions the paper leaves open: a cluster that never supplied a parent
counts ``N = 1`` (its own evaluation is one observation, so ``Q~`` stays
finite and comparable across islands), and a cluster without a scored
offspring has ``Q`` equal to its own score.

:class:`IslandBook` holds the islands, their cluster statistics and the
step counter ``t`` as plain data (:meth:`IslandBook.state` is JSON). Every
``reset_interval`` generations, islands whose best ``Q~`` is below the median
are reset to one random program of the best cluster of a random surviving
island (:meth:`IslandBook.reset`).

>>> import random
>>> from beam.evaluate.service import Scored
>>> book = IslandBook(islands=1, capacity=3)
>>> book.absorb(0, [Scored(1, "a" * 10, {"valid": True, "fitness": 0.5}),
...                 Scored(2, "b" * 10, {"valid": True, "fitness": 0.7})])
>>> [v.role for v in RankedPairs().plan(book, 0, random.Random(1), 1.0, 0.0)]
['crossover']
"""
from __future__ import annotations

import math
import random
import statistics
from dataclasses import dataclass, field
from typing import Any, Protocol

from beam.evaluate.service import Scored, rank_key

SCHEMES = ("ranked", "qube")
INVALID = "invalid"


@dataclass
class SelectionConfig:
    """Selection settings; ``reset_interval`` is in generations (0: never)."""

    scheme: str = "ranked"
    islands: int = 1
    reset_interval: int = 2
    k: float = 0.001
    temperature: float = 1.0

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise ValueError(f"unknown selection scheme {self.scheme!r}; choose one of {', '.join(SCHEMES)}")
        if self.islands < 1:
            raise ValueError(f"islands must be at least 1 (got {self.islands})")
        if self.reset_interval < 0:
            raise ValueError(f"reset interval must be 0 (never) or more generations (got {self.reset_interval})")
        if self.temperature <= 0:
            raise ValueError(f"the program temperature must be positive (got {self.temperature})")


def cluster_key(scored: Scored) -> str:
    """Programs with the same key form one cluster: equal score (10 significant digits), or invalid."""
    return INVALID if scored.fitness is None else format(float(scored.fitness), ".10g")


@dataclass
class ClusterStats:
    """What a cluster did as a parent: ``uses`` is N(C); offspring scores sum and count give Q(C)."""

    uses: int = 0
    offspring_sum: float = 0.0
    offspring_count: int = 0


@dataclass
class Variation:
    """One planned operator call: crossover (``first`` better, ``second`` worse) or mutation (current, elite)."""

    role: str
    first: Scored
    second: Scored
    island: int

    @property
    def parents(self) -> list[int]:
        return [self.first.program_id, self.second.program_id]


@dataclass
class Island:
    """Members best first, and statistics per cluster key."""

    members: list[Scored] = field(default_factory=list)
    stats: dict[str, ClusterStats] = field(default_factory=dict)

    def clusters(self) -> dict[str, list[Scored]]:
        """Members grouped by :func:`cluster_key`, in rank order of their best member."""
        out: dict[str, list[Scored]] = {}
        for scored in self.members:
            out.setdefault(cluster_key(scored), []).append(scored)
        return out


def quality(stats: ClusterStats | None, own_score: float | None) -> float:
    """Q(C): mean offspring score, or the cluster's own score before any offspring was scored."""
    if stats is not None and stats.offspring_count:
        return stats.offspring_sum / stats.offspring_count
    return -math.inf if own_score is None else float(own_score)


def uiq(stats: ClusterStats | None, own_score: float | None, t: int, k: float) -> float:
    """Q~(C) = Q(C) + k sqrt(ln t / N(C)), with N(C) counted as at least 1 and t as at least 1."""
    uses = max(1, stats.uses if stats is not None else 0)
    return quality(stats, own_score) + k * math.sqrt(math.log(max(1, t)) / uses)


def length_probabilities(lengths: list[int], temperature: float = 1.0) -> list[float]:
    """Probability of each program in a cluster: ∝ exp(l~ / T), l~ = (max - len) / (min + 1e-6)."""
    longest, shortest = max(lengths), min(lengths)
    weights = [math.exp((longest - n) / (shortest + 1e-6) / temperature) for n in lengths]
    total = sum(weights)
    return [w / total for w in weights]


def _draw(rng: random.Random, programs: list[Scored], temperature: float) -> Scored:
    probabilities = length_probabilities([len(p.source) for p in programs], temperature)
    return programs[_index(rng.random(), probabilities)]


def _index(u: float, probabilities: list[float]) -> int:
    """The index whose cumulative interval holds ``u`` in [0, 1)."""
    total = 0.0
    for index, p in enumerate(probabilities):
        total += p
        if u < total:
            return index
    return len(probabilities) - 1


class IslandBook:
    """Islands, their cluster statistics and the step counter: the selection state of a run."""

    def __init__(self, islands: int, capacity: int, k: float = 0.001):
        self.islands = [Island() for _ in range(islands)]
        self.capacity = capacity
        self.k = k
        self.t = 0

    # ----------------------------------------------------------- bookkeeping
    def step(self) -> int:
        """Start a selection step (one operator call); returns its t (1, 2, ...)."""
        self.t += 1
        return self.t

    def use(self, island: int, parent: Scored) -> None:
        """``parent`` was chosen as a parent: N(C) of its cluster grows by one."""
        self.islands[island].stats.setdefault(cluster_key(parent), ClusterStats()).uses += 1

    def credit(self, island: int, parents: list[Scored], score: float) -> None:
        """An offspring of ``parents`` scored ``score``: it counts once per parent in Q of that parent's cluster."""
        for parent in parents:
            stats = self.islands[island].stats.setdefault(cluster_key(parent), ClusterStats())
            stats.offspring_sum += float(score)
            stats.offspring_count += 1

    def absorb(self, island: int, newcomers: list[Scored]) -> None:
        """Add programs to an island and keep its ``capacity`` best (Algorithm 1's Select)."""
        unique = {s.program_id: s for s in self.islands[island].members + newcomers}
        self.islands[island].members = sorted(unique.values(), key=rank_key)[: self.capacity]

    def population(self) -> list[Scored]:
        """All islands' members, best first, each program once."""
        unique = {s.program_id: s for island in self.islands for s in island.members}
        return sorted(unique.values(), key=rank_key)

    # ----------------------------------------------------------- quality
    def ranked_clusters(self, island: int, t: int | None = None) -> list[tuple[float, str, list[Scored]]]:
        """``(Q~, key, members)`` of an island's clusters, highest Q~ first (ties: higher score, then key)."""
        t = self.t if t is None else t
        isl = self.islands[island]
        rows = [(uiq(isl.stats.get(key), members[0].fitness, t, self.k), key, members)
                for key, members in isl.clusters().items()]
        score = lambda row: row[2][0].fitness if row[2][0].fitness is not None else -math.inf  # noqa: E731
        return sorted(rows, key=lambda row: (-row[0], -score(row), row[1]))

    def best_uiq(self, island: int) -> float:
        """The island's quality for resets: the highest Q~ of its clusters (-inf when empty)."""
        ranked = self.ranked_clusters(island)
        return ranked[0][0] if ranked else -math.inf

    # ----------------------------------------------------------- reset
    def reset(self, rng: random.Random) -> list[dict[str, Any]]:
        """Reset islands whose best Q~ is below the median; returns what was done (for the log)."""
        values = [self.best_uiq(i) for i in range(len(self.islands))]
        median = statistics.median(values)
        losers = [i for i, v in enumerate(values) if v < median]
        survivors = [i for i in range(len(self.islands)) if i not in losers and self.islands[i].members]
        done: list[dict[str, Any]] = []
        if not survivors:
            return done
        for island in losers:
            source = rng.choice(survivors)
            _, key, members = self.ranked_clusters(source)[0]
            seed = rng.choice(members)
            self.islands[island] = Island(members=[seed])
            done.append({"island": island, "from_island": source, "cluster": key, "program": seed.program_id,
                         "best_uiq": values, "median": median})
        return done

    # ----------------------------------------------------------- persistence
    def state(self) -> dict[str, Any]:
        """Plain JSON of the whole selection state (stored in the run database every generation)."""
        return {"t": self.t, "capacity": self.capacity, "k": self.k, "islands": [
            {"members": [s.program_id for s in island.members],
             "clusters": {key: [st.uses, st.offspring_sum, st.offspring_count]
                          for key, st in sorted(island.stats.items())}}
            for island in self.islands]}


class Selector(Protocol):
    """Plans one island's variations for a generation (and records the parent choices in the book)."""

    def plan(self, book: IslandBook, island: int, rng: random.Random,
             crossover_rate: float, mutation_rate: float) -> list[Variation]: ...


def _record(book: IslandBook, variation: Variation) -> Variation:
    """Count both parents of a planned variation in N of their clusters."""
    for parent in (variation.first, variation.second):
        book.use(variation.island, parent)
    return variation


class RankedPairs:
    """Algorithm 1 of the BEAM paper, per island: ranked consecutive pairs, elitist mutation."""

    def plan(self, book: IslandBook, island: int, rng: random.Random,
             crossover_rate: float, mutation_rate: float) -> list[Variation]:
        ranked = book.islands[island].members
        out: list[Variation] = []
        for better, worse in zip(ranked, ranked[1:]):
            if rng.random() < crossover_rate:
                book.step()
                out.append(_record(book, Variation("crossover", better, worse, island)))
        elite = ranked[0] if ranked else None
        for current in ranked:
            if elite is not None and rng.random() < mutation_rate:
                book.step()
                out.append(_record(book, Variation("mutation", current, elite, island)))
        return out


@dataclass
class QualityUncertainty:
    """QUBE parent selection: parents from the clusters of highest Q~, shorter programs favoured.

    Per generation it makes as many operator draws as :class:`RankedPairs` (one
    crossover draw per consecutive pair, one mutation draw per member), so the
    two schemes spend the same budget; only who the parents are differs.
    """

    temperature: float = 1.0

    def plan(self, book: IslandBook, island: int, rng: random.Random,
             crossover_rate: float, mutation_rate: float) -> list[Variation]:
        members = book.islands[island].members
        out: list[Variation] = []
        for _ in range(max(0, len(members) - 1)):
            if rng.random() < crossover_rate:
                pair = self.pair(book, island, rng)
                if pair is not None:
                    better, worse = sorted(pair, key=rank_key)
                    out.append(_record(book, Variation("crossover", better, worse, island)))
        elite = members[0] if members else None
        for _ in members:
            if elite is not None and rng.random() < mutation_rate:
                current = self.one(book, island, rng)
                out.append(_record(book, Variation("mutation", current, elite, island)))
        return out

    def one(self, book: IslandBook, island: int, rng: random.Random) -> Scored:
        """Step t: one program of the cluster of highest Q~ (the current program of a mutation)."""
        return _draw(rng, book.ranked_clusters(island, book.step())[0][2], self.temperature)

    def pair(self, book: IslandBook, island: int, rng: random.Random) -> tuple[Scored, Scored] | None:
        """Step t: one program from each of the two clusters of highest Q~ (two of one cluster if it is alone)."""
        ranked = book.ranked_clusters(island, book.step())
        if len(ranked) >= 2:
            return _draw(rng, ranked[0][2], self.temperature), _draw(rng, ranked[1][2], self.temperature)
        members = ranked[0][2] if ranked else []
        if len(members) < 2:
            return None
        first = _draw(rng, members, self.temperature)
        rest = [m for m in members if m.program_id != first.program_id]
        return first, _draw(rng, rest, self.temperature)


def make_selector(config: SelectionConfig) -> Selector:
    """The selector a :class:`SelectionConfig` names."""
    return QualityUncertainty(config.temperature) if config.scheme == "qube" else RankedPairs()
