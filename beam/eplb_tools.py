"""``beam eplb inspect | export``: look at a real expert-load trace, and deploy a solver's plan.

The trace formats live in ``problems/eplb/traces.py`` and the export formats in
``problems/eplb/export.py``; this module only parses arguments and prints.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

from beam.problem import import_by_path

EPLB = Path(__file__).resolve().parents[1] / "problems" / "eplb"


def eplb_module(name: str):
    """A module of ``problems/eplb`` (the folder is not a package)."""
    return import_by_path(EPLB / f"{name}.py", f"beam_problem_eplb_{name}")


def default_shape(experts: int, args: argparse.Namespace) -> dict[str, int]:
    """Cluster shape from the options; unset ones default to a DeepSeek-like cluster for ``experts``."""
    gpus = args.gpus or 32
    groups = args.groups or (8 if experts % 8 == 0 else 1)
    nodes = args.nodes or (4 if gpus % 4 == 0 else 1)
    replicas = args.replicas or gpus * math.ceil((experts + experts // 8) / gpus)
    return {"num_replicas": replicas, "num_groups": groups, "num_nodes": nodes, "num_gpus": gpus}


def skew_stats(weight: np.ndarray, top_k: int) -> dict[str, float]:
    """Per-layer skew of ``weight [L, E]`` averaged over layers with traffic: max/mean, CV, top-k share."""
    rows = weight.astype(np.float64)
    rows = rows[rows.sum(1) > 0]
    mean = rows.mean(1)
    ordered = -np.sort(-rows, axis=1)
    return {"max_over_mean": float((ordered[:, 0] / mean).mean()),
            "cv": float((rows.std(1) / mean).mean()),
            f"top{top_k}_share": float((ordered[:, :top_k].sum(1) / rows.sum(1)).mean())}


def _balance(weight: np.ndarray, phy2log: np.ndarray, num_gpus: int) -> float:
    metrics = eplb_module("metrics")
    counts = np.zeros(weight.shape, dtype=np.int64)
    np.add.at(counts, (np.arange(weight.shape[0])[:, None], phy2log), 1)
    return metrics.balancedness(metrics.gpu_loads(weight, phy2log, counts, num_gpus))


def reference_balance(trace, shape: dict[str, int], windows: int) -> dict[str, float]:
    """Balance DeepSeek's policy reaches on the trace (same data; and one window late when it has steps)."""
    import torch

    from heubase.eplb.reference import rebalance_experts

    def plan(w: np.ndarray) -> np.ndarray:
        return rebalance_experts(torch.from_numpy(w.astype(np.float64)), **shape)[0].numpy()

    weight = trace.weight()
    gpus = shape["num_gpus"]
    experts = weight.shape[1]
    trivial = np.tile(np.arange(shape["num_replicas"]) % experts, (weight.shape[0], 1))
    result = {"no_eplb": _balance(weight, trivial, gpus), "reference_same_data": _balance(weight, plan(weight), gpus)}
    if trace.steps.shape[0] >= 2 and windows >= 2:
        parts = trace.windows(min(windows, trace.steps.shape[0]))
        late = [_balance(parts[t + 1], plan(parts[t]), gpus) for t in range(len(parts) - 1)]
        result["reference_next_window"] = float(np.mean(late))
    return result


def cmd_inspect(args: argparse.Namespace) -> int:
    traces = eplb_module("traces")
    trace = traces.load_trace(args.file, layers=args.layers, rank_files=args.rank_file or ())
    print(f"file: {trace.source}  ({trace.kind})")
    for note in trace.notes:
        print(f"  note: {note}")
    print(f"layers: {trace.layers} kept of {trace.hidden_layers} in the file (convention: {args.layers})")
    if trace.placement is not None:
        slots = trace.placement.shape[1]
        counts = [np.bincount(row, minlength=int(trace.placement.max()) + 1) for row in trace.placement]
        print(f"placement: {trace.placement.shape[0]} layers x {slots} physical slots, "
              f"max replicas of one expert {max(int(c.max()) for c in counts)}")
    if trace.steps is None:
        return 0
    steps, layers, experts = trace.steps.shape
    print(f"experts: {experts}   steps: {steps}   tokens x top-k per step (mean over steps, layer 0): "
          f"{trace.steps[:, 0].sum(1).mean():.0f}")
    stats = skew_stats(trace.weight(), args.top_k)
    print("skew (sum over steps, mean over layers): " + ", ".join(f"{k} {v:.3f}" for k, v in stats.items()))
    shape = default_shape(experts, args)
    try:
        balance = reference_balance(trace, shape, args.windows)
    except ValueError as exc:
        print(f"reference policy: not run ({exc}); pass --replicas/--groups/--nodes/--gpus", file=sys.stderr)
        return 2
    print("shape: " + ", ".join(f"{k}={v}" for k, v in shape.items())
          + f" ({'hierarchical' if shape['num_groups'] % shape['num_nodes'] == 0 else 'global'})")
    print(f"balancedness (mean GPU load / max, summed over layers): no EPLB {balance['no_eplb']:.4f}, "
          f"DeepSeek policy on the same data {balance['reference_same_data']:.4f}"
          + (f", planned one window late {balance['reference_next_window']:.4f} ({args.windows} windows)"
             if "reference_next_window" in balance else ""))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    export = eplb_module("export")
    traces = eplb_module("traces")
    solver = Path(args.solver)
    if not solver.is_file():
        raise ValueError(f"{solver}: no such solver file")
    trace = traces.load_trace(args.trace, layers=args.layers, rank_files=args.rank_file or ())
    if trace.steps is None:
        raise ValueError(f"{trace.source}: holds a placement only; export needs expert loads")
    shape = default_shape(trace.experts, args)
    phy2log = export.plan_for_trace(export.load_solver(solver), trace, shape)
    fmt = args.format
    out = Path(args.out) if args.out else Path(f"{solver.stem}_{fmt}" + (".py" if fmt == "vllm" else ".json"))
    if fmt == "sglang":
        hidden = max(trace.hidden_layers, args.dense_layers + trace.layers)
        ids = trace.layer_ids if args.dense_layers == 0 else [args.dense_layers + i for i in range(trace.layers)]
        export.write_json(out, export.sglang_placement(phy2log, ids, hidden, trace.experts))
        print(f"wrote {out}: physical_to_logical_map [{hidden}, {shape['num_replicas']}] "
              f"({trace.layers} MoE layers at {ids[0]}..{ids[-1]})")
        print(f"serve with: --init-expert-location {out} --ep-num-redundant-experts "
              f"{shape['num_replicas'] - trace.experts} (ep size {shape['num_gpus']}, nnodes {shape['num_nodes']})")
    elif fmt == "vllm":
        out.write_text(export.vllm_module(solver, out.stem), encoding="utf-8")
        print(f"wrote {out}: vLLM EPLB policy (checked on {trace.source}: {phy2log.shape[0]} layers x "
              f"{phy2log.shape[1]} slots)")
        print(f"register {out.stem}:register as a vllm.general_plugins entry point, then --enable-eplb "
              f"--eplb-config '{{\"num_redundant_experts\": {shape['num_replicas'] - trace.experts}}}'")
    else:
        export.write_json(out, export.json_plan(phy2log, trace.experts, shape, trace.source))
        print(f"wrote {out}: phy2log, log2phy, logcnt for {shape}")
    return 0


def _shape_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--replicas", type=int, default=None, help="physical slots per layer (default E + E/8, "
                                                                    "rounded up to a multiple of --gpus)")
    parser.add_argument("--groups", type=int, default=None, help="expert groups (default 8, or 1)")
    parser.add_argument("--nodes", type=int, default=None, help="nodes (default 4)")
    parser.add_argument("--gpus", type=int, default=None, help="GPUs / EP ranks (default 32)")


def _trace_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--layers", choices=["moe", "all"], default="moe",
                        help="moe: drop layers with no traffic (dense layers); all: keep every layer row")
    parser.add_argument("--rank-file", action="append", default=None,
                        help="another rank's SGLang per_pass dump to add (repeatable)")


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``beam eplb ...`` on the top-level subparsers."""
    eplb = sub.add_parser("eplb", help="EPLB as deployed: inspect traces, export plans for SGLang / vLLM")
    eplb_sub = eplb.add_subparsers(dest="eplb_command", required=True)
    ins = eplb_sub.add_parser("inspect", help="layers, experts, steps, skew and reference balance of a trace")
    ins.add_argument("file", help="SGLang .pt dump, .json (logical_count / physical_to_logical_map) or .npz")
    _trace_options(ins)
    _shape_options(ins)
    ins.add_argument("--top-k", type=int, default=8, help="top-k share to report (default 8)")
    ins.add_argument("--windows", type=int, default=8,
                     help="split the steps into this many windows to score planning one window late (default 8)")
    ins.set_defaults(func=cmd_inspect)

    exp = eplb_sub.add_parser("export", help="run a solver on a trace and write its plan for SGLang / vLLM / JSON")
    exp.add_argument("solver", help="Python file defining rebalance_experts (it is run in this process)")
    exp.add_argument("trace", help="trace the plan is made from (as for inspect)")
    exp.add_argument("--format", choices=["sglang", "vllm", "json"], required=True)
    exp.add_argument("--out", default=None, help="output file (default: <solver>_<format>.json / .py)")
    exp.add_argument("--dense-layers", type=int, default=0,
                     help="sglang: leading dense layers to add when the trace has MoE layers only "
                          "(DeepSeek-V3: 3); default: the trace's own layer numbering")
    _trace_options(exp)
    _shape_options(exp)
    exp.set_defaults(func=cmd_export)
