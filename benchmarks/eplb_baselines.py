"""EPLB baselines side by side: the reference, HeuBase compositions and the oracle.

Every row is a real solver file scored by the real evaluator (sandboxed, timed
call for call against the reference in the same run).

    python benchmarks/eplb_baselines.py [--split validation|test] [--markdown] [--per-shape] [--only TEXT]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from beam.problem import load_problem  # noqa: E402

COMPOSITION = '''
from heubase.eplb.hierarchical import finish_plan, is_hierarchical, place_hierarchical
from heubase.eplb.pack import {pack}
from heubase.eplb.replicate import {replicate}
{refine_import}

def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    weight = weight.float()
    if not is_hierarchical(num_groups, num_nodes):
        num_groups = num_nodes = 1
    phy2log = place_hierarchical(weight, num_replicas, num_groups, num_nodes, num_gpus,
                                 replicate={replicate}, pack={pack}, refine={refine})
    return finish_plan(phy2log, weight.shape[1])
'''

PER_LAYER = '''
from heubase.eplb.reference import rebalance_experts_per_layer as rebalance_experts
'''

FAST = '''
from heubase.eplb.fast import rebalance_fast as rebalance_experts
'''

FAST_PROPORTIONAL = '''
from heubase.eplb.fast import rebalance_fast
from heubase.eplb.replicate import replicate_proportional


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    return rebalance_fast(weight, num_replicas, num_groups, num_nodes, num_gpus, replicate=replicate_proportional)
'''

LEAN = '''
from heubase.eplb.lean import rebalance_lean as rebalance_experts
'''

LEAN_REPACK = '''
from heubase.eplb.lean import rebalance_lean


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    return rebalance_lean(weight, num_replicas, num_groups, num_nodes, num_gpus, repack=6)
'''

SOURCES = {None: PER_LAYER, "fast": FAST, "fast-proportional": FAST_PROPORTIONAL, "lean": LEAN,
           "lean-repack": LEAN_REPACK}

ROWS = [
    ("greedy + LPT, per-layer Python loops (DeepSeek's structure)", None),
    ("topk replicate + LPT", ("replicate_topk", "pack_lpt", None)),
    ("greedy + snake", ("replicate_greedy", "pack_snake", None)),
    ("greedy + Karmarkar-Karp", ("replicate_greedy", "pack_karmarkar_karp", None)),
    ("greedy + lookahead", ("replicate_greedy", "pack_lookahead", None)),
    ("greedy + LPT + swap_max_min", ("replicate_greedy", "pack_lpt", "swap_max_min")),
    ("greedy + LPT + swap_pairs", ("replicate_greedy", "pack_lpt", "swap_pairs")),
    ("greedy + KK + swap_all_pairs", ("replicate_greedy", "pack_karmarkar_karp", "swap_all_pairs")),
    ("topk + snake + swap_all_pairs", ("replicate_topk", "pack_snake", "swap_all_pairs")),
    ("fast pipeline (heubase.eplb.fast.rebalance_fast)", "fast"),
    ("fast pipeline, proportional replication (replicate_proportional)", "fast-proportional"),
    ("the same in numpy (heubase.eplb.lean.rebalance_lean)", "lean"),
    ("the same, packing-aware replica moves (rebalance_lean repack=6)", "lean-repack"),
]


def composition_source(replicate: str, pack: str, refine: str | None) -> str:
    """Solver module for one HeuBase composition."""
    return textwrap.dedent(COMPOSITION).format(
        replicate=replicate, pack=pack, refine=refine or "None",
        refine_import=f"from heubase.eplb.refine import {refine}" if refine else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="validation", choices=["train", "validation", "test"])
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--per-shape", action="store_true",
                        help="also print next- and same-window GPU balance and ms per call for every shape")
    parser.add_argument("--only", metavar="TEXT", help="score only the rows whose name contains TEXT "
                                                       "(the reference always runs)")
    args = parser.parse_args(argv)
    problem = load_problem(ROOT / "problems" / "eplb")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        entries = [("reference (vectorised DeepSeek-equivalent)", problem.file("reference"))]
        for name, parts in ROWS:
            if args.only and args.only not in name:
                continue
            path = Path(tmp) / f"solver_{len(entries)}.py"
            path.write_text(composition_source(*parts) if isinstance(parts, tuple) else SOURCES[parts])
            entries.append((name, path))
        for name, path in entries:
            print(f"evaluating: {name}", file=sys.stderr, flush=True)
            result = problem.evaluate(path, split=args.split)
            if not result["valid"]:
                rows.append((name, None, result["error"]))
                continue
            rows.append((name, result, None))
    reference = rows[0][1]
    _print_table(args, reference, rows)
    if args.per_shape:
        _print_per_shape(args.markdown, rows)
    return 0


def _print_table(args: argparse.Namespace, reference: dict, rows: list[tuple[str, dict | None, str | None]]) -> None:
    header = ["solver", "bal GPU next", "bal GPU same", "bal slot next", "ms/call", "speedup", "fitness"]
    table = []
    for name, result, error in rows:
        if result is None:
            table.append([name, "invalid: " + error[:60], "", "", "", "", ""])
            continue
        table.append([name, f"{result['balancedness_gpu']:.4f}", f"{result['balancedness_gpu_same_window']:.4f}",
                      f"{result['balancedness_expert']:.4f}", f"{result['ms_per_call']:.2f}",
                      f"{result['speedup_vs_reference']:.2f}", f"{result['fitness']:.4f}"])
    oracle = reference["reference"]
    table.append(["oracle: reference planned on the scored window", f"{oracle['balancedness_gpu_same_window']:.4f}",
                  "", "", "", "", ""])
    print(f"\nEPLB baselines, split={args.split}, default shape {reference['default_shape']}, "
          f"windows {reference['windows']}; fitness = mean over {len(reference['shapes'])} shapes")
    print_table(header, table, args.markdown)


def _print_per_shape(markdown: bool, rows: list[tuple[str, dict | None, str | None]]) -> None:
    """Next- and same-window GPU balance and ms per call of every valid row on every shape, the reference's
    own figures from each row's run beside them (minus: below the reference)."""
    header = ["solver", "shape", "next", "same", "ms/call", "next - ref", "same - ref", "ref ms"]
    table = []
    for name, result, _ in rows:
        for shape, figures in (result or {}).get("shapes", {}).items():
            ref = figures["reference"]
            table.append([name, shape, f"{figures['balancedness_gpu']:.4f}",
                          f"{figures['balancedness_gpu_same_window']:.4f}", f"{figures['ms_per_call']:.2f}",
                          f"{figures['balancedness_gpu'] - ref['balancedness_gpu']:+.4f}",
                          f"{figures['balancedness_gpu_same_window'] - ref['balancedness_gpu_same_window']:+.4f}",
                          f"{ref['ms_per_call']:.2f}"])
    print("\nper shape (each row's reference figures come from its own run, timed call for call beside it)")
    print_table(header, table, markdown)


def print_table(header: list[str], rows: list[list[str]], markdown: bool) -> None:
    """A Markdown or plain aligned table."""
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "|".join("---" for _ in header) + "|")
        for row in rows:
            print("| " + " | ".join(row) + " |")
        return
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))


if __name__ == "__main__":
    sys.exit(main())
