"""KnoBase: Markdown notes with a small front matter, and BM25 retrieval over them.

A note file looks like::

    ---
    title: Swap refinement that keeps slot counts
    tags: [refinement, packing]
    summary: One line saying what the note is for.
    ---

    # Swap refinement that keeps slot counts
    ...

:func:`retrieve` ranks notes by BM25 over title, summary and body, plus a
bonus for every requested tag the note carries.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

K1 = 1.5
B = 0.75
TAG_BONUS = 2.0
FIELDS = ("title", "tags", "summary")


class KnoBaseError(ValueError):
    """A note is malformed; the message names the file and line."""


@dataclass(frozen=True)
class Note:
    """One KnoBase note: front-matter fields and the Markdown body after it."""

    path: Path
    title: str
    tags: tuple[str, ...]
    summary: str
    body: str


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1].strip()
    return text


def parse_note(text: str, path: Path) -> Note:
    """Parse one note's text (``path`` is recorded and used in error messages).

    The first line must be ``---``; then one ``key: value`` per line for exactly
    the keys ``title``, ``summary`` (non-empty text) and ``tags`` (``[a, b]``;
    may be empty); blank lines are allowed; a line ``---`` closes the front matter.
    """
    lines = text.splitlines()

    def fail(line: int, problem: str) -> KnoBaseError:
        return KnoBaseError(f"{path}:{line}: {problem}")

    if not lines or lines[0].strip() != "---":
        raise fail(1, "a note must start with a '---' front-matter line")
    fields: dict[str, str] = {}
    end = None
    for number, line in enumerate(lines[1:], start=2):
        if line.strip() == "---":
            end = number
            break
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        key = key.strip()
        if not sep or key not in FIELDS:
            raise fail(number, f"expected 'title:', 'tags:' or 'summary:', got {line.strip()!r}")
        if key in fields:
            raise fail(number, f"duplicate '{key}:'")
        value = value.strip()
        if key == "tags":
            if not (value.startswith("[") and value.endswith("]")):
                raise fail(number, f"tags must be a list like [a, b], got {value!r}")
            items = [_unquote(t) for t in value[1:-1].split(",")]
            if value[1:-1].strip() and not all(items):
                raise fail(number, f"empty tag in {value!r}")
            value = ",".join(t for t in items if t)
        else:
            value = _unquote(value)
            if not value:
                raise fail(number, f"'{key}:' is empty")
        fields[key] = value
    if end is None:
        raise fail(1, "front matter is not closed by a '---' line")
    missing = [k for k in FIELDS if k not in fields]
    if missing:
        raise fail(end, f"front matter lacks {', '.join(repr(k + ':') for k in missing)}")
    tags = tuple(t for t in fields["tags"].split(",") if t)
    body = "\n".join(lines[end:]).strip("\n")
    return Note(path, fields["title"], tags, fields["summary"], body)


def load_notes(folder: Path) -> list[Note]:
    """Every ``*.md`` note directly in ``folder``, sorted by file name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise KnoBaseError(f"{folder}: no such KnoBase folder")
    notes = []
    for path in sorted(folder.glob("*.md")):
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as err:
            raise KnoBaseError(f"{path}:1: cannot read: {err}") from None
        notes.append(parse_note(text, path))
    return notes


_SUFFIXES = ("ations", "ation", "ments", "ment", "ings", "ing", "ions", "ion", "ates", "ated", "ate",
             "ers", "er", "ed", "es", "s")


def stem(word: str) -> str:
    """Light suffix stripping so that word forms meet: packing/packer/packs → ``pack``,
    replicate/replication → ``replic``, swapping/swaps → ``swap``.

    Strips the first matching suffix of :data:`_SUFFIXES` that leaves at least three
    letters (never an ``s`` after ``s``), undoubles a final consonant left by
    -ing/-ed/-er, then drops a final ``e`` from stems longer than four letters.
    """
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            word = word[:-len(suffix)]
            if suffix in ("ing", "ed", "er") and word[-1] == word[-2] and word[-1] not in "aeioulsz":
                word = word[:-1]
            break
    if len(word) > 4 and word.endswith("e"):
        word = word[:-1]
    return word


def tokenize(text: str) -> list[str]:
    """Stemmed lower-case alphanumeric runs: ``"Packing pack_lpt"`` → ``["pack", "pack", "lpt"]``."""
    return [stem(w) for w in re.findall(r"[a-z0-9]+", text.lower())]


def bm25(documents: Sequence[Sequence[str]], query: Sequence[str], k1: float = K1, b: float = B) -> list[float]:
    """Okapi BM25 score of every tokenised document for the (de-duplicated) query terms.

    ``idf(t) = ln(1 + (N - n_t + 0.5) / (n_t + 0.5))`` (never negative);
    a term adds ``idf * f * (k1 + 1) / (f + k1 * (1 - b + b * len / avglen))``.
    """
    n = len(documents)
    if n == 0:
        return []
    counts = [Counter(doc) for doc in documents]
    avg = sum(len(doc) for doc in documents) / n or 1.0
    scores = [0.0] * n
    for term in sorted(set(query)):
        holders = sum(1 for c in counts if term in c)
        if not holders:
            continue
        idf = math.log(1.0 + (n - holders + 0.5) / (holders + 0.5))
        for i, c in enumerate(counts):
            f = c.get(term, 0)
            if f:
                norm = k1 * (1.0 - b + b * len(documents[i]) / avg)
                scores[i] += idf * f * (k1 + 1.0) / (f + norm)
    return scores


def scores(notes: Sequence[Note], query: str, tags: Sequence[str] = (), tag_bonus: float = TAG_BONUS) -> list[float]:
    """Per note: BM25 of ``query`` over title + summary + body, plus ``tag_bonus`` per requested tag it has."""
    docs = [tokenize(f"{n.title}\n{n.summary}\n{n.body}") for n in notes]
    wanted = {t.strip().lower() for t in tags}
    base = bm25(docs, tokenize(query))
    return [s + tag_bonus * len(wanted & {t.lower() for t in n.tags}) for s, n in zip(base, notes)]


def retrieve(notes: Sequence[Note], query: str, tags: Sequence[str] = (), k: int = 3,
             tag_bonus: float = TAG_BONUS) -> list[Note]:
    """The ``k`` best notes for ``query`` (and ``tags``), best first; ties go to the smaller path.

    Notes with a zero score (no query term, no requested tag) are never returned,
    so fewer than ``k`` may come back.
    """
    ranked = sorted(zip(scores(notes, query, tags, tag_bonus), notes), key=lambda sn: (-sn[0], str(sn[1].path)))
    return [note for score, note in ranked if score > 0][:max(k, 0)]


def render_note(note: Note) -> str:
    """Title heading and body, without front matter (a body already opening with that heading is kept as is)."""
    heading = f"# {note.title}"
    first = note.body.lstrip("\n").split("\n", 1)[0].strip()
    if first == heading:
        return note.body.strip("\n") + "\n"
    body = note.body.strip("\n")
    return f"{heading}\n\n{body}\n" if body.strip() else heading + "\n"
