"""Contract tests for the initial EPLB skeletons in problems/eplb/skeletons/.

Static checks use only ``ast`` and source lines. The behavioural check fills every
``func_i`` placeholder with a simple correct realisation chosen from its parameters
(packer -> pack_lpt, replicator -> replicate_greedy, refiner / load transform ->
identity, candidate generator -> one LPT packing), executes the module and validates
the plan it returns.
"""
from __future__ import annotations

import ast
import importlib
import re
import types
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
PROBLEM = ROOT / "problems" / "eplb"
SKELETONS = sorted((PROBLEM / "skeletons").glob("*.py"))
MARKER = "#Hyperparameter#"
ENTRY = "rebalance_experts"
PLACEHOLDER = re.compile(r"func_(\d+)$")
DEFAULT_CLUSTER = dict(num_replicas=288, num_groups=8, num_nodes=4, num_gpus=32)
FLAT_CLUSTER = dict(num_replicas=288, num_groups=8, num_nodes=3, num_gpus=24)
ONE_NODE_CLUSTER = dict(num_replicas=320, num_groups=8, num_nodes=1, num_gpus=64)

ids = [path.stem for path in SKELETONS]


def _source(path: Path) -> str:
    return path.read_text()


def _tree(path: Path) -> ast.Module:
    return ast.parse(_source(path), filename=str(path))


def _placeholders(tree: ast.Module) -> list[ast.FunctionDef]:
    return [node for node in tree.body if isinstance(node, ast.FunctionDef) and PLACEHOLDER.match(node.name)]


def _marker_lines(lines: list[str]) -> list[int]:
    """1-based numbers of the lines that are exactly the hyperparameter marker."""
    return [number for number, line in enumerate(lines, 1) if line.strip() == MARKER]


def _hyperparameters(path: Path) -> list[ast.Assign]:
    tree = _tree(path)
    first, last = _marker_lines(_source(path).splitlines())
    return [node for node in tree.body if isinstance(node, ast.Assign) and first < node.lineno < last]


def _header_end(fn: ast.FunctionDef) -> int:
    """Last line of a ``def`` header (where the return annotation ends)."""
    return fn.returns.end_lineno


# ----------------------------------------------------------------------------- static checks


def test_there_are_four_skeletons():
    assert len(SKELETONS) >= 4, [p.name for p in SKELETONS]


@pytest.mark.parametrize("path", SKELETONS, ids=ids)
def test_module_layout(path):
    tree = _tree(path)
    assert ast.get_docstring(tree), "a skeleton starts with a docstring describing its structure"
    imported = {alias.asname or alias.name for node in tree.body if isinstance(node, ast.Import)
                for alias in node.names}
    assert "torch" in imported
    for node in tree.body[1:]:
        assert isinstance(node, (ast.Import, ast.ImportFrom, ast.Assign, ast.FunctionDef)), (
            f"unexpected top-level statement at line {node.lineno}: {ast.unparse(node)[:60]}")
        if isinstance(node, ast.FunctionDef):
            assert node.name == ENTRY or PLACEHOLDER.match(node.name), (
                f"top-level function {node.name} is neither {ENTRY} nor a func_i placeholder")
    names = [node.name for node in tree.body if isinstance(node, ast.FunctionDef)]
    assert names[-1] == ENTRY, "the entry function comes after the placeholders"


@pytest.mark.parametrize("path", SKELETONS, ids=ids)
def test_hyperparameter_block(path):
    source = _source(path)
    lines = source.splitlines()
    markers = _marker_lines(lines)
    assert len(markers) == 2, f"expected two {MARKER} lines, found {len(markers)}"
    first, last = markers
    tree = _tree(path)
    defs = [node.lineno for node in tree.body if isinstance(node, ast.FunctionDef)]
    assert last < min(defs), "hyperparameters come before every function"
    block = _hyperparameters(path)
    covered = set()
    for node in block:
        covered.update(range(node.lineno, node.end_lineno + 1))
        assert len(node.targets) == 1 and isinstance(node.targets[0], ast.Name), ast.unparse(node)
        value = node.value
        assert isinstance(value, ast.Constant) and type(value.value) in (int, float), (
            f"{ast.unparse(node)}: hyperparameters are int or float literals")
        line = lines[node.lineno - 1]
        marked_int = re.search(r"#\s*int\b", line) is not None
        assert marked_int == (type(value.value) is int), (
            f"line {node.lineno}: ints carry '# int', floats do not: {line!r}")
    for number in range(first + 1, last):
        text = lines[number - 1].strip()
        assert number in covered or not text or text.startswith("#"), f"line {number} in the block: {text!r}"
    values = {node.targets[0].id: node.value.value for node in block}
    assert "MAX_TIME" in values and isinstance(values["MAX_TIME"], float) and values["MAX_TIME"] > 0
    assert len(values) >= 2, "at least one knob besides MAX_TIME"


@pytest.mark.parametrize("path", SKELETONS, ids=ids)
def test_hyperparameters_are_used(path):
    tree = _tree(path)
    block = {node.targets[0].id for node in _hyperparameters(path)}
    used = {node.id for fn in tree.body if isinstance(fn, ast.FunctionDef)
            for node in ast.walk(fn) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
    assert block <= used, f"hyperparameters never read: {sorted(block - used)}"
    stores = [node.id for node in ast.walk(tree) if isinstance(node, ast.Name)
              and isinstance(node.ctx, ast.Store) and node.id in block]
    assert sorted(stores) == sorted(block), "hyperparameters are assigned once, in the block, never changed"


def _entry_signature(tree: ast.Module) -> tuple[str, str]:
    fn = next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == ENTRY)
    return ast.unparse(fn.args), ast.unparse(fn.returns)


def test_signature_file():
    tree = ast.parse((PROBLEM / "signature.py").read_text())
    fn = next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == ENTRY)
    doc = ast.get_docstring(fn)
    assert doc and "Args:" in doc and "Returns:" in doc
    assert isinstance(fn.body[-1], ast.Raise) and "NotImplementedError" in ast.unparse(fn.body[-1])
    args, returns = _entry_signature(tree)
    assert args == ("weight: torch.Tensor, num_replicas: int, num_groups: int, num_nodes: int, "
                    "num_gpus: int")
    assert returns == "tuple[torch.Tensor, torch.Tensor, torch.Tensor]"


@pytest.mark.parametrize("path", SKELETONS, ids=ids)
def test_entry_signature_matches_problem(path):
    expected = _entry_signature(ast.parse((PROBLEM / "signature.py").read_text()))
    assert _entry_signature(_tree(path)) == expected


@pytest.mark.parametrize("path", SKELETONS, ids=ids)
def test_placeholders(path):
    tree = _tree(path)
    lines = _source(path).splitlines()
    placeholders = _placeholders(tree)
    assert 1 <= len(placeholders) <= 3
    numbers = [int(PLACEHOLDER.match(fn.name).group(1)) for fn in placeholders]
    assert numbers == list(range(1, len(numbers) + 1)), f"func ids must be 1..N in order, got {numbers}"
    entry = next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == ENTRY)
    used = {node.id for node in ast.walk(entry) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
    for fn in placeholders:   # called by the entry, or handed to a HeuBase pipeline as a callback
        assert fn.name in used, f"{fn.name} is never used by {ENTRY}"
        assert fn.returns is not None, f"{fn.name} needs a return annotation"
        assert all(arg.annotation is not None for arg in fn.args.args), f"{fn.name}: annotate every argument"
        assert not fn.args.vararg and not fn.args.kwarg and not fn.decorator_list
        assert len(fn.body) == 1 and isinstance(fn.body[0], ast.Pass), f"{fn.name}: body must be only `pass`"
        comments = [line.strip() for line in lines[_header_end(fn):fn.body[0].lineno - 1]]
        assert 1 <= len(comments) <= 3 and all(c.startswith("#") for c in comments), (
            f"{fn.name}: one to three comment lines between the header and `pass`")
        assert comments[0].startswith("# Purpose:") and len(comments[0]) > len("# Purpose:") + 20


@pytest.mark.parametrize("path", SKELETONS, ids=ids)
def test_heubase_imports_resolve(path):
    tree = _tree(path)
    defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("heubase"):
            module = importlib.import_module(node.module)
            for alias in node.names:
                assert hasattr(module, alias.name), f"{node.module} has no {alias.name}"
                assert (alias.asname or alias.name) not in defined, f"{alias.name} is redefined"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                importlib.import_module(alias.name)


# ----------------------------------------------------------------------------- behaviour


def _realisation(fn: ast.FunctionDef, broken: bool = False) -> list[str]:
    """Body lines for a placeholder, chosen from its parameter names and return type.

    ``broken`` gives a realisation that violates the placeholder's invariants.
    """
    params = [arg.arg for arg in fn.args.args]
    returns = ast.unparse(fn.returns)
    first = params[0]
    if returns.startswith(("list", "tuple")) and "num_packs" in params:
        if broken:
            return [f"return [torch.zeros_like({first}, dtype=torch.long)]"]
        return ["from heubase.eplb.pack import pack_lpt", f"return [pack_lpt({first}, num_packs)]"]
    if "pack_of_item" in params:
        return ["return torch.zeros_like(pack_of_item)" if broken else "return pack_of_item"]
    if "num_slots" in params:
        if broken:
            return [f"return torch.ones_like({first}, dtype=torch.long)"]
        return ["from heubase.eplb.replicate import replicate_greedy", f"return replicate_greedy({first}, num_slots)"]
    if "num_packs" in params:
        if broken:
            return [f"return torch.zeros_like({first}, dtype=torch.long)"]
        return ["from heubase.eplb.pack import pack_lpt", f"return pack_lpt({first}, num_packs)"]
    if first == "weight" and returns == "torch.Tensor":
        return ["return -weight - 1.0" if broken else "return weight"]
    raise AssertionError(f"no test realisation for {fn.name}({', '.join(params)}) -> {returns}")


def _filled_source(path: Path, broken: str | None = None) -> str:
    lines = _source(path).splitlines()
    for fn in sorted(_placeholders(_tree(path)), key=lambda f: f.lineno, reverse=True):
        body = ["    " + line for line in _realisation(fn, broken=fn.name == broken)]
        lines[_header_end(fn):fn.body[0].end_lineno] = body
    return "\n".join(lines) + "\n"


def _load(path: Path, source: str) -> types.ModuleType:
    module = types.ModuleType(f"skeleton_{path.stem}")
    module.__file__ = str(path)
    exec(compile(source, str(path), "exec"), module.__dict__)
    return module


def _check_plan(weight, plan, num_replicas, num_groups, num_nodes, num_gpus):
    phy2log, log2phy, logcnt = plan
    layers, experts = weight.shape
    for tensor in plan:
        assert isinstance(tensor, torch.Tensor) and tensor.dtype == torch.int64 and tensor.device.type == "cpu"
    assert phy2log.shape == (layers, num_replicas)
    assert logcnt.shape == (layers, experts)
    assert log2phy.dim() == 3 and log2phy.shape[:2] == (layers, experts)
    assert log2phy.shape[2] >= int(logcnt.max())
    assert bool(((phy2log >= 0) & (phy2log < experts)).all())
    counts = torch.zeros(layers, experts, dtype=torch.int64).scatter_add_(1, phy2log, torch.ones_like(phy2log))
    assert torch.equal(counts, logcnt)
    assert bool((logcnt >= 1).all()) and bool((logcnt.sum(1) == num_replicas).all())
    valid = log2phy >= 0
    assert torch.equal(valid.sum(-1), logcnt)
    assert bool((log2phy < num_replicas).all())
    layer_ids = torch.arange(layers).view(layers, 1, 1).expand_as(log2phy)
    expert_ids = torch.arange(experts).view(1, experts, 1).expand_as(log2phy)
    assert torch.equal(phy2log[layer_ids[valid], log2phy[valid]], expert_ids[valid])
    if num_groups % num_nodes == 0:
        node_of_slot = torch.arange(num_replicas) // (num_replicas // num_nodes)
        group_of_slot = phy2log // (experts // num_groups)
        key = group_of_slot * num_nodes + node_of_slot
        groups_on_node = torch.zeros(layers, num_groups * num_nodes, dtype=torch.int64)
        groups_on_node.scatter_(1, key, 1)
        assert bool((groups_on_node.view(layers, num_groups, num_nodes).sum(-1) == 1).all()), (
            "an expert group is split over several nodes")


@pytest.fixture(scope="module", autouse=True)
def _warm_torch():
    from heubase.eplb.reference import rebalance_experts
    rebalance_experts(torch.rand(2, 256), **DEFAULT_CLUSTER)


def _weight(layers: int = 58, experts: int = 256, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(layers, experts, generator=generator) ** 4 * 1000).round()


@pytest.mark.parametrize("path", SKELETONS, ids=ids)
def test_skeleton_module_executes_unfilled(path):
    module = _load(path, _source(path))
    assert callable(getattr(module, ENTRY))


@pytest.mark.parametrize("path", SKELETONS, ids=ids)
def test_unfilled_skeleton_does_not_return_a_plan(path):
    module = _load(path, _source(path))
    with pytest.raises(Exception):
        getattr(module, ENTRY)(_weight(4), **DEFAULT_CLUSTER)


@pytest.mark.parametrize("path", SKELETONS, ids=ids)
def test_filled_skeleton_returns_valid_plan(path):
    module = _load(path, _filled_source(path))
    weight = _weight()
    original = weight.clone()
    plan = getattr(module, ENTRY)(weight, **DEFAULT_CLUSTER)
    assert torch.equal(weight, original), "the input weight was modified"
    _check_plan(weight, plan, **DEFAULT_CLUSTER)
    again = getattr(module, ENTRY)(weight, **DEFAULT_CLUSTER)
    assert torch.equal(plan[0], again[0]), "the plan is not deterministic"


@pytest.mark.parametrize("path", SKELETONS, ids=ids)
def test_filled_skeleton_handles_other_shapes_and_int_weights(path):
    module = _load(path, _filled_source(path))
    weight = _weight(6, seed=1).to(torch.int32)
    _check_plan(weight, getattr(module, ENTRY)(weight, **FLAT_CLUSTER), **FLAT_CLUSTER)
    _check_plan(weight, getattr(module, ENTRY)(weight, **ONE_NODE_CLUSTER), **ONE_NODE_CLUSTER)
    zeros = torch.zeros(3, 256)
    zeros[:, 5] = 100.0
    _check_plan(zeros, getattr(module, ENTRY)(zeros, **DEFAULT_CLUSTER), **DEFAULT_CLUSTER)


@pytest.mark.parametrize("path", SKELETONS, ids=ids)
def test_filled_skeleton_matches_reference_balance(path):
    """With the simple fills every skeleton reduces to (nearly) the DeepSeek policy."""
    from heubase.eplb.plan import gpu_loads
    from heubase.eplb.reference import rebalance_experts

    weight = _weight(16, seed=2)
    module = _load(path, _filled_source(path))
    ours = gpu_loads(weight, getattr(module, ENTRY)(weight, **DEFAULT_CLUSTER)[0], 32).max(1).values.sum()
    ref = gpu_loads(weight, rebalance_experts(weight, **DEFAULT_CLUSTER)[0], 32).max(1).values.sum()
    assert float(ours) <= float(ref) * 1.0001


@pytest.mark.parametrize("path", SKELETONS, ids=ids)
def test_broken_realisations_are_reported(path):
    """A fill that breaks its invariants raises a ValueError naming the placeholder."""
    for fn in _placeholders(_tree(path)):
        module = _load(path, _filled_source(path, broken=fn.name))
        with pytest.raises(ValueError, match=fn.name):
            getattr(module, ENTRY)(_weight(4), **DEFAULT_CLUSTER)
