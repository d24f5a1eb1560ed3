"""LoCoMo retrieval through a running memhead: recall@5/10/25/50 per category and overall,
for keyword, vector and hybrid search, plus search latency.

Ingests each conversation of the data file through the native HTTP API (one session per
conversation, one message per turn: ``"<speaker>: <text>"``, photo turns with their caption,
the session's date as ``created_at``, the turn's dia id as the message id), waits until the
server reports no embedding backlog, then asks every question through ``POST /api/v1/search``.

    memhead serve  # e.g. MEMHEAD_EMBED_MODEL=local, see the README
    python bench/locomo.py [--url http://127.0.0.1:8080] [--data FILE] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from locomo_offline import (
    DEFAULT_DATA,
    KS,
    Conversation,
    Table,
    load,
    print_summary,
    print_table,
    recall_table,
)

MODES = ("keyword", "vector", "hybrid")
DEPTH = max(KS)
BATCH = 200


def session_id(conversation: Conversation) -> str:
    return f"locomo-{conversation.sample_id}"


def ingest(client: httpx.Client, conversation: Conversation) -> dict[int, str]:
    """Store a conversation (replacing an earlier run's); return seq -> dia id."""
    path = f"/api/v1/sessions/{quote(session_id(conversation), safe='')}"
    client.delete(path).raise_for_status()
    by_seq: dict[int, str] = {}
    turns = conversation.turns
    for start in range(0, len(turns), BATCH):
        batch = [
            {
                "role": "user",
                "content": t.content,
                "id": t.dia_id,
                "created_at": t.created_at.isoformat() + "Z",
            }
            for t in turns[start : start + BATCH]
        ]
        r = client.post(f"{path}/messages", json={"messages": batch})
        r.raise_for_status()
        for message in r.json()["messages"]:
            by_seq[message["seq"]] = message["id"]
    return by_seq


def wait_for_embeddings(client: httpx.Client, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        ready = client.get("/readyz").json()
        backlog = ready.get("embedding_backlog")
        if backlog is None:
            sys.exit("the server has no embedder: start it with MEMHEAD_EMBED_MODEL set")
        if backlog == 0:
            return
        if time.monotonic() > deadline:
            sys.exit(f"embedding not done after {timeout_s}s ({backlog} left)")
        print(f"waiting for embeddings: {backlog} left", file=sys.stderr)
        time.sleep(2)


def ask(
    client: httpx.Client, conversation: Conversation, by_seq: dict[int, str], mode: str
) -> tuple[list[tuple[int, Sequence[str], Sequence[str]]], list[float]]:
    rows: list[tuple[int, Sequence[str], Sequence[str]]] = []
    latencies = []
    for q in conversation.questions:
        body = {
            "query": q.text,
            "session_id": session_id(conversation),
            "limit": DEPTH,
            "mode": mode,
        }
        start = time.perf_counter()
        r = client.post("/api/v1/search", json=body)
        latencies.append(time.perf_counter() - start)
        r.raise_for_status()
        ranked = [by_seq[h["seq"]] for h in r.json()["hits"]]
        rows.append((q.category, q.evidence, ranked))
    return rows, latencies


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument("--embed-timeout", type=float, default=1800)
    args = parser.parse_args()
    loaded = load(args.data)
    results: dict[str, Table] = {}
    latency: dict[str, dict[str, float]] = {}
    with httpx.Client(base_url=args.url, timeout=60) as client:
        seqs = [ingest(client, c) for c in loaded.conversations]
        wait_for_embeddings(client, args.embed_timeout)
        for mode in MODES:
            rows: list[tuple[int, Sequence[str], Sequence[str]]] = []
            times: list[float] = []
            for conversation, by_seq in zip(loaded.conversations, seqs, strict=True):
                r, t = ask(client, conversation, by_seq, mode)
                rows += r
                times += t
            results[mode] = recall_table(rows)
            latency[mode] = {
                "p50_ms": 1000 * percentile(times, 0.5),
                "p99_ms": 1000 * percentile(times, 0.99),
                "mean_ms": 1000 * statistics.fmean(times),
            }
    report = {
        "data": str(args.data),
        "conversations": len(loaded.conversations),
        "messages": sum(len(c.turns) for c in loaded.conversations),
        "questions": sum(len(c.questions) for c in loaded.conversations),
        "skipped_evidence_ids": loaded.skipped_evidence,
        "recall": results,
        "latency": latency,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(
        f"{report['conversations']} conversations, {report['messages']} messages, "
        f"{report['questions']} questions; evidence ids skipped: {loaded.skipped_evidence}"
    )
    for mode in MODES:
        print_table(mode, results[mode])
    print_summary(results)
    print("\nsearch latency (client-side, sequential):")
    for mode, lat in latency.items():
        print(f"  {mode:8} p50 {lat['p50_ms']:6.1f} ms   p99 {lat['p99_ms']:6.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
