"""The benchmarks still run: each on a tiny input, its JSON report read back. Their figures
are not checked here (speed targets live in the benches, never in tests)."""

from __future__ import annotations

import json
import subprocess
import sys

from kg.config import REPO_ROOT
from tests.datasets import needs_datasets


def _bench(*args: str) -> dict:
    out = subprocess.run([sys.executable, *args, "--json"], cwd=REPO_ROOT, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout)


def test_ingest_bench_reports_ratios_stages_and_taking_turns():
    r = _bench("bench/ingest.py", "--limit", "4", "--repeat", "1", "--turns")
    assert r["documents"] == 4 and r["words"] > 0
    assert r["extract_words_per_second"] > 0 and r["ingest_words_per_second"] > 0
    assert r["taking_turns_words_per_second"] > 0 and r["default_over_taking_turns"] > 0
    assert r["stage_seconds"]["embeddings"] > 0 and r["stage_seconds"]["writes"] > 0
    assert r["graph"]["documents"] == 4


def test_scale_bench_synthetic_part_with_write_profile():
    r = _bench("bench/scale.py", "--part", "synthetic", "--entities", "300", "--step-docs", "20",
               "--profile-writes")
    steps = r["synthetic"]
    assert steps and steps[-1]["entities"] >= 300
    assert all(s["writes_ms_per_doc"] > 0 and s["statements_ms_per_doc"] for s in steps)


@needs_datasets
def test_scale_bench_musique_part():
    r = _bench("bench/scale.py", "--part", "musique", "--slices", "2", "--limit", "6")
    assert [s["documents"] for s in r["musique"]] == [3, 3]
    assert r["musique"][-1]["entities"] >= r["musique"][0]["entities"] > 0
    assert r["musique_last_over_first"] > 0
