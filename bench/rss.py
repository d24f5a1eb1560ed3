"""Server RSS after many sessions (target: at most 150 MiB after 100,000 sessions of 20
messages, SQLite) and the database size per message.

Starts ``memhead serve`` on a fresh SQLite file with no LLM and no embedder (nothing is
summarized or embedded: this measures the store and the request path), then writes
``--sessions`` sessions of ``--messages`` messages through real HTTP, as Motörhead clients do:
each session gets ``--messages / 2`` LangChain-style POSTs of a Human/AI pair, then one GET of
its memory. The driver is ``wrk`` (``apt-get install wrk``) with a Lua script: each wrk thread
has one connection and walks its own sessions (``id``, ``id + threads``, ...) in order, so a
session's turns arrive one after another like a real client's, every session is written
exactly once, and each GET is checked to return a full window. Message texts are a
deterministic function of (session, turn), so the check at the end can compare windows.

Reports the server's VmRSS and VmHWM (peak), with RssAnon and RssFile, from
``/proc/<pid>/status`` at the start, after every 10% of the messages and at the end (after a
sample of sessions was read back and compared); the database size (file + ``-wal``) during the
run and after the server stopped, in bytes per message (and per table, from SQLite's ``dbstat``
when available); elapsed time and requests per second. After the server stops the file is
opened read-only to verify that exactly ``sessions × messages`` messages are stored. Prints PASS
or MISS against ``--target-mib``. A table on stderr, JSON on stdout.

    python bench/rss.py [--sessions 100000] [--messages 20] [--connections 16]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.servers import NO_PROVIDERS, MemheadProcess

W = 12
MIB = 1024 * 1024
PREFIX = "rss-"
WORDS = (
    "the a to and of my I you it is for in that what on with can we was about your this have "
    "sister brother garden recipe rice beans tomato train ticket Paris Lisbon Monday weekend "
    "budget invoice meeting dentist birthday present guitar lesson marathon running shoes "
    "weather forecast umbrella coffee tea library novel chapter author painting museum "
    "holiday flight hotel passport visa doctor appointment medicine allergy peanuts dog cat "
    "vet walk park bicycle repair office laptop password backup photo album wedding dress "
    "cousin Ines Marco Priya Tomasz Amara promotion salary interview resume course exam "
    "physics chemistry history Spanish French piano concert lake mountain hiking tent "
    "remember suggest maybe tomorrow yesterday because should would could really great idea"
).split()
HUMAN_WORDS, AI_WORDS = 12, 30
HUMAN, AI = 1, 2
STATUS_FIELDS = ("VmRSS", "VmHWM", "RssAnon", "RssFile")

LOAD = r"""
local sessions = tonumber(os.getenv("RSS_SESSIONS"))
local pairs_per = tonumber(os.getenv("RSS_PAIRS"))
local window = tonumber(os.getenv("RSS_WINDOW"))
local nthreads = tonumber(os.getenv("RSS_THREADS"))
local prefix = os.getenv("RSS_PREFIX")
local human_words = tonumber(os.getenv("RSS_HUMAN_WORDS"))
local ai_words = tonumber(os.getenv("RSS_AI_WORDS"))
local words = {}
for w in string.gmatch(os.getenv("RSS_WORDS"), "%S+") do words[#words + 1] = w end

local all, ids = {}, 0
function setup(thread)
  thread:set("id", ids)
  ids = ids + 1
  all[#all + 1] = thread
end

-- globals, so that done() can read them from each thread
posts, gets, bad, short = 0, 0, 0, 0
local mine, total, step, n, finished = 0, 0, 1, 0, false
local headers = {["Content-Type"] = "application/json"}
local expected = math.min(window, 2 * pairs_per)

function init(args)
  if id < sessions then mine = math.floor((sessions - 1 - id) / nthreads) + 1 end
  total = mine * (pairs_per + 1)
  step = math.max(1, math.floor(mine * pairs_per / 200))
end

-- the same function as text() in bench/rss.py
local function text(s, turn, role, count)
  local out = {}
  for w = 1, count do
    local h = (s * 2654435761 + turn * 40503 + w * 2246822519 + role) % 4294967296
    out[w] = words[h % #words + 1]
  end
  return table.concat(out, " ")
end

function request()
  if n >= total then
    if not finished then
      finished = true
      io.write(string.format("DONE %d %d %d\n", id, posts, gets))
      io.flush()
      wrk.thread:stop()
    end
    return wrk.format("GET", "/")
  end
  -- n moves on in response(): wrk calls request() once before the run to inspect it
  local j, k = math.floor(n / (pairs_per + 1)), n % (pairs_per + 1)
  local s = id + j * nthreads
  local path = "/sessions/" .. prefix .. s .. "/memory"
  if k == pairs_per then return wrk.format("GET", path) end
  local human = "s" .. s .. " t" .. k .. ": " .. text(s, k, 1, human_words) .. "?"
  local ai = text(s, k, 2, ai_words) .. "."
  local body = '{"messages":[{"role":"Human","content":"' .. human
    .. '"},{"role":"AI","content":"' .. ai .. '"}]}'
  return wrk.format("POST", path, headers, body)
end

function response(status, headers, body)
  n = n + 1
  if status ~= 200 then
    bad = bad + 1
    if bad <= 5 then
      io.write(string.format("BAD %d %d %s\n", id, status, string.sub(body, 1, 200)))
      io.flush()
    end
  elseif string.sub(body, 1, 12) == '{"messages":' then
    gets = gets + 1
    local _, roles = string.gsub(body, '"role":', "")
    if roles ~= expected then short = short + 1 end
  elseif string.find(body, '"status":"Ok"', 1, true) then
    posts = posts + 1
    if posts % step == 0 then
      io.write(string.format("P %d %d %d\n", id, posts, gets))
      io.flush()
    end
  end
end

function done(summary, latency, requests)
  local p, g, b, s = 0, 0, 0, 0
  for _, t in ipairs(all) do
    p, g = p + t:get("posts"), g + t:get("gets")
    b, s = b + t:get("bad"), s + t:get("short")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "posts_ok": %d, "gets_ok": %d, "non_200": %d, '
    .. '"short_windows": %d, "p50_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f, '
    .. '"socket_errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}}\n',
    summary.requests, p, g, b, s, latency:percentile(50) / 1e3,
    latency:percentile(99) / 1e3, latency.max / 1e3,
    e.connect, e.read, e.write, e.timeout))
  io.flush()
end
"""


def text(s: int, turn: int, role: int, count: int) -> str:
    """The words of one message; the Lua script computes the same."""
    out = []
    for w in range(1, count + 1):
        h = (s * 2654435761 + turn * 40503 + w * 2246822519 + role) % 4294967296
        out.append(WORDS[h % len(WORDS)])
    return " ".join(out)


def expected_window(s: int, pairs: int) -> list[dict[str, str]]:
    """What GET /sessions/{id}/memory answers after all pairs: the newest W, newest first."""
    messages = []
    for k in range(pairs):
        messages.append(
            {"role": "Human", "content": f"s{s} t{k}: {text(s, k, HUMAN, HUMAN_WORDS)}?"}
        )
        messages.append({"role": "AI", "content": f"{text(s, k, AI, AI_WORDS)}."})
    return messages[::-1][:W]


def proc_status(pid: int) -> dict[str, int]:
    """Memory fields of ``/proc/<pid>/status``, in bytes."""
    found: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in STATUS_FIELDS:
            found[name] = int(value.split()[0]) * 1024
    return found


def db_bytes(db: Path) -> dict[str, int]:
    sizes = {}
    for suffix in ("", "-wal"):
        path = Path(f"{db}{suffix}")
        sizes["db" + suffix.replace("-", "_")] = path.stat().st_size if path.exists() else 0
    return sizes


def snapshot(label: str, pid: int, db: Path, started: float, messages: int) -> dict[str, Any]:
    status = proc_status(pid)
    sizes = db_bytes(db)
    total = sizes["db"] + sizes["db_wal"]
    return {
        "at": label,
        "t_s": round(time.monotonic() - started, 1),
        "messages": messages,
        **{f"{k.lower()}_mib": round(v / MIB, 1) for k, v in status.items()},
        "db_mib": round(sizes["db"] / MIB, 1),
        "wal_mib": round(sizes["db_wal"] / MIB, 1),
        "bytes_per_message": round(total / messages, 1) if messages else None,
    }


def wrk_env(args: argparse.Namespace) -> dict[str, str]:
    return {
        **os.environ,
        "RSS_SESSIONS": str(args.sessions),
        "RSS_PAIRS": str(args.messages // 2),
        "RSS_WINDOW": str(W),
        "RSS_THREADS": str(args.connections),
        "RSS_PREFIX": PREFIX,
        "RSS_HUMAN_WORDS": str(HUMAN_WORDS),
        "RSS_AI_WORDS": str(AI_WORDS),
        "RSS_WORDS": " ".join(WORDS),
    }


def run_wrk(
    script: Path, server: MemheadProcess, db: Path, args: argparse.Namespace, started: float
) -> tuple[dict[str, Any], list[dict[str, Any]], float]:
    """Drive the load; a snapshot at each 10% of the messages. Returns wrk's result, the
    snapshots and the seconds from the start of wrk until its last thread finished."""
    n = args.connections
    command = ["wrk", f"-t{n}", f"-c{n}", f"-d{args.max_duration}s", "--timeout", "60s"]
    command += ["-s", str(script), server.url + "/"]
    pairs = args.messages // 2
    total_posts = args.sessions * pairs
    posts = [0] * n
    finished: set[int] = set()
    snapshots: list[dict[str, Any]] = []
    next_mark = 1
    elapsed = 0.0
    result: dict[str, Any] = {}
    wrk = subprocess.Popen(command, env=wrk_env(args), stdout=subprocess.PIPE, text=True)
    assert wrk.stdout is not None
    for line in wrk.stdout:
        kind, _, rest = line.strip().partition(" ")
        if kind in ("P", "DONE"):
            thread, count, _ = map(int, rest.split())
            posts[thread] = count
            finished |= {thread} if kind == "DONE" else set()
            while next_mark <= 10 and sum(posts) * 10 >= next_mark * total_posts:
                label = f"{next_mark * 10}%"
                snapshots.append(snapshot(label, server.proc.pid, db, started, 2 * sum(posts)))
                print(format_snapshot(snapshots[-1]), file=sys.stderr)
                next_mark += 1
            if len(finished) == n and not elapsed:
                elapsed = time.monotonic() - started
                wrk.send_signal(signal.SIGINT)  # wrk waits for -d otherwise
        elif kind == "BENCH":
            result = json.loads(rest)
        elif kind == "BAD":
            print(f"  error: {rest}", file=sys.stderr)
    if wrk.wait() != 0 or not result:
        sys.exit(f"wrk failed (exit {wrk.returncode})")
    return result, snapshots, elapsed or time.monotonic() - started


def verify_sample(url: str, args: argparse.Namespace) -> dict[str, int]:
    """GET a random sample of sessions and compare each window with the expected messages."""
    rng = random.Random(args.seed)
    sample = rng.sample(range(args.sessions), min(args.verify_sample, args.sessions))
    wrong = 0
    with httpx.Client(base_url=url, timeout=30) as client:
        for s in sample:
            r = client.get(f"/sessions/{PREFIX}{s}/memory")
            wrong += r.status_code != 200 or r.json()["messages"] != expected_window(
                s, args.messages // 2
            )
    return {"sampled": len(sample), "wrong": wrong}


def count_stored(db: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Read the file read-only after the server stopped: what is stored, and where the bytes go."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        messages, content = conn.execute(
            "SELECT count(*), coalesce(sum(length(CAST(content AS BLOB))), 0) FROM messages"
        ).fetchone()
        sessions = conn.execute("SELECT count(*) FROM sessions").fetchone()[0]
        uneven = conn.execute(
            "SELECT count(*) FROM sessions WHERE last_seq != ?", (args.messages,)
        ).fetchone()[0]
        tables: dict[str, float] = {}
        try:
            rows = conn.execute(
                "SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"
            ).fetchall()
            tables = {name: round(size / max(1, messages), 1) for name, size in rows if size}
        except sqlite3.OperationalError:  # SQLite built without the dbstat table
            pass
    finally:
        conn.close()
    return {
        "messages": messages,
        "sessions": sessions,
        "sessions_not_at_expected_seq": uneven,
        "content_bytes_per_message": round(content / max(1, messages), 1),
        "bytes_per_message_by_table": tables,
    }


SNAPSHOT_COLUMNS = (  # (title, key, width)
    ("at", "at", 9),
    ("t s", "t_s", 7),
    ("messages", "messages", 9),
    ("RSS MiB", "vmrss_mib", 8),
    ("HWM MiB", "vmhwm_mib", 8),
    ("anon MiB", "rssanon_mib", 8),
    ("file MiB", "rssfile_mib", 8),
    ("db MiB", "db_mib", 8),
    ("wal MiB", "wal_mib", 8),
    ("B/msg", "bytes_per_message", 7),
)


def format_snapshot(snap: dict[str, Any]) -> str:
    cells = []
    for _, key, width in SNAPSHOT_COLUMNS:
        value = snap.get(key)
        cells.append(f"{'' if value is None else value:>{width}}")
    return " ".join(cells)


def header() -> str:
    return " ".join(f"{title:>{width}}" for title, _, width in SNAPSHOT_COLUMNS)


def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="memhead-rss-", dir=args.tmp) as name:
        tmp = Path(name)
        db = tmp / "rss.db"
        script = tmp / "rss.lua"
        script.write_text(LOAD)
        env = {
            **NO_PROVIDERS,
            "MEMHEAD_STORE_URL": f"sqlite:///{db}",
            "MOTORHEAD_MAX_WINDOW_SIZE": str(W),
            "MOTORHEAD_LONG_TERM_MEMORY": "false",
        }
        with MemheadProcess(env, cwd=tmp) as server:
            server.wait_ready()
            print(header(), file=sys.stderr)
            started = time.monotonic()
            snapshots = [snapshot("start", server.proc.pid, db, started, 0)]
            print(format_snapshot(snapshots[0]), file=sys.stderr)
            result, marks, elapsed = run_wrk(script, server, db, args, started)
            snapshots += marks
            verified = verify_sample(server.url, args)
            written = 2 * result["posts_ok"]
            snapshots.append(snapshot("end", server.proc.pid, db, started, written))
            print(format_snapshot(snapshots[-1]), file=sys.stderr)
            exit_code = server.stop()
        stored = count_stored(db, args)
        after_stop = db_bytes(db)
    requests = args.sessions * (args.messages // 2 + 1)
    end = snapshots[-1]
    stopped_bytes = after_stop["db"] + after_stop["db_wal"]
    return {
        "snapshots": snapshots,
        "rss_end_mib": end["vmrss_mib"],
        "rss_peak_mib": end["vmhwm_mib"],
        "target_mib": args.target_mib,
        "verdict": "PASS" if end["vmrss_mib"] <= args.target_mib else "MISS",
        "elapsed_s": round(elapsed, 1),
        "requests": requests,
        "req_per_s": round(requests / elapsed, 1),
        "wrk": result,
        "verify_sample": verified,
        "stored": stored,
        "messages_expected": args.sessions * args.messages,
        "db_bytes_after_stop": after_stop,
        "bytes_per_message_after_stop": round(stopped_bytes / max(1, stored["messages"]), 1),
        "server_exit_code": exit_code,
    }


def faults(r: dict[str, Any]) -> list[str]:
    """Everything that makes the run not count: lost or failed writes, wrong windows."""
    wrk = r["wrk"]
    found = []
    if r["stored"]["messages"] != r["messages_expected"]:
        found.append(
            f"stored {r['stored']['messages']} messages, expected {r['messages_expected']}"
        )
    if r["stored"]["sessions_not_at_expected_seq"]:
        found.append(f"{r['stored']['sessions_not_at_expected_seq']} sessions with a wrong count")
    if wrk["non_200"] or sum(wrk["socket_errors"].values()):
        found.append(f"{wrk['non_200']} non-200 answers, socket errors {wrk['socket_errors']}")
    if wrk["short_windows"] or r["verify_sample"]["wrong"]:
        found.append(f"{wrk['short_windows']} short windows, {r['verify_sample']} sampled")
    return found


def summary(r: dict[str, Any]) -> str:
    s = r["stored"]
    return "\n".join(
        [
            f"{r['requests']} requests in {r['elapsed_s']} s ({r['req_per_s']:.0f}/s), "
            f"wrk p50 {r['wrk']['p50_ms']:.1f} ms, p99 {r['wrk']['p99_ms']:.1f} ms",
            f"stored {s['messages']} messages in {s['sessions']} sessions "
            f"(expected {r['messages_expected']}); sample of {r['verify_sample']['sampled']} "
            f"windows read back, {r['verify_sample']['wrong']} wrong",
            f"content {s['content_bytes_per_message']} B/message; after stop "
            f"{r['db_bytes_after_stop']['db'] / MIB:.1f} MiB db + "
            f"{r['db_bytes_after_stop']['db_wal'] / MIB:.1f} MiB wal = "
            f"{r['bytes_per_message_after_stop']} B/message",
            "by table, B/message: "
            + ", ".join(f"{k} {v}" for k, v in s["bytes_per_message_by_table"].items() if v >= 1),
            f"RSS at end {r['rss_end_mib']} MiB (peak {r['rss_peak_mib']} MiB), "
            f"target <= {r['target_mib']} MiB: {r['verdict']}",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=20, help="per session (even)")
    parser.add_argument("--connections", type=int, default=16, help="wrk threads, 1 conn each")
    parser.add_argument("--target-mib", type=float, default=150.0)
    parser.add_argument("--verify-sample", type=int, default=1000, help="windows read back")
    parser.add_argument("--max-duration", type=int, default=7200, help="s before wrk gives up")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tmp", help="directory for the database (default: the system's)")
    args = parser.parse_args()
    if args.messages < 2 or args.messages % 2:
        parser.error("--messages must be even and at least 2 (one Human/AI pair per POST)")
    if args.sessions < 1 or args.connections < 1:
        parser.error("--sessions and --connections must be at least 1")
    if shutil.which("wrk") is None:
        sys.exit("bench/rss.py needs wrk: apt-get install wrk")
    result = run(args)
    config = dict(vars(args)) | {"window": W, "cpus": os.cpu_count()}
    print(summary(result), file=sys.stderr)
    problems = faults(result)
    for problem in problems:
        print(f"FAULT: {problem}", file=sys.stderr)
    print(json.dumps({"config": config, "result": result | {"faults": problems}}, indent=2))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
