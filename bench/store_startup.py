"""Start-up time of the embedded store as its history grows, through the real CLI.

Ingests a few thousand documents in many `kg ingest` calls into one data dir, and after each
call times `kg stats` (a fresh process: it starts the server, which loads the graph) and the
server's own start. Before compaction, every write ever made was replayed from the
append-only file as Cypher text at each start, and start-up grew with the history until it
passed the 15 s limit at about 1,200 documents. Now each command that wrote compacts the file
into an RDB snapshot, and indexes are rebuilt in the background, so start-up should stay flat.

Documents: the 1,890 MuSiQue passages (../shared/datasets/musique_subset), then the same
passages again under new ids with their sentences in reverse order, up to --docs.

    .venv/bin/python bench/store_startup.py [--docs 3000] [--calls 12]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kg.config import get_settings  # noqa: E402
from kg.stores.falkordb.server import FalkorDBServer  # noqa: E402


def documents(datasets_dir: Path, n: int) -> list[dict]:
    corpus = json.loads((datasets_dir / "musique_subset" / "musique_train_corpus.json").read_text())
    docs = [{"id": f"musique-{i}", "title": p["title"], "text": p["text"]} for i, p in enumerate(corpus)]
    i = 0
    while len(docs) < n:
        p = corpus[i % len(corpus)]
        sentences = [s for s in p["text"].split(". ") if s]
        docs.append({"id": f"musique-{i}-b", "title": p["title"], "text": ". ".join(reversed(sentences))})
        i += 1
    return docs[:n]


def kg(data_dir: Path, *args: str) -> tuple[float, subprocess.CompletedProcess]:
    env = {**os.environ, "KG_DATA_DIR": str(data_dir)}
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "kg.cli", *args], capture_output=True, text=True, env=env, cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(f"kg {' '.join(args)} failed:\n{out.stderr}")
    return time.perf_counter() - t0, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=3000)
    ap.add_argument("--calls", type=int, default=12)
    ap.add_argument("--datasets-dir", type=Path, default=get_settings().datasets_dir)
    args = ap.parse_args()
    docs = documents(args.datasets_dir, args.docs)
    per_call = -(-len(docs) // args.calls)
    print(f"{len(docs)} documents in {args.calls} `kg ingest` calls of {per_call}")
    print(f"{'call':>4} {'documents':>9} {'entities':>8} {'ingest s':>8} {'kg stats s':>10} {'server start s':>14} "
          f"{'snapshot MB':>11} {'log MB':>7}")
    starts, stats_times = [], []
    with tempfile.TemporaryDirectory(prefix="kg-startup-") as tmp:
        data = Path(tmp) / "data"
        for call in range(args.calls):
            part = Path(tmp) / f"part{call}.jsonl"
            part.write_text("".join(json.dumps(d) + "\n" for d in docs[call * per_call:(call + 1) * per_call]))
            ingest_s, _ = kg(data, "ingest", "-q", str(part))
            stats_s, out = kg(data, "stats", "--json")
            stats = json.loads(out.stdout)
            srv = FalkorDBServer(data)
            t0 = time.perf_counter()
            srv.start()
            start_s = time.perf_counter() - t0
            srv.stop(force=True)
            incr, base = srv.aof_sizes()
            starts.append(start_s)
            stats_times.append(stats_s)
            print(f"{call + 1:>4} {stats['documents']:>9} {stats['entities']:>8} {ingest_s:>8.1f} {stats_s:>10.2f} "
                  f"{start_s:>14.3f} {base / 1e6:>11.1f} {incr / 1e6:>7.2f}", flush=True)
    half = len(starts) // 2
    print(f"server start, median of the first {half} calls {statistics.median(starts[:half]):.3f} s, "
          f"of the last {len(starts) - half} {statistics.median(starts[half:]):.3f} s; "
          f"kg stats {statistics.median(stats_times[:half]):.2f} s -> {statistics.median(stats_times[half:]):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
