"""Extract the OR3 and Weibull 5k test sets from FunSearch's ``bin_packing/bin_packing.ipynb``.

Usage (from the repository root; NOTEBOOK is a local copy of the notebook)::

    python problems/binpack/data/extract_funsearch.py NOTEBOOK [--out problems/binpack/data]

The notebook's data cell assigns dict literals to ``datasets['OR3']`` and
``datasets['Weibull 5k']``. They are read with :func:`ast.literal_eval`: nothing
from the notebook is executed. Each dataset is written as one JSON file
``{"name", "source", "capacity", "instances": {instance name: [item sizes]}}``.
"""
from __future__ import annotations

import argparse
import ast
import json
import sys
from pathlib import Path

SOURCE = ("google-deepmind/funsearch, bin_packing/bin_packing.ipynb, "
          "commit cc53f274237d7ab05c19df939edbc1f9616a7c19 (CC-BY 4.0)")
FILES = {"OR3": "funsearch_or3.json", "Weibull 5k": "funsearch_weibull_5k.json"}


def datasets_in_notebook(path: Path) -> dict[str, dict]:
    """``{dataset name: {instance name: {"capacity", "num_items", "items"}}}`` found in the notebook's code cells."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    found: dict[str, dict] = {}
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        tree = ast.parse("".join(cell.get("source", [])))
        for node in tree.body:
            if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                    and isinstance(node.targets[0], ast.Subscript)):
                continue
            target = node.targets[0]
            if isinstance(target.value, ast.Name) and target.value.id == "datasets":
                found[ast.literal_eval(target.slice)] = ast.literal_eval(node.value)
    return found


def to_record(name: str, instances: dict) -> dict:
    """One dataset as the JSON record this project ships (all instances must share one capacity)."""
    capacities = {inst["capacity"] for inst in instances.values()}
    if len(capacities) != 1:
        raise ValueError(f"dataset {name!r} mixes capacities {sorted(capacities)}")
    for key, inst in instances.items():
        if inst["num_items"] != len(inst["items"]):
            raise ValueError(f"dataset {name!r}, instance {key!r}: num_items {inst['num_items']} "
                             f"!= {len(inst['items'])} items")
    return {"name": name, "source": SOURCE, "capacity": capacities.pop(),
            "instances": {key: list(inst["items"]) for key, inst in instances.items()}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args(argv)
    found = datasets_in_notebook(args.notebook)
    for name, filename in FILES.items():
        if name not in found:
            print(f"{args.notebook}: no datasets[{name!r}] assignment found", file=sys.stderr)
            return 2
        record = to_record(name, found[name])
        (args.out / filename).write_text(json.dumps(record, separators=(",", ":")) + "\n", encoding="utf-8")
        print(f"{args.out / filename}: {len(record['instances'])} instances, capacity {record['capacity']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
