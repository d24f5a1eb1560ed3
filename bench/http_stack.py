"""Why memhead's hot routes are plain Starlette endpoints: the per-request cost of each HTTP
layer on this machine, measured in one run.

Each app serves the same small JSON body at ``GET /sessions/{id}/memory``, under uvicorn
(uvloop, httptools) pinned to core 0, driven by wrk pinned to core 1 (64 connections). The
apps: bare Starlette (the floor), a FastAPI app whose route is a plain Starlette ``Route``
(what memhead does for the Motörhead routes), an ordinary FastAPI route, and memhead itself
(``GET /`` without the store, and a real window read from SQLite).

    python bench/http_stack.py [--duration 5] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tests.servers import free_port  # noqa: E402

APPS = {
    "starlette (floor)": ["uvicorn", "stack_apps:starlette_app"],
    "fastapi + starlette Route": ["uvicorn", "stack_apps:fastapi_starlette_route"],
    "fastapi route": ["uvicorn", "stack_apps:fastapi_route"],
    "memhead GET /": ["memhead"],
    "memhead GET memory (sqlite)": ["memhead"],
}


def start(kind: list[str], port: int, tmp: str) -> subprocess.Popen[bytes]:
    if kind[0] == "uvicorn":
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            kind[1],
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        env = {**os.environ, "PYTHONPATH": str(HERE)}
    else:
        cmd = [sys.executable, "-m", "memhead", "serve", "--host", "127.0.0.1", "--port", str(port)]
        env = {**os.environ, "MEMHEAD_STORE_URL": f"sqlite:///{tmp}/stack.db"}
    proc = subprocess.Popen(
        ["taskset", "-c", "0", *cmd],
        env=env,
        cwd=tmp,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/sessions/warm/memory", timeout=1)
            return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{cmd} did not start")


def wrk(url: str, duration: int) -> float:
    out = subprocess.run(
        ["taskset", "-c", "1", "wrk", "-t1", "-c64", f"-d{duration}s", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if match is None or "Non-2xx" in out:
        raise RuntimeError(out)
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, kind in APPS.items():
            port = free_port()
            proc = start(kind, port, tmp)
            path = "/" if name == "memhead GET /" else "/sessions/bench/memory"
            if name.startswith("memhead"):
                body = {"messages": [{"role": "Human", "content": "hello"}]}
                httpx.post(f"http://127.0.0.1:{port}/sessions/bench/memory", json=body)
            try:
                runs = [
                    wrk(f"http://127.0.0.1:{port}{path}", args.duration) for _ in range(args.runs)
                ]
            finally:
                proc.terminate()
                proc.wait()
            results[name] = statistics.median(runs)
    floor = results["starlette (floor)"]
    for name, rps in results.items():
        print(f"{name:32} {rps:9.0f} req/s  {rps / floor:5.2f} x floor", file=sys.stderr)
    print(
        json.dumps(
            {"req_per_s": results, "ratio_to_floor": {k: v / floor for k, v in results.items()}}
        )
    )


if __name__ == "__main__":
    main()
