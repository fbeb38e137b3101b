"""heubase.eplb.kernels: the compiled dealing and swap kernels give the numpy code's plans exactly."""
from __future__ import annotations

import contextlib
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from eplb_cases import ODD_SHAPES, SHAPES, check_valid, odd_shape_loads, windows  # noqa: F401  (fixture)

from heubase.eplb import kernels, lean, replicate
from heubase.eplb.plan import checked_counts
from heubase.eplb.replicate import replicate_greedy

pytestmark = pytest.mark.skipif(kernels.DEAL_ROWS is None, reason="numba is not installed")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def numpy_only(monkeypatch):
    """Run the numpy code of lean (kernels switched off) inside the ``with`` block."""
    names = [(lean, name) for name in ("DEAL_ROWS", "SWAP_ROWS", "FINISH_ROWS", "REPACK_MOVES", "LAYOUT_ROWS",
                                       "PACK_ROWS", "NODE_ROWS")] + [(replicate, "SHARE_ROWS"), (replicate, "KEYS_ROWS")]

    class Switch:
        def __enter__(self):
            for module, name in names:
                monkeypatch.setattr(module, name, None)

        def __exit__(self, *exc):
            for module, name in names:
                monkeypatch.setattr(module, name, getattr(kernels, name))
    return Switch()


def _ordered(rng, batch: int, items: int, ties: bool) -> np.ndarray:
    values = rng.random((batch, items)) ** 3
    if ties:
        values = np.round(values * 5) / 5                                  # many equal items, zero items
    return -np.sort(-values, axis=1)


def test_the_automatic_switch_sums_items_in_order_on_both_paths(numpy_only):
    # rows whose items equal their mean up to rounding: the switch depends on the last bit of the mean
    rows = np.array([[0.1] * 12, [0.7] * 12, [1 / 3] * 6 + [0.2] * 6, [1e300] * 12, [0.3, 0.2, 0.1] * 4])
    ordered = -np.sort(-rows, axis=1)
    for m in (2, 3, 4, 6, 12):
        table, load = lean.deal_table(ordered, m)
        with numpy_only:
            want_table, want_load = lean.deal_table(ordered, m)
        assert np.array_equal(table, want_table) and np.array_equal(load, want_load), m


@pytest.mark.parametrize("seed", range(6))
def test_deal_table_kernel_is_the_numpy_dealing(seed, numpy_only):
    rng = np.random.default_rng(seed)
    for trial in range(60):
        m, c, batch = int(rng.integers(2, 70)), int(rng.integers(1, 12)), int(rng.integers(1, 12))
        ordered = _ordered(rng, batch, m * c, ties=trial % 4 == 0)
        spread = int(rng.integers(0, 3))
        switches = None if trial % 3 else [int(rng.integers(1, c + 1)) for _ in range(2)]
        table, load = lean.deal_table(ordered, m, switches, spread)
        with numpy_only:
            want_table, want_load = lean.deal_table(ordered, m, switches, spread)
        assert np.array_equal(table, want_table), (m, c, batch, spread, switches)
        assert np.array_equal(load, want_load)
        assert np.array_equal(np.sort(table, 1), np.tile(np.arange(m * c), (batch, 1)))   # every item once


@pytest.mark.parametrize("seed", range(6))
def test_swap_kernel_is_the_numpy_swaps(seed, numpy_only):
    rng = np.random.default_rng(100 + seed)
    for trial in range(60):
        m, c, batch = int(rng.integers(2, 70)), int(rng.integers(1, 12)), int(rng.integers(1, 12))
        ordered = _ordered(rng, batch, m * c, ties=trial % 4 == 0)
        table, load = lean.deal_table(ordered, m)
        rounds, pairs, near = int(rng.integers(1, 5)), int(rng.integers(1, 5)), [None, 0.0, 0.03][trial % 3]
        given = load.copy() if trial % 2 else None
        results = []
        for switch in (None, numpy_only):
            ids = table.reshape(batch, m, c).copy()
            w = np.take_along_axis(ordered, table, 1).reshape(batch, m, c)
            if switch is None:
                lean.swap_rounds_np(w, ids, rounds, near, pairs, given)
            else:
                with switch:
                    lean.swap_rounds_np(w, ids, rounds, near, pairs, given)
            results.append((ids, w))
        assert np.array_equal(results[0][0], results[1][0]), (m, c, batch, rounds, pairs, near)
        assert np.array_equal(results[0][1], results[1][1])


def test_swap_kernel_leaves_other_dtypes_to_numpy():
    w = np.array([[[6.0, 5.0, 1.0], [1.0, 2.0, 5.0]]], dtype=np.float32)
    ids = np.array([[[0, 1, 2], [3, 4, 5]]], dtype=np.int32)
    lean.swap_rounds_np(w, ids, 1, near=None)                               # no kernel signature: numpy runs
    assert ids.tolist() != [[[0, 1, 2], [3, 4, 5]]] and w.sum(2).max() < 12


SETTINGS = [dict(), dict(refine_rounds=4, near=None, pairs=1, repack=7),
            dict(refine_rounds=3, near=0.03, pairs=3, spread=1, repack=2), dict(switches=[1, 3], refine_rounds=1),
            dict(repack=3, repack_rounds=4, repack_gain=0.0), dict(switches=[2], repack=5, repack_rounds=2,
                                                                   repack_gain=-0.5)]


@pytest.mark.parametrize("name, slots, groups, nodes, gpus, hierarchical", SHAPES)
def test_plans_on_traffic_do_not_depend_on_the_kernels(windows, numpy_only, name, slots, groups, nodes, gpus,
                                                       hierarchical):
    for settings in SETTINGS:
        for weight in windows[:2]:
            plan = lean.rebalance_lean(weight, slots, groups, nodes, gpus, **settings)
            with numpy_only:
                want = lean.rebalance_lean(weight, slots, groups, nodes, gpus, **settings)
            assert all(torch.equal(a, b) for a, b in zip(plan, want)), (name, settings)
            check_valid(plan, weight, slots, groups, nodes, gpus, hierarchical)


@pytest.mark.parametrize("experts, slots, groups, nodes, gpus", ODD_SHAPES)
def test_plans_on_odd_shapes_do_not_depend_on_the_kernels(numpy_only, experts, slots, groups, nodes, gpus):
    weight = odd_shape_loads(experts, slots)
    for settings in SETTINGS:
        plan = lean.rebalance_lean(weight, slots, groups, nodes, gpus, **settings)
        with numpy_only:
            want = lean.rebalance_lean(weight, slots, groups, nodes, gpus, **settings)
        assert all(torch.equal(a, b) for a, b in zip(plan, want)), settings


def _run(code: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, capture_output=True, text=True,
                          timeout=240, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def test_without_numba_the_kernels_are_none_and_lean_plans_in_numpy(tmp_path):
    done = _run("""
        import sys
        sys.modules["numba"] = None                      # import numba -> ImportError
        import torch
        from heubase.eplb import kernels, lean, replicate
        assert kernels.DEAL_ROWS is None and kernels.SWAP_ROWS is None and lean.FINISH_ROWS is None
        p, l2p, cnt = lean.rebalance_lean(torch.rand(3, 16), 24, 4, 2, 4, repack=2)
        print(sorted(p[0].tolist()) == sorted(sum(([e] * int(c) for e, c in enumerate(cnt[0])), [])))
    """, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"


def test_a_kernel_numba_cannot_compile_is_a_warning_and_none():
    def not_numba(x):
        return {x: [x]}                                   # dicts of lists are not nopython code
    with pytest.warns(RuntimeWarning, match="numba could not compile not_numba"):
        assert kernels.compile_kernel(not_numba, "int64(int64)") is None


def test_a_stale_or_unloadable_cache_falls_back_to_compiling_in_memory(tmp_path):
    """A module loaded under a name Python cannot import again leaves a cache no later process can load."""
    (tmp_path / "dyn_kernel.py").write_text(textwrap.dedent("""
        from heubase.eplb.kernels import compile_kernel

        def plus_one(x):
            return x + 1

        PLUS_ONE = compile_kernel(plus_one, "int64(int64)")
    """))
    load = """
        import importlib.util, warnings
        warnings.simplefilter("error")
        spec = importlib.util.spec_from_file_location("not_importable", "dyn_kernel.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        print(module.PLUS_ONE(41))
    """
    for _ in range(2):                                   # the first writes the cache, the second cannot load it
        done = _run(load, tmp_path)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "42"
    assert list((tmp_path / "__pycache__").glob("dyn_kernel.plus_one-*.nbi"))


@pytest.mark.parametrize("seed", range(4))
def test_repack_kernel_is_hot_pack_experts_then_move_replicas(seed):
    rng = np.random.default_rng(200 + seed)
    for trial in range(50):
        m, c, batch = int(rng.integers(1, 20)), int(rng.integers(1, 8)), int(rng.integers(1, 8))
        n = int(rng.integers(max(1, m * c // 4), m * c + 1))                       # experts of a row
        weight = rng.random((batch, n)) ** 3
        if trial % 3 == 0:
            weight = np.round(weight * 4) / 4                                        # ties, idle experts
        counts = np.ones((batch, n), dtype=np.int64)
        for b in range(batch):                                                       # spread the spare slots
            np.add.at(counts[b], rng.integers(0, n, m * c - n), 1)
        if trial % 5 == 0:
            counts[0] = 1
            counts[0, 0] = m * c - n + 1                                             # one donor at most
        table = np.stack([rng.permutation(m * c) for _ in range(batch)])
        load = np.round(rng.random((batch, m)) * 3)                                  # equal pack loads
        src = np.sort(rng.integers(0, n, (batch, m * c)), axis=1) + np.arange(batch)[:, None] * n
        k = int(rng.integers(0, m + 2))
        moved = np.empty_like(counts)
        kernels.REPACK_MOVES(table, load, src, weight, counts, n, k, moved)
        want = lean.move_replicas(weight, counts, lean.hot_pack_experts(table, load, src, n, k))
        assert np.array_equal(moved, want), (m, c, batch, n, k)
        assert np.array_equal(moved.sum(1), counts.sum(1)) and (moved >= 1).all()


@pytest.mark.parametrize("seed", range(4))
def test_replica_order_resorts_a_row_after_some_values_change(seed):
    rng = np.random.default_rng(300 + seed)
    for trial in range(80):
        n = int(rng.choice([3, 9, 16, 17, 40, 64, 300]))
        old = rng.random(n) ** 3
        if trial % 3 == 0:
            old = np.round(old * 6) / 6                                            # ties, zeros
        order = lean.order_desc(old[None])[0].astype(np.int64)
        changed = rng.random(n) < rng.choice([0.0, 0.05, 0.3, 1.0])
        if trial % 4 == 0:
            changed[int(np.argmax(old))] = True                                   # the peak moves: new quantisation
        new = np.where(changed, rng.random(n) * rng.choice([0.5, 1.0, 3.0]), old)
        key, spare = np.empty(n, np.int64), np.empty(n, np.int64)
        kernels.REPLICA_ORDER(new, order, key, n > 16, changed, spare)
        assert order.tolist() == lean.order_desc(new[None])[0].tolist(), (n, trial)


def test_rows_of_up_to_16_gpus_take_the_fused_kernel(monkeypatch):
    calls = []

    def counted(*args):
        calls.append(args[3])
        return kernels.PACK_ROWS(*args)
    monkeypatch.setattr(lean, "PACK_ROWS", counted)
    weight = odd_shape_loads(256, 288)
    lean.rebalance_lean(weight, 288, 8, 4, 32, repack=6)                      # 8 GPUs per node
    lean.rebalance_lean(weight, 288, 8, 1, 24)                                # 24 GPUs: round-major dealing
    assert calls == [8]


def test_repack_rounds_skipped_by_the_bounds_plan_as_the_batch_code(numpy_only):
    # level rows (the mean bound stops them), one dominant expert (the heaviest replica stops them), rows at
    # the bounds' edge, and traffic: the fused kernel skips rounds that could not pass, with the same plans
    rng = np.random.default_rng(7)
    level = np.full((4, 64), 3.0)
    dominant = rng.random((4, 64))
    dominant[:, 5] = 500.0
    edge = np.ones((4, 64))
    edge[:, :8] = 1.0 + rng.random((4, 8)) * 0.05
    traffic = odd_shape_loads(64, 72)[:4].numpy()
    for loads in (level, dominant, edge, traffic):
        weight = torch.from_numpy(np.concatenate([loads] * 2))
        for settings in (dict(repack=4, repack_rounds=3), dict(repack=8, repack_rounds=2, repack_gain=0.0),
                         dict(repack=2, repack_gain=0.2), dict(repack=3, repack_gain=-0.1)):
            plan = lean.rebalance_lean(weight, 72, 4, 1, 8, **settings)
            with numpy_only:
                want = lean.rebalance_lean(weight, 72, 4, 1, 8, **settings)
            assert all(torch.equal(a, b) for a, b in zip(plan, want)), settings


@pytest.mark.parametrize("seed", range(3))
def test_node_rows_kernel_is_groups_to_nodes_then_the_gather(seed):
    rng = np.random.default_rng(400 + seed)
    for groups, nodes in [(2, 1), (2, 2), (4, 2), (8, 4), (8, 8), (16, 8), (6, 3), (12, 12)]:
        for ties in (False, True):
            size = int(rng.integers(1, 9))
            w = rng.random((int(rng.integers(1, 6)), groups * size)) ** 3
            if ties:
                w = np.round(w * 3) / 3                              # equal group loads, idle groups
                w[0] = 0.0
            members, node_w = lean._node_rows(w, groups, nodes)
            want = lean._groups_to_nodes(w, groups, nodes)
            assert np.array_equal(members, want), (groups, nodes, ties)
            assert np.array_equal(node_w, np.take(w, want + lean._row_offsets(w.shape[0], w.shape[1], nodes)))


@pytest.mark.parametrize("seed", range(3))
def test_share_kernel_is_the_numpy_apportionment(seed, monkeypatch):
    rng = np.random.default_rng(500 + seed)
    for trial in range(120):
        batch, n = int(rng.integers(1, 9)), int(rng.choice([1, 2, 7, 16, 17, 64, 256]))
        weight = rng.random((batch, n)) ** 4 * 1000
        if trial % 3 == 0:
            weight = np.round(weight / 100)                                 # ties, zeros, whole quotas
        if trial % 7 == 0:
            weight[0] = 0.0                                                 # an idle row: the numpy code rescales
        if trial % 11 == 0:
            weight[-1] *= 1e290                                             # a huge row: rescaled too
        slots = n + int(rng.choice([0, 1, 3, n // 2 + 1, n, 3 * n + 5]))
        counts = replicate.proportional_shares(weight, slots)
        with monkeypatch.context() as patch:
            patch.setattr(replicate, "SHARE_ROWS", None)
            want = replicate.proportional_shares(weight, slots)
        assert np.array_equal(counts, want), (batch, n, slots, trial)
        assert (counts.sum(1) == slots).all() and (counts >= 1).all()


@pytest.mark.parametrize("seed", range(3))
def test_keys_kernel_is_the_numpy_quantisation(seed, monkeypatch):
    rng = np.random.default_rng(700 + seed)
    for trial in range(60):
        batch, n = int(rng.integers(1, 9)), int(rng.choice([2, 17, 64, 256, 1000]))
        values = rng.random((batch, n)) ** 5 * 10.0 ** float(rng.integers(-300, 300))
        if trial % 3 == 0:
            values = np.round(values / values.max() * 4)                    # ties, zeros
        if trial % 5 == 0:
            values[0] = 0.0                                                 # an idle row
        keys, bits = replicate.descending_keys(values)
        with monkeypatch.context() as patch:
            patch.setattr(replicate, "KEYS_ROWS", None)
            want, want_bits = replicate.descending_keys(values)
        assert bits == want_bits and keys.dtype == want.dtype == np.int32
        assert np.array_equal(keys, want), (batch, n, trial)
        if trial % 3 == 0:                                                  # levels far apart: the exact order
            order = np.sort(keys, axis=1) & ((1 << bits) - 1)
            assert np.array_equal(order, np.argsort(-values, axis=1, kind="stable"))


def test_kernels_take_float32_and_strided_loads(numpy_only):
    weight = torch.from_numpy(np.random.default_rng(9).random((64, 12)) ** 3).T        # [12, 64], not contiguous
    for w in (weight, weight.float()):
        plan = lean.rebalance_lean(w, 96, 4, 2, 16, repack=3, refine_rounds=2)
        with numpy_only:
            want = lean.rebalance_lean(w, 96, 4, 2, 16, repack=3, refine_rounds=2)
        assert all(torch.equal(a, b) for a, b in zip(plan, want))


# ---------------------------------------------------------------- odd inputs (a review's findings)

def test_direct_calls_with_inf_nan_and_read_only_inputs_match_numpy(numpy_only):
    rng = np.random.default_rng(11)
    for m, switches in [(2, [1, 2]), (4, None), (20, [1, 2]), (20, None)]:
        ordered = -np.sort(-rng.random((3, 40)), axis=1)
        ordered[0] = np.inf                                                    # every peak infinite
        ordered[1, 5] = np.nan
        ordered.flags.writeable = False
        got = lean.deal_table(ordered, m, switches, spread=1)
        with numpy_only, np.errstate(invalid="ignore"):                          # numpy's keys of NaN and inf
            want = lean.deal_table(ordered, m, switches, spread=1)
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1], equal_nan=True), (m, switches)
    for pairs, near in [(1, None), (2, None), (2, 0.03)]:
        w = rng.random((2, 4, 5))
        w[0, 1, 2] = np.nan
        results = []
        for switch in (None, numpy_only):
            ids, weights = np.arange(40).reshape(2, 4, 5), w.copy()
            load = weights.sum(2)
            load.flags.writeable = False
            with switch or contextlib.nullcontext():
                lean.swap_rounds_np(weights, ids, 2, near, pairs, load)
            results.append(ids)
        assert np.array_equal(*results), (pairs, near)


def test_one_row_swaps_sum_items_in_order_as_the_kernel(numpy_only):
    weight = torch.tensor([[1.7, .3, 1.2, .2, 1.4, 1.3, 1.3, 1.8, .4, 2.8, 2.1, 2.5, 2.7, 1.7, .1, 2.1]], dtype=torch.float64)
    plan = lean.rebalance_lean(weight, 32, 1, 1, 2)                             # one row, 16 slots per GPU
    with numpy_only:
        want = lean.rebalance_lean(weight, 32, 1, 1, 2)
    assert all(torch.equal(a, b) for a, b in zip(plan, want))


def test_swap_tables_of_other_shapes_go_to_numpy_and_fail_there():
    w, ids = np.random.default_rng(1).random((4, 3, 2)), np.zeros((1, 3, 2), dtype=np.int64)
    with pytest.raises(IndexError):
        lean.swap_rounds_np(w, ids, 1, None)
    ids = np.arange(24).reshape(4, 3, 2)
    lean.swap_rounds_np(w, ids, 1, None, 1, w[:1].sum(2))                      # a [1, m] load broadcasts, as numpy does
    assert np.array_equal(np.sort(ids.reshape(4, -1), 1), np.arange(24).reshape(4, 6))


def test_huge_strided_loads_and_huge_arguments(numpy_only):
    rng = np.random.default_rng(3)
    cases = [(torch.from_numpy(np.ascontiguousarray(rng.random((16, 4)).T)).T, 32, 1, 1, 4, dict(repack=1)),
             (torch.full((1, 8), 1.5e308, dtype=torch.float64), 16, 1, 1, 2, dict(switches=[1, 2])),
             (torch.from_numpy(rng.random((2, 32)) * 1.6e308), 64, 1, 1, 8, dict(repack=1, power=0.0)),
             (torch.rand(3, 16, generator=torch.Generator().manual_seed(2)), 32, 4, 2, 4,
              dict(pairs=2 ** 62, repack=2 ** 63, refine_rounds=3))]
    for weight, slots, groups, nodes, gpus, settings in cases:
        plan = lean.rebalance_lean(weight, slots, groups, nodes, gpus, **settings)
        with numpy_only:
            want = lean.rebalance_lean(weight, slots, groups, nodes, gpus, **settings)
        assert all(torch.equal(a, b) for a, b in zip(plan, want)), settings
        check_valid(plan, weight.float().nan_to_num(), slots, groups, nodes, gpus, False)


def test_a_replicator_cannot_change_the_loads_and_counts_cannot_wrap():
    weight = torch.rand(2, 8, dtype=torch.float64)
    before = weight.clone()

    def spoiler(loads, slots):
        counts = replicate_greedy(loads, slots)
        loads.fill_(float("nan"))
        return counts
    lean.rebalance_lean(weight, 16, 1, 1, 2, switches=[1, 2], replicate=spoiler)
    assert torch.equal(weight, before)
    wrapping = torch.tensor([[2 ** 63 - 1, 2 ** 63 - 1, 5, 5]])
    with pytest.raises(ValueError, match="more than the 8 replicas"):
        checked_counts(wrapping, torch.ones(1, 4), 8)


def test_a_nan_start_load_for_the_swaps_is_handled_as_numpy_does(numpy_only):
    w = np.random.default_rng(4).random((3, 4, 5))
    load = w.sum(2)
    load[1, 2] = np.nan
    results = []
    for switch in (contextlib.nullcontext(), numpy_only):
        ids, weights = np.arange(60).reshape(3, 4, 5), w.copy()
        with switch:
            lean.swap_rounds_np(weights, ids, 2, None, 1, load)
        results.append(ids)
    assert np.array_equal(*results)
