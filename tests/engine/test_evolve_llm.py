"""`beam evolve --generator llm` against a fake OpenAI-compatible server, through the real openai client.

The fake "model" answers by operation (recognised from the system prompt): a
skeleton for structure prompts, a realised program for fill prompts (the first
one broken, so the fix loop must repair it), a repaired program for fix
prompts, a pms_dict for parameter ranges and a named def for the memory. Its
first reply is a 429, which the generator must retry.
"""
from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_openai import FakeOpenAI, Reply, Status  # noqa: E402

from beam.program import Program  # noqa: E402
from beam.store import RunStore  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SKELETON = ROOT / "problems" / "eplb" / "skeletons" / "hier_pack_refine.py"
GOOD_FUNC_1 = ("def func_1(item_load: torch.Tensor, num_packs: int) -> torch.Tensor:\n"
               "    from heubase.eplb.pack import pack_karmarkar_karp\n"
               "    return pack_karmarkar_karp(item_load, num_packs)\n")
GOOD_FUNC_2 = ("def func_2(item_load: torch.Tensor, pack_of_item: torch.Tensor, num_packs: int, rounds: int,\n"
               "           deadline: float) -> torch.Tensor:\n"
               "    from heubase.eplb.refine import swap_max_min\n"
               "    return swap_max_min(item_load, pack_of_item, num_packs, rounds=rounds)\n")
BROKEN_FUNC_1 = ("def func_1(item_load: torch.Tensor, num_packs: int) -> torch.Tensor:\n"
                 "    return torch.zeros_like(item_load, dtype=torch.long)\n")


def fenced(code: str) -> str:
    return f"Here is the program.\n\n```python\n{code}```\n"


class ScriptedModel:
    """Answers chat requests by operation; thread-safe (the server is threaded)."""

    def __init__(self, skeleton: str, good: str, broken: str):
        self.skeleton, self.good, self.broken = skeleton, good, broken
        self.lock = threading.Lock()
        self.seen: list[str] = []

    def __call__(self, request: dict):
        system = request["messages"][0]["content"]
        with self.lock:
            first = not self.seen
            if "hyperparameter optimisation" in system:
                op = "ranges"
            elif "technical writer" in system:
                op = "describe"
            elif "debugging" in system:
                op = "fix"
            elif "implementing optimisation heuristics" in system:
                op = "fill"
            else:
                op = "structure"
            broken_fill = op == "fill" and "fill" not in self.seen
            self.seen.append(op)
        if first:
            return Status(429, retry_after=0)
        if op == "ranges":
            return Reply("```python\npms_dict = {'REFINE_ROUNDS': (4, 64), 'REFINE_SHARE': (0.3, 0.95)}\n```")
        if op == "describe":
            return Reply('```python\ndef balanced_gpu_packer(item_load, num_packs):\n'
                         '    """Packs each row of replica loads onto GPUs with equal slot counts."""\n```')
        if op == "fix":
            return Reply(fenced(self.good))
        if op == "fill":
            return Reply(fenced(self.broken if broken_fill else self.good))
        return Reply(fenced(self.skeleton))


@pytest.fixture(scope="module")
def programs():
    skeleton = SKELETON.read_text()
    good = Program.parse(skeleton).with_functions({"func_1": GOOD_FUNC_1, "func_2": GOOD_FUNC_2}).source
    broken = Program.parse(good).with_function("func_1", BROKEN_FUNC_1).source
    return skeleton, good, broken


def evolve(problem: Path, run_dir: Path, base_url: str, *extra: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "beam.cli", "evolve", str(problem), "--generator", "llm", "--base-url", base_url,
               "--model", "fake-model", "--api-key", "test-key", "--generations", "1", "--population", "2",
               "--evaluations", "14", "--run-dir", str(run_dir), "--no-example", *extra]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_llm_evolve_fixes_calibrates_remembers_and_replays(programs, tmp_path, reproducible_eplb):
    problem = reproducible_eplb
    model = ScriptedModel(*programs)
    with FakeOpenAI(model) as server:
        done = evolve(problem, tmp_path / "run", server.base_url)
        assert done.returncode == 0, done.stdout + done.stderr
        requests = len(server.requests)
        assert "best validation fitness" in done.stdout
        with RunStore(tmp_path / "run") as store:
            calls = store.calls()
            assert calls and all(c["model"] == "fake-model" for c in calls)
            assert any(c["error"] for c in calls), "the 429 should be recorded as a failed attempt"
            assert store.usage_totals()["prompt_tokens"] > 0
            fixed = [p for p in store.programs() if p["role"] == "fix"]
            assert fixed and any(store.evaluation(p["id"], "validation")["valid"] for p in fixed)
            broken = [e for e in store.evaluations() if not e["valid"]]
            assert any("func_1" in (e["error"] or "") for e in broken)
            assert any(p["role"] == "calibration" for p in store.programs())
            assert store.load_memory()
            assert {"fill", "fix", "ranges", "describe", "structure"} <= set(model.seen)
        # resuming replays every reply from the run database: the server sees no new request
        again = evolve(problem, tmp_path / "run", server.base_url, "--resume")
        assert again.returncode == 0, again.stdout + again.stderr
        assert len(server.requests) == requests
        assert " 0 sandbox runs" in again.stdout


@pytest.mark.slow
def test_llm_evolve_with_a_dead_endpoint_reports_and_keeps_the_run(tmp_path, reproducible_eplb):
    problem = reproducible_eplb
    with FakeOpenAI(lambda request: Status(500)) as server:
        url = server.base_url
    done = evolve(problem, tmp_path / "run", url)
    assert done.returncode == 1
    assert "no valid program was found" in done.stdout
    with RunStore(tmp_path / "run") as store:
        assert store.integrity_check() == "ok"
        assert all(c["error"] for c in store.calls())
