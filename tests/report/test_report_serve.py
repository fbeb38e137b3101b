"""`beam report --serve`: a real server process on a free port, fetched with urllib, rebuilt when the run writes."""
from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from beam.store import RunStore

ROOT = Path(__file__).resolve().parents[2]


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=60) as reply:
        assert reply.status == 200
        return reply.read().decode("utf-8")


def test_serve_rebuilds_the_page_when_the_run_writes(run_dir, tmp_path):
    out = tmp_path / "served.html"
    server = subprocess.Popen([sys.executable, "-m", "beam.cli", "report", str(run_dir), "--serve", "--port", "0",
                               "--out", str(out)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    try:
        line = server.stdout.readline()
        assert "http://127.0.0.1:" in line, line + server.stderr.read()
        url = line.split("http://", 1)[1].split()[0]
        base = "http://" + url
        page = fetch(base)
        assert 'name="beam-live-stamp"' in page and page.count('class="plotly-graph-div"') >= 6
        assert "<th>programs stored</th><td class=\"n\">7</td>" in page
        stamp = fetch(base + "stamp")
        assert fetch(base + "stamp") == stamp  # nothing written: the stamp stands still
        with RunStore(run_dir) as store:  # the run goes on: one more program and its evaluation
            pid, _ = store.add_program("def rebalance_experts(weight):\n    return 8\n", "realised", "fill_all", 2)
            store.record_evaluation(pid, "validation", {"valid": False, "error": "runtime: x", "error_kind": "runtime"})
        deadline = time.monotonic() + 30
        while fetch(base + "stamp") == stamp and time.monotonic() < deadline:
            time.sleep(0.2)
        assert fetch(base + "stamp") != stamp
        page = fetch(base)
        assert "<th>programs stored</th><td class=\"n\">8</td>" in page
        assert out.read_text(encoding="utf-8") == page  # the file on disk follows the served page
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_serve_refuses_a_folder_without_a_run(tmp_path):
    done = subprocess.run([sys.executable, "-m", "beam.cli", "report", str(tmp_path), "--serve", "--port", "0"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "no run database" in done.stderr and done.stdout == ""
