"""Parent selection: QUBE's UIQ bookkeeping, the length-biased draw and the island reset, worked by hand."""
from __future__ import annotations

import math
import random

import pytest

from beam.evaluate.service import Scored
from beam.selection import (IslandBook, QualityUncertainty, RankedPairs, SelectionConfig, length_probabilities,
                            quality, uiq)


def program(pid: int, fitness: float | None, length: int = 100) -> Scored:
    result = {"valid": fitness is not None, "fitness": fitness}
    return Scored(pid, "x" * length, result)


class Scripted:
    """A stand-in for random.Random: ``random()`` returns the scripted values, ``choice`` the last item."""

    def __init__(self, *values: float):
        self.values = list(values)

    def random(self) -> float:
        return self.values.pop(0)

    def choice(self, seq):
        return seq[-1]


# p1, p2 score 0.8 (one cluster), p3 0.6, p4 0.5
P1, P2, P3, P4 = program(1, 0.8, 100), program(2, 0.8, 150), program(3, 0.6, 120), program(4, 0.5, 200)


def worked_book(k: float) -> IslandBook:
    """Three steps by hand: (p1, p3) -> child 0.7; (p2, p1) -> child 0.9; (p4, p3) -> invalid child."""
    book = IslandBook(islands=1, capacity=4, k=k)
    book.absorb(0, [P3, P1, P4, P2])
    for parents, child in (((P1, P3), 0.7), ((P2, P1), 0.9), ((P4, P3), None)):
        book.step()
        for parent in parents:
            book.use(0, parent)
        if child is not None:
            book.credit(0, list(parents), child)
    return book


def test_uiq_bookkeeping_on_a_hand_worked_example():
    book = worked_book(k=0.1)
    assert [s.program_id for s in book.islands[0].members] == [1, 2, 3, 4]
    assert set(book.islands[0].clusters()) == {"0.8", "0.6", "0.5"}
    stats = book.islands[0].stats
    # cluster 0.8 supplied p1, p2, p1: N = 3; its offspring: 0.7 (via p1), 0.9 twice (via p2 and p1)
    assert (stats["0.8"].uses, stats["0.8"].offspring_count) == (3, 3)
    assert stats["0.8"].offspring_sum == pytest.approx(0.7 + 0.9 + 0.9)
    # cluster 0.6 supplied p3 twice; only the first child was valid
    assert (stats["0.6"].uses, stats["0.6"].offspring_count, stats["0.6"].offspring_sum) == (2, 1, 0.7)
    # cluster 0.5 supplied p4 once, whose child was invalid: Q falls back to its own score
    assert (stats["0.5"].uses, stats["0.5"].offspring_count) == (1, 0)
    assert book.t == 3
    assert quality(stats["0.8"], 0.8) == pytest.approx(2.5 / 3)
    assert quality(stats["0.5"], 0.5) == 0.5
    # step t = 4: Q~ = Q + k sqrt(ln 4 / N)
    expected = {"0.8": 2.5 / 3 + 0.1 * math.sqrt(math.log(4) / 3),   # 0.901311
                "0.6": 0.7 + 0.1 * math.sqrt(math.log(4) / 2),       # 0.783255
                "0.5": 0.5 + 0.1 * math.sqrt(math.log(4) / 1)}       # 0.617741
    ranked = book.ranked_clusters(0, t=4)
    assert [key for _, key, _ in ranked] == ["0.8", "0.6", "0.5"]
    for value, key, _ in ranked:
        assert value == pytest.approx(expected[key])
    assert expected["0.8"] == pytest.approx(0.901311, abs=1e-6)
    # a cluster never used as a parent counts N = 1; t below 1 counts as 1 (no uncertainty yet)
    assert uiq(None, 0.3, 4, 0.1) == pytest.approx(0.3 + 0.1 * math.sqrt(math.log(4)))
    assert uiq(None, 0.3, 0, 0.1) == 0.3


def test_uncertainty_turns_the_choice_to_less_used_clusters():
    # k = 1: Q~(0.8) = 0.8333 + 0.6798 = 1.513, Q~(0.6) = 0.7 + 0.8326 = 1.533, Q~(0.5) = 0.5 + 1.1774 = 1.677
    book = worked_book(k=1.0)
    pair = QualityUncertainty().pair(book, 0, random.Random(0))
    assert book.t == 4
    assert {p.program_id for p in pair} == {4, 3}
    # small k: quality dominates, the two parents come from clusters 0.8 and 0.6
    book = worked_book(k=0.01)
    first, second = QualityUncertainty().pair(book, 0, Scripted(0.0, 0.0))
    assert (first.program_id, second.program_id) == (1, 3)


def test_plan_counts_parents_and_orders_crossover_by_rank():
    book = worked_book(k=0.01)
    # 3 crossover draws (4 members), 4 mutation draws; only the first of each fires and then draws its programs
    rng = Scripted(0.1, 0.0, 0.0, 0.9, 0.9,  0.1, 0.0, 0.9, 0.9, 0.9)
    variations = QualityUncertainty().plan(book, 0, rng, crossover_rate=0.5, mutation_rate=0.5)
    assert [(v.role, v.parents) for v in variations] == [("crossover", [1, 3]), ("mutation", [1, 1])]
    assert book.t == 5
    stats = book.islands[0].stats
    assert stats["0.8"].uses == 3 + 1 + 2 and stats["0.6"].uses == 2 + 1


def test_length_biased_choice_by_hand():
    # lengths 100, 150, 250: l~ = 150/100 = 1.5, 100/100 = 1.0, 0  ->  weights e^1.5, e^1, e^0
    total = math.exp(1.5) + math.exp(1.0) + 1.0
    expected = [math.exp(1.5) / total, math.exp(1.0) / total, 1.0 / total]   # 0.5466, 0.3315, 0.1220
    assert length_probabilities([100, 150, 250]) == pytest.approx(expected, rel=1e-6)
    assert expected[0] == pytest.approx(0.5466, abs=1e-4)
    # T = 0.5 doubles the exponents
    total = math.exp(3.0) + math.exp(2.0) + 1.0
    assert length_probabilities([100, 150, 250], 0.5) == pytest.approx(
        [math.exp(3.0) / total, math.exp(2.0) / total, 1.0 / total], rel=1e-6)
    assert length_probabilities([80, 80]) == [0.5, 0.5]
    # the draw follows the cumulative intervals: [0, .5466) -> first, [.5466, .8781) -> second, rest -> third
    cluster = [program(10, 0.7, 100), program(11, 0.7, 150), program(12, 0.7, 250)]
    book = IslandBook(islands=1, capacity=3)
    book.absorb(0, cluster)
    picks = [QualityUncertainty().one(book, 0, Scripted(u)).program_id for u in (0.5, 0.6, 0.9)]
    assert picks == [10, 11, 12]
    counts = {10: 0, 11: 0, 12: 0}
    rng = random.Random(3)
    for _ in range(20000):
        counts[QualityUncertainty().one(book, 0, rng).program_id] += 1
    assert counts[10] / 20000 == pytest.approx(expected[0], abs=0.015)
    assert counts[12] / 20000 == pytest.approx(expected[2], abs=0.015)


def test_ranked_pairs_is_the_papers_algorithm_1():
    members = [program(1, 0.9), program(2, 0.8), program(3, 0.7)]
    book = IslandBook(islands=1, capacity=3)
    book.absorb(0, members)
    rng = Scripted(0.1, 0.9,  0.9, 0.2, 0.4)   # crossover draws for (1,2), (2,3); mutation draws for 1, 2, 3
    variations = RankedPairs().plan(book, 0, rng, crossover_rate=0.5, mutation_rate=0.5)
    assert [(v.role, v.parents) for v in variations] == [("crossover", [1, 2]), ("mutation", [2, 1]),
                                                       ("mutation", [3, 1])]
    assert book.t == 3 and book.islands[0].stats["0.9"].uses == 3


def island_book() -> IslandBook:
    """k = 0, so Q~ = Q: island 0 best 0.5, island 1 best 0.7, island 2 best 0.8."""
    book = IslandBook(islands=3, capacity=2, k=0.0)
    a, b, c, d, e = program(1, 0.9), program(2, 0.4), program(3, 0.7), program(4, 0.6), program(5, 0.6)
    book.absorb(0, [a, b])
    book.absorb(1, [c])
    book.absorb(2, [d, e])
    book.t = 6
    book.use(0, a)
    book.credit(0, [a], 0.5)          # cluster 0.9 of island 0: Q = 0.5; cluster 0.4: Q = 0.4 (own score)
    book.use(2, d)
    book.credit(2, [d], 0.8)          # cluster 0.6 of island 2: Q = 0.8
    return book


def test_reset_replaces_islands_below_the_median():
    book = island_book()
    assert [book.best_uiq(i) for i in range(3)] == [0.5, 0.7, 0.8]
    done = book.reset(Scripted())      # median 0.7: island 0 only; source: last survivor (2); its best cluster 0.6
    assert [(r["island"], r["from_island"], r["cluster"], r["program"]) for r in done] == [(0, 2, "0.6", 5)]
    assert [s.program_id for s in book.islands[0].members] == [5]
    assert book.islands[0].stats == {}
    assert [s.program_id for s in book.islands[1].members] == [3]
    assert [s.program_id for s in book.islands[2].members] == [4, 5]
    assert done[0]["median"] == 0.7


def test_reset_with_an_even_number_of_islands_and_ties():
    book = island_book()
    book.islands.append(type(book.islands[0])())
    book.absorb(3, [program(6, 0.75)])
    # values 0.5, 0.7, 0.8, 0.75: median (0.7 + 0.75) / 2 = 0.725 -> islands 0 and 1
    done = book.reset(Scripted())
    assert [r["island"] for r in done] == [0, 1]
    assert all(r["from_island"] == 3 for r in done)  # the last survivor, by the scripted choice
    equal = IslandBook(islands=2, capacity=1, k=0.0)
    equal.absorb(0, [program(1, 0.5)])
    equal.absorb(1, [program(2, 0.5)])
    assert equal.reset(Scripted()) == []              # nobody is below the median


def test_bad_selection_settings_are_refused():
    with pytest.raises(ValueError, match="selection scheme"):
        SelectionConfig(scheme="tournament")
    with pytest.raises(ValueError, match="islands"):
        SelectionConfig(islands=0)


def test_cli_refuses_more_islands_than_population(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-m", "beam.cli", "evolve", str(root / "problems" / "eplb"), "--islands", "5",
                           "--population", "4", "--run-dir", str(tmp_path / "run")], cwd=root, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2
    assert "--islands 5 needs a population of at least 5" in done.stderr
    assert not (tmp_path / "run").exists()
