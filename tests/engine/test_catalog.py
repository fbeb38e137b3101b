"""Tests of beam/catalog.py on the real heubase/eplb and on small packages written to tmp_path."""
from __future__ import annotations

import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from beam.catalog import (CatalogError, Param, Shape, bind, candidates, catalog, compatible, declared_result,
                          find, fits_placeholder, infer_role, listing, normalise, param_category, signature_shape)

ROOT = Path(__file__).resolve().parents[2]

ROLES = {
    "pack_lpt": "packer", "pack_snake": "packer", "pack_karmarkar_karp": "packer", "pack_lookahead": "packer",
    "swap_max_min": "refiner", "swap_all_pairs": "refiner", "swap_pairs": "refiner",
    "replicate_greedy": "replicator", "replicate_topk": "replicator",
    "place_hierarchical": "placer", "groups_to_nodes": "placer",
    "rebalance_experts": "solver", "rebalance_experts_per_layer": "solver",
    "check_cluster": "utility", "is_hierarchical": "utility", "finish_plan": "utility",
    "gpu_of_slot": "utility", "replica_counts": "utility", "slot_loads": "utility", "gpu_loads": "utility",
    "build_log2phy": "utility", "assemble_slots": "utility", "pack_sizes": "utility", "pack_loads": "utility",
    "expand_replicas": "utility", "replica_loads": "utility",
}

PACK_SLOT = [("item_load", "torch.Tensor"), ("num_packs", "int")]
REFINE_SLOT = [("item_load", "torch.Tensor"), ("pack_of_item", "torch.Tensor"), ("num_packs", "int"),
               ("rounds", "int"), ("deadline", "float")]
REPLICATE_SLOT = [("weight", "torch.Tensor"), ("num_slots", "int")]


@pytest.fixture(scope="module")
def comps():
    return catalog(ROOT / "heubase" / "eplb", "heubase.eplb")


def _names(components, role: str) -> set[str]:
    return {c.name for c in components if c.role == role}


def test_real_catalog_names_and_privacy(comps):
    names = [c.name for c in comps]
    assert set(ROLES) <= set(names)
    assert not [n for n in names if n.startswith("_")]
    assert len(names) == len(set(names)), "an imported name was catalogued twice"
    assert {c.module for c in comps} >= {"heubase.eplb.pack", "heubase.eplb.refine", "heubase.eplb.replicate",
                                         "heubase.eplb.hierarchical", "heubase.eplb.plan", "heubase.eplb.reference"}


@pytest.mark.parametrize("name,role", sorted(ROLES.items()))
def test_real_roles(comps, name, role):
    assert find(comps, name).role == role


def test_every_pack_and_swap_function_gets_its_role(comps):
    # Functions the concurrent HeuBase work may add must be classified by the same rules.
    for c in comps:
        if c.module == "heubase.eplb.pack":
            assert c.role == "packer", c.signature
        if c.module == "heubase.eplb.refine" and c.name.startswith("swap_"):
            assert c.role == "refiner", c.signature


def test_signatures_params_and_docs(comps):
    lpt = find(comps, "pack_lpt")
    assert lpt.signature == "pack_lpt(weights: torch.Tensor, num_packs: int) -> torch.Tensor"
    assert lpt.returns == "torch.Tensor" and lpt.result == "pack_of_item"
    assert lpt.path == ROOT / "heubase" / "eplb" / "pack.py"
    look = find(comps, "pack_lookahead")
    assert look.signature == ("pack_lookahead(weights: torch.Tensor, num_packs: int, width: int = 2, "
                              "depth: int | None = None) -> torch.Tensor")
    assert look.params[2] == Param("width", "int", "2", "positional")
    assert look.params[3] == Param("depth", "int | None", "None", "positional")
    assert [p.required for p in look.params] == [True, True, False, False]
    assert find(comps, "rebalance_experts").returns == "tuple[torch.Tensor, torch.Tensor, torch.Tensor]"
    assert all(c.doc.strip() for c in comps)
    assert lpt.doc.startswith("Cardinality-constrained LPT")
    assert "\nVectorised over rows" in lpt.doc          # dedented
    assert find(comps, "replicate_greedy").result == "logcnt"


def test_sorted_by_module_then_source_order(comps):
    modules = [c.module for c in comps]
    assert modules == sorted(modules)
    pack = [c.name for c in comps if c.module == "heubase.eplb.pack"]
    core = [n for n in pack if n in ("pack_lpt", "pack_snake", "pack_karmarkar_karp", "pack_lookahead")]
    assert core == ["pack_lpt", "pack_snake", "pack_karmarkar_karp", "pack_lookahead"]


def test_listing_is_python_with_imports_and_docstrings(comps):
    text = listing(comps)
    compile(text, "<listing>", "exec")          # parses; nothing is imported or run
    assert ('from heubase.eplb.pack import pack_lpt\n'
            'def pack_lpt(weights: torch.Tensor, num_packs: int) -> torch.Tensor:\n'
            '    """Cardinality-constrained LPT') in text
    assert text.count("def ") >= len(comps)
    assert listing([]) == ""


def test_find(comps):
    assert find(comps, "heubase.eplb.refine.swap_pairs").name == "swap_pairs"
    with pytest.raises(KeyError, match="no component"):
        find(comps, "pack_nothing")
    lpt = find(comps, "pack_lpt")
    twice = [lpt, replace(lpt, module="memory.m1")]
    with pytest.raises(KeyError, match="ambiguous"):
        find(twice, "pack_lpt")
    assert find(twice, "memory.m1.pack_lpt").module == "memory.m1"


def test_packer_placeholder_accepts_packers_only(comps):
    fit = {c.name for c in comps if fits_placeholder(c, PACK_SLOT, "torch.Tensor")}
    assert _names(comps, "packer") <= fit
    assert not fit & (_names(comps, "refiner") | _names(comps, "replicator") | _names(comps, "solver"))
    # Tensor without the torch prefix, or no annotations at all, is the same slot.
    assert fits_placeholder(find(comps, "pack_snake"), [("item_load", "Tensor"), ("num_packs", None)], None)


def test_refiner_and_replicator_placeholders(comps):
    fit = {c.name for c in comps if fits_placeholder(c, REFINE_SLOT, "torch.Tensor")}
    assert _names(comps, "refiner") <= fit and not fit & _names(comps, "packer")
    assert "pack_loads" in fit                                    # same shape, wrong meaning ...
    assert "pack_loads" not in {c.name for c in candidates(comps, REFINE_SLOT, "torch.Tensor", role="refiner")}
    fit = {c.name for c in comps if fits_placeholder(c, REPLICATE_SLOT, "torch.Tensor")}
    assert _names(comps, "replicator") <= fit and not fit & (_names(comps, "packer") | _names(comps, "refiner"))
    # load transforms (weight plus float knobs with defaults) bind by shape too; the role tells them apart
    assert {c.name for c in candidates(comps, REPLICATE_SLOT, "torch.Tensor", role="replicator")} == \
        _names(comps, "replicator")


def test_bind_rules(comps):
    swap = find(comps, "swap_max_min")
    assert bind(swap, REFINE_SLOT, "torch.Tensor") == {
        "weights": "item_load", "pack_of_item": "pack_of_item", "num_packs": "num_packs", "rounds": "rounds"}
    lpt = find(comps, "pack_lpt")
    # Return annotations must agree.
    assert not fits_placeholder(lpt, PACK_SLOT, "list[torch.Tensor]")
    # A placeholder that may pass None does not fit a component that wants a Tensor.
    assert not fits_placeholder(lpt, [("item_load", "Optional[torch.Tensor]"), ("num_packs", "int")], "torch.Tensor")
    # Extra placeholder params are dropped; skipping one in the middle needs skip=True.
    hedge = [("item_load", "torch.Tensor"), ("item_expert", "torch.Tensor"), ("num_packs", "int"),
             ("deadline", "float")]
    assert fits_placeholder(lpt, PACK_SLOT + [("deadline", "float")], "torch.Tensor")
    assert not fits_placeholder(lpt, hedge, "torch.Tensor")
    assert bind(lpt, hedge, "torch.Tensor", skip=True) == {"weights": "item_load", "num_packs": "num_packs"}
    # Too few placeholder params.
    assert not fits_placeholder(swap, PACK_SLOT, "torch.Tensor")


def test_shapes_and_compatibility(comps):
    assert signature_shape(find(comps, "pack_lookahead").params, "torch.Tensor") == Shape(
        (("weight", "Tensor"), ("count:pack", "int")), "Tensor")
    assert signature_shape(PACK_SLOT, "torch.Tensor") == signature_shape(find(comps, "pack_lpt").params, "Tensor")
    lpt = find(comps, "pack_lpt")
    assert compatible(lpt, find(comps, "pack_snake")) and compatible(lpt, find(comps, "pack_lookahead"))
    assert not compatible(lpt, find(comps, "replicate_greedy"))
    assert not compatible(lpt, find(comps, "swap_max_min"))
    assert compatible(find(comps, "rebalance_experts"), find(comps, "rebalance_experts_per_layer"))


def test_annotation_and_name_helpers():
    assert normalise("Optional[torch.Tensor]") == normalise("torch.Tensor | None") == "None|Tensor"
    assert normalise("Union[int, float]") == "float|int"
    assert normalise("Tuple[torch.Tensor, Tensor]") == "tuple[Tensor,Tensor]"
    assert normalise("'torch.Tensor'") == "Tensor"
    assert normalise("Callable[[torch.Tensor, int], torch.Tensor]") == "Callable[[Tensor,int],Tensor]"
    assert normalise(None) is None
    assert [param_category(n) for n in ("weights", "node_load", "num_gpus", "gpus_per_node", "num_replicas",
                                        "gpu_of_item", "deadline", "rounds")] == [
        "weight", "weight", "count:pack", "count:pack", "count:slot", "assign:pack", "time", "any"]
    assert declared_result("Every packer ... returns ``pack_of_item [B, n]`` int64.") == "pack_of_item"
    assert declared_result("returns a new ``pack_of_item`` (inputs unchanged)") == "pack_of_item"
    assert declared_result("Returns ``(phy2log, log2phy, logcnt)``.") is None
    assert declared_result("The identity packing is returned.") is None


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")


def test_tmp_package_with_evolved_module(tmp_path):
    pkg = tmp_path / "pkg"
    _write(pkg, "__init__.py", '"""Package doc."""\n')
    _write(pkg, "base.py", '''
        """Base module; importing it would fail."""
        import module_that_does_not_exist

        def _hidden(x):
            return x

        def scale(weight: "torch.Tensor", factor: float = 1.0) -> "torch.Tensor":
            """Multiply the loads."""
            def inner():
                pass
            return weight * factor

        def first(a, /, b: int = 1, *, c: float, **kw) -> None:
            """Old definition."""

        class Thing:
            def method(self):
                """Not a module-level function."""

        if True:
            def conditional():
                pass

        async def later():
            pass

        def first(a, /, b: int = 1, *, c: float, **kw) -> None:
            """Positional-only, keyword-only and starred parameters."""
        ''')
    _write(pkg, "evolved/pack_e1.py", '''
        import torch

        def func_3(item_load: torch.Tensor, num_packs: int) -> torch.Tensor:
            # Purpose: pack each row of item_load [B, n] into num_packs packs of n // num_packs items;
            # return pack_of_item [B, n] int64.
            return torch.zeros_like(item_load, dtype=torch.long)
        ''')
    _write(pkg, "__pycache__/stale.py", "def stale():\n    pass\n")
    _write(pkg, "bad-name.py", "def unreachable():\n    pass\n")
    comps = catalog(pkg, "pkg")
    assert [(c.module, c.name) for c in comps] == [
        ("pkg.base", "scale"), ("pkg.base", "first"), ("pkg.evolved.pack_e1", "func_3")]
    scale, first, evolved = comps
    assert scale.role == "load-transform" and scale.doc == "Multiply the loads."
    assert first.signature == "first(a, /, b: int = 1, *, c: float, **kw) -> None"
    assert first.doc.startswith("Positional-only")
    assert [p.kind for p in first.params] == ["positional", "positional", "keyword-only", "var-keyword"]
    assert [p.required for p in first.params] == [True, False, True, False]
    assert evolved.doc.startswith("Purpose: pack each row") and evolved.result == "pack_of_item"
    assert evolved.role == "packer" and evolved.path == pkg / "evolved" / "pack_e1.py"
    assert infer_role(evolved) == "packer"
    assert fits_placeholder(evolved, PACK_SLOT, "torch.Tensor")
    # A required keyword-only parameter must be matched by name.
    assert not fits_placeholder(first, [("a", None)], None)
    assert bind(first, [("a", None), ("c", "int")], None) == {"a": "a", "c": "c"}


def test_bad_sources(tmp_path):
    _write(tmp_path / "pkg", "broken.py", "def ok():\n    pass\n\ndef broken(:\n    pass\n")
    with pytest.raises(CatalogError, match=r"broken\.py:4"):
        catalog(tmp_path / "pkg", "pkg")
    with pytest.raises(CatalogError, match="not a folder"):
        catalog(tmp_path / "missing", "missing")
