"""Tests of beam/knobase.py: front-matter parsing, BM25 retrieval, rendering."""
from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from beam.knobase import KnoBaseError, Note, bm25, load_notes, parse_note, render_note, retrieve, stem, tokenize

ROOT = Path(__file__).resolve().parents[2]


def _note(folder: Path, name: str, title: str, tags: str, summary: str, body: str) -> Path:
    path = folder / name
    path.write_text(f"---\ntitle: {title}\ntags: {tags}\nsummary: {summary}\n---\n\n{body}\n", encoding="utf-8")
    return path


@pytest.fixture
def corpus(tmp_path: Path) -> list[Note]:
    _note(tmp_path, "a-swaps.md", "Swap refinement", "[refinement, packing]",
          "Exchange items between packs.",
          "Swapping one item of the heaviest pack with one of the lightest lowers the maximum. "
          "Pair swaps find moves single swaps miss.")
    _note(tmp_path, "b-replication.md", "Replication", "[replication]",
          "How many replicas each expert gets.",
          "Give spare slots to the experts with the highest load per replica (apportionment).")
    _note(tmp_path, "c-drift.md", "Drift", "[drift, evaluation]",
          "The next window differs from the observed one.",
          "Shrink the planning load towards the mean to hedge against drift between windows.")
    _note(tmp_path, "d-speed.md", "Speed", "[speed, packing]",
          "Vectorise over layers.",
          "Batch every layer in one tensor operation; avoid Python loops over items.")
    return load_notes(tmp_path)


def test_real_notes_parse():
    notes = load_notes(ROOT / "knobase" / "eplb")
    by_name = {n.path.name: n for n in notes}
    assert {"swap-refinement.md", "drift-and-hedging.md", "cardinality-packing.md"} <= set(by_name)
    for n in notes:
        assert n.title and n.summary and n.tags and n.body
        assert not n.body.startswith("---") and "\nsummary:" not in n.body[:200]
    swap = by_name["swap-refinement.md"]
    assert swap.title == "Swap refinement that keeps slot counts"
    assert "refinement" in swap.tags
    rendered = render_note(swap)
    assert rendered.startswith(f"# {swap.title}\n") and rendered.count(f"# {swap.title}") == 1
    assert "tags:" not in rendered and "summary:" not in rendered


def test_parse_fields_and_render(tmp_path):
    text = "---\ntitle: \"Quoted: title\"\n\ntags: [a, 'b']\nsummary: One line.\n---\nBody text.\n"
    note = parse_note(text, tmp_path / "x.md")
    assert (note.title, note.tags, note.summary, note.body) == ("Quoted: title", ("a", "b"), "One line.", "Body text.")
    assert render_note(note) == "# Quoted: title\n\nBody text.\n"
    assert parse_note("---\ntitle: T\ntags: []\nsummary: S\n---\n", tmp_path / "y.md").tags == ()


@pytest.mark.parametrize("text,line,what", [
    ("title: T\n", 1, "must start"),
    ("---\ntitle: T\ntags: [a]\nsummary: S\n", 1, "not closed"),
    ("---\ntitle: T\ntag: [a]\nsummary: S\n---\n", 3, "expected 'title:'"),
    ("---\ntitle: T\ntags: a, b\nsummary: S\n---\n", 3, "tags must be a list"),
    ("---\ntitle: T\ntags: [a, , b]\nsummary: S\n---\n", 3, "empty tag"),
    ("---\ntitle: T\ntitle: U\ntags: [a]\nsummary: S\n---\n", 3, "duplicate"),
    ("---\ntitle: T\ntags: [a]\n---\nbody\n", 4, "lacks 'summary:'"),
    ("---\ntitle:\ntags: [a]\nsummary: S\n---\n", 2, "empty"),
    ("---\njust some words\n---\n", 2, "expected"),
])
def test_malformed_front_matter(tmp_path, text, line, what):
    path = tmp_path / "bad.md"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(KnoBaseError, match=rf"bad\.md:{line}: .*{what}"):
        load_notes(tmp_path)


def test_missing_folder(tmp_path):
    with pytest.raises(KnoBaseError, match="no such KnoBase folder"):
        load_notes(tmp_path / "nope")


def test_bm25_by_hand():
    docs = [["a", "b"], ["b", "c", "c"]]
    idf = math.log(1 + (2 - 1 + 0.5) / (1 + 0.5))
    expected = idf * 2 * 2.5 / (2 + 1.5 * (1 - 0.75 + 0.75 * 3 / 2.5))
    assert bm25(docs, ["c"]) == [0.0, pytest.approx(expected)]
    assert bm25(docs, ["c", "c"]) == bm25(docs, ["c"])       # query terms count once
    assert bm25([], ["c"]) == []


def test_tokenize_and_stem():
    assert tokenize("Packing pack_lpt, PACKS") == ["pack", "pack", "lpt", "pack"]
    assert stem("replication") == stem("replicate") and stem("swapping") == stem("swaps") == "swap"
    assert stem("loss") == "loss"


def test_retrieval_ranking(corpus):
    names = lambda notes: [n.path.name for n in notes]
    assert names(retrieve(corpus, "swap items of the heaviest pack", k=1)) == ["a-swaps.md"]
    assert names(retrieve(corpus, "replicas per expert apportionment"))[0] == "b-replication.md"
    assert names(retrieve(corpus, "hedge drift next window"))[0] == "c-drift.md"
    assert names(retrieve(corpus, "vectorise python loops"))[0] == "d-speed.md"
    assert retrieve(corpus, "zebra quantum") == []                   # nothing scores: nothing returned
    assert len(retrieve(corpus, "the", k=2)) <= 2
    assert retrieve(corpus, "swap", k=0) == []


def test_tag_bonus(corpus):
    names = lambda notes: [n.path.name for n in notes]
    # Without tags the speed note wins on "layers"; asking for the refinement tag lifts the swap note over it.
    assert names(retrieve(corpus, "layers items"))[0] == "d-speed.md"
    assert names(retrieve(corpus, "layers items", tags=["refinement"]))[0] == "a-swaps.md"
    assert set(names(retrieve(corpus, "", tags=["packing"]))) == {"a-swaps.md", "d-speed.md"}
    assert names(retrieve(corpus, "", tags=["Drift"])) == ["c-drift.md"]     # tags match case-insensitively
    no_bonus = retrieve(corpus, "", tags=["packing"], tag_bonus=0.0)
    assert no_bonus == []


def test_deterministic_tie_break(tmp_path):
    for name in ("z.md", "m.md", "a.md"):
        _note(tmp_path, name, "Same", "[x]", "Same summary.", "Identical body about packing.")
    notes = load_notes(tmp_path)
    first = retrieve(notes, "packing", k=3)
    assert [n.path.name for n in first] == ["a.md", "m.md", "z.md"]
    shuffled = notes[:]
    for seed in range(5):
        random.Random(seed).shuffle(shuffled)
        assert retrieve(shuffled, "packing", k=3) == first
