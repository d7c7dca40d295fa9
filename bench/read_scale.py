"""The read side at scale: badges, home, search, the venue page and its CSV export under gunicorn (the README's
settings) with 100,000 versions on PostgreSQL, at 16 connections, side by side with a bare Flask route under the
same gunicorn.

    .venv/bin/python bench/read_scale.py [--seconds 10] [--connections 16] [--artifacts 10000]

PostgreSQL: REGISTRY_BENCH_POSTGRES (an admin URL; default the test suite's, postgresql://postgres@127.0.0.1:5432/
postgres): a throw-away database is created, seeded (``reproreg.seeding``, bulk COPY) and dropped. The load is
made by ``wrk`` when it is on PATH (``--install-wrk`` runs ``apt-get install -y wrk`` first); otherwise by a
Python load generator with one thread and one keep-alive connection per connection (it saturates sooner than wrk:
the figures say which tool made them). Targets: badge ≥ 0.5× the bare route's requests/s; home, search and venue
page p99 ≤ 100 ms; the venue CSV export of 10,000 entries ≤ 2 s. Figures go to bench/results/read_scale.json.
"""

import argparse
import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

from common import ROOT, report

ADMIN_URL = os.environ.get("REGISTRY_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
#: the README's production command, less the bind address
GUNICORN = ["--worker-class", "gthread", "--workers", "4", "--threads", "8", "--timeout", "600",
            "--limit-request-line", "8190"]
BARE_APP = '''from flask import Flask, Response

app = Flask(__name__)
SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="90" height="20"><text>bare</text></svg>'


@app.get("/")
def bare():
    return Response(SVG, mimetype="image/svg+xml")
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    parts = urlsplit(url)
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=2)
            connection.request("GET", parts.path or "/")
            if connection.getresponse().status < 500:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer in {timeout} s")


def start_gunicorn(app: str, env: dict, cwd: str | None = None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "--bind", f"127.0.0.1:{port}",
                                *GUNICORN, app], env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    return process, f"http://127.0.0.1:{port}"


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def with_wrk(url: str, seconds: int, connections: int, extra_headers: dict) -> dict:
    headers = [arg for name, value in extra_headers.items() for arg in ("-H", f"{name}: {value}")]
    out = subprocess.run(["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency", *headers, url],
                         capture_output=True, text=True, check=True).stdout
    figures = {"tool": "wrk", "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])}
    for label in ("50", "99"):
        value, unit = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        figures[f"p{label}_ms"] = round(float(value) * _UNITS[unit], 2)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    figures["non_2xx"] = int(errors[1]) if errors else 0
    return figures


def with_threads(url: str, seconds: int, connections: int, extra_headers: dict) -> dict:
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client():
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        mine = []
        while time.monotonic() < deadline:
            start = time.perf_counter()
            connection.request("GET", path, headers=extra_headers)
            response = connection.getresponse()
            response.read()
            mine.append(time.perf_counter() - start)
            if response.status >= 400:
                failures[0] += 1
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    latencies.sort()

    def percentile(p):
        return round(latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1e3, 2)

    return {"tool": "python threads", "requests_per_s": round(len(latencies) / seconds, 1),
            "p50_ms": percentile(0.5), "p99_ms": percentile(0.99), "non_2xx": failures[0]}


#: seconds of load before each measured run, not counted: every worker has opened its connections and its
#: statements are prepared, as in a registry that has been up for a while
WARM_UP_SECONDS = 2


def load(url: str, seconds: int, connections: int, headers: dict | None = None) -> dict:
    runner = with_wrk if shutil.which("wrk") else with_threads
    runner(url, WARM_UP_SECONDS, connections, headers or {})
    return runner(url, seconds, connections, headers or {})


def timed_get(url: str) -> tuple[float, int, int]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    start = time.perf_counter()
    connection.request("GET", parts.path)
    response = connection.getresponse()
    body = response.read()
    return time.perf_counter() - start, response.status, body.count(b"\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--artifacts", type=int, default=10_000, help="10 versions each")
    parser.add_argument("--install-wrk", action="store_true", help="apt-get install -y wrk when it is missing")
    args = parser.parse_args()
    if args.install_wrk and not shutil.which("wrk"):
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=False, capture_output=True)

    import psycopg
    from sqlalchemy.engine import make_url

    from reproreg.db import make_engine, make_session_factory
    from reproreg.seeding import seed
    from reproreg.unit_of_work import unit_of_work
    from reproreg_migrations import upgrade

    name = f"registry_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    processes = []
    work = tempfile.mkdtemp(prefix="read-scale-")
    try:
        upgrade(url)
        engine = make_engine(url)
        started = time.perf_counter()
        with unit_of_work(make_session_factory(engine)) as session:
            seeded = seed(session, artifacts=args.artifacts, versions_per_artifact=10,
                          venue_entries=min(10_000, 2 * args.artifacts))
        seconds_to_seed = time.perf_counter() - started
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
        engine.dispose()

        Path(work, "bare_app.py").write_text(BARE_APP)
        env = {**os.environ, "REGISTRY_DATABASE_URL": url, "REGISTRY_BLOB_DIR": str(Path(work, "blobs")),
               "PYTHONPATH": str(ROOT)}
        registry, registry_url = start_gunicorn("reproreg.app:create_app()", env)
        bare, bare_url = start_gunicorn("bare_app:app", {**os.environ}, cwd=work)
        processes += [registry, bare]
        wait_for(bare_url + "/")
        wait_for(registry_url + "/")

        venue = seeded.venue
        badge = f"{registry_url}/badges/seed-0/model-100.svg"
        etag = subprocess.run(["curl", "-sI", badge], capture_output=True, text=True).stdout
        etag = re.search(r"(?im)^etag:\s*(\S+)", etag)
        connection = http.client.HTTPConnection("127.0.0.1", urlsplit(registry_url).port, timeout=60)
        connection.request("GET", f"/venues/{venue}")
        found = re.search(r'<a rel="next" href="([^"]+)"', connection.getresponse().read().decode())
        second_page = found[1].replace("&amp;", "&") if found else None
        connection.close()
        targets = {
            "bare_flask": bare_url + "/",
            "badge_svg": badge,
            "home": registry_url + "/",
            "search_broad": registry_url + "/?q=model",
            "search_filtered": registry_url + "/?metric=accuracy&state=reproduced",
            "venue_page": f"{registry_url}/venues/{venue}",
            "venue_page_later_cursor": registry_url + second_page if second_page else None,
        }
        results = {"versions": seeded.versions, "artifacts": seeded.artifacts, "venue_entries": seeded.venue_entries,
                   "seconds_to_seed": round(seconds_to_seed, 1), "gunicorn": " ".join(GUNICORN),
                   "connections": args.connections, "seconds_per_run": args.seconds, "cpus": os.cpu_count(),
                   "load_average_before": os.getloadavg()[0]}
        for label, target in targets.items():
            if target:
                results[label] = load(target, args.seconds, args.connections)
        if etag:
            results["badge_svg_304"] = load(badge, args.seconds, args.connections, {"If-None-Match": etag[1]})
        exports = [timed_get(f"{registry_url}/venues/{venue}.csv") for _ in range(3)]
        results["venue_csv"] = {"best_s": round(min(e[0] for e in exports), 3), "status": exports[0][1],
                                "lines": exports[0][2]}
        bare_rate = results["bare_flask"]["requests_per_s"]
        results["badge_vs_bare"] = round(results["badge_svg"]["requests_per_s"] / bare_rate, 2)
        results["targets"] = {
            "badge >= 0.5x bare": results["badge_vs_bare"] >= 0.5,
            **{f"{label} p99 <= 100 ms": results[label]["p99_ms"] <= 100
               for label in ("home", "search_broad", "venue_page", "venue_page_later_cursor") if label in results},
            "venue csv <= 2 s": results["venue_csv"]["best_s"] <= 2,
        }
        report("read_scale", results)
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
        with psycopg.connect(ADMIN_URL, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
