"""Where the time of a large push goes: one file (1 GiB by default) sent side by side to

- nothing: ``cp`` of the file plus one SHA-256 pass over it (the baseline the push is measured against);
- a bare WSGI app under the same gunicorn as the registry, which only reads the body and discards it (the
  transport floor), reads it through werkzeug's guarded stream (what ``request.stream`` adds), writes it to disk,
  and writes it while hashing it on a second thread (what an upload has to do);
- the registry under gunicorn (production settings) and under ``registry serve``, with ``regctl push``.

The push is broken down with the registry's access log (each request's duration) and the client's hash pass
timed alone; ``--profile`` samples the gunicorn worker with py-spy while it receives the push, when py-spy is
installed. Results in ``bench/results/push_profile.json``.
"""

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ACCESS_LOG_FORMAT, GUNICORN_ARGS, ROOT, best_of, gunicorn_registry, report  # noqa: E402

MiB = 1 << 20
SINK_CHUNK = int(os.environ.get("SINK_CHUNK", str(4 * MiB)))


def sink(environ, start_response):
    """The bare WSGI app: read the request body and discard it, or write it to a file (``/write``), or write
    and hash it (``/hash``); ``/guarded`` reads through werkzeug's get_input_stream, as Flask's request.stream."""
    mode = environ["PATH_INFO"].strip("/")
    length = int(environ.get("CONTENT_LENGTH") or 0)
    source = environ["wsgi.input"]
    if mode == "guarded":
        from werkzeug.wsgi import get_input_stream

        source = get_input_stream(environ, max_content_length=1 << 40)
    hasher = None
    if mode == "hash":
        from reproreg_schemas.digests import PipelinedHasher

        hasher = PipelinedHasher()
    fd = None
    if mode in ("write", "hash"):
        fd = os.open(os.path.join(os.environ["SINK_DIR"], f"sink-{os.getpid()}-{time.monotonic_ns()}"),
                     os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    received = 0
    try:
        while received < length:
            chunk = source.read(min(SINK_CHUNK, length - received))
            if not chunk:
                break
            received += len(chunk)
            if hasher:
                hasher.update(chunk)
            if fd is not None:
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view):]
    finally:
        if fd is not None:
            os.close(fd)
    body = (hasher.hexdigest() if hasher else str(received)).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def plain_hash(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(MiB):
            hasher.update(chunk)
    return hasher.hexdigest()


def free_port() -> int:
    from tests.live import free_port as port

    return port()


def wait_up(url: str, process: subprocess.Popen) -> None:
    import requests

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server exited")
        try:
            requests.get(url, timeout=10)
            return
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.1)
    process.terminate()
    process.wait(10)
    raise RuntimeError(f"{url} did not answer within 30 s")


def curl_put(url: str, path: Path) -> None:
    # No "Expect: 100-continue": the baseline sends the body at once, as regctl does.
    subprocess.run(["curl", "-sSf", "-o", "/dev/null", "-H", "Expect:", "-H", "Content-Type: application/octet-stream",
                    "-T", str(path), url], check=True)


def sink_figures(work: Path, path: Path, runs: int, gunicorn_args: list) -> dict:
    bin_dir = Path(sys.executable).parent
    sink_dir = work / "sink"
    sink_dir.mkdir()
    port = free_port()
    env = {**os.environ, "SINK_DIR": str(sink_dir), "SINK_CHUNK": str(SINK_CHUNK)}
    process = subprocess.Popen([bin_dir / "gunicorn", "--bind", f"127.0.0.1:{port}", *gunicorn_args,
                                "--pythonpath", str(ROOT / "bench"), "push_profile:sink"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_up(f"http://127.0.0.1:{port}/discard", process)
        figures = {}
        for mode in ("discard", "guarded", "write", "hash"):
            def once(mode=mode):
                curl_put(f"http://127.0.0.1:{port}/{mode}", path)
                for leftover in sink_dir.iterdir():
                    leftover.unlink()
            figures[mode] = round(best_of(runs, once), 3)
        return figures
    finally:
        process.terminate()
        process.wait(10)


LOG_LINE = re.compile(r"^(GET|POST|PATCH|PUT|HEAD|DELETE) (\S+) (\d{3}) (\d+)$")


def request_times(log: Path) -> dict:
    """Seconds the registry spent per kind of request, from the gunicorn access log."""
    spent: dict = {}
    for line in log.read_text(errors="replace").splitlines():
        match = LOG_LINE.match(line.strip())
        if not match or "openapi" in match[2]:
            continue
        path = re.sub(r"/uploads/[0-9a-zA-Z]+", "/uploads/<id>", match[2])
        path = re.sub(r"sha256:[0-9a-f]{64}", "<digest>", path)
        key = f"{match[1]} {path}"
        spent[key] = round(spent.get(key, 0) + int(match[4]) / 1e6, 3)
    return spent


def push_figures(work: Path, project: Path, runs: int, server: str, gunicorn_args: list, profile: bool) -> dict:
    """Best of ``runs`` pushes of the project, each to a fresh registry; for gunicorn, where the best one spent
    its time."""
    from tests.live import BIN, LiveRegistry

    best = None
    for attempt in range(runs):
        server_dir = work / f"{server}-{attempt}"
        server_dir.mkdir()
        args = (f"sqlite:///{server_dir / 'r.db'}", server_dir / "blobs", server_dir / "log")
        registry = gunicorn_registry(*args, gunicorn_args=gunicorn_args) if server == "gunicorn" \
            else LiveRegistry(*args)
        subprocess.run([BIN / "registry", "db", "upgrade"], env=registry.env, check=True, capture_output=True)
        registry.start()
        spy = None
        try:
            env = {**os.environ, "REGCTL_URL": registry.url, "REGCTL_TOKEN": registry.create_user("bench"),
                   "REGCTL_CACHE_DIR": str(server_dir / "cache"), "HOME": str(server_dir)}
            if profile and attempt == runs - 1 and shutil.which("py-spy", path=str(BIN)):
                spy = start_profile(registry, work / "push_profile.svg")
            start = time.perf_counter()
            subprocess.run([BIN / "regctl", "push", project, "--json"], env=env, check=True, capture_output=True)
            elapsed = time.perf_counter() - start
        finally:
            if spy:
                spy.send_signal(2)
                spy.wait(30)
            registry.stop()
        figures = {"push_s": round(elapsed, 3)}
        if server == "gunicorn":
            figures["registry_requests_s"] = request_times(server_dir / "log")
        if best is None or figures["push_s"] < best["push_s"]:
            best = figures
        shutil.rmtree(server_dir / "blobs", ignore_errors=True)
    return best


def curl_patch_figures(work: Path, path: Path, digest: str, runs: int, gunicorn_args: list) -> dict:
    """The registry's upload path alone: the file sent by curl in one PATCH (digest declared up front), to a fresh
    registry under gunicorn each time; best of ``runs``, with the PATCH's own duration from the access log."""
    import requests

    from tests.live import BIN

    best = None
    for attempt in range(runs):
        server_dir = work / f"curl-patch-{attempt}"
        server_dir.mkdir()
        registry = gunicorn_registry(f"sqlite:///{server_dir / 'r.db'}", server_dir / "blobs", server_dir / "log",
                                     gunicorn_args=gunicorn_args)
        subprocess.run([BIN / "registry", "db", "upgrade"], env=registry.env, check=True, capture_output=True)
        registry.start()
        try:
            auth = f"Authorization: Bearer {registry.create_user('bench')}"
            body = {"digest": digest, "size": path.stat().st_size}
            upload = requests.post(f"{registry.url}/api/v1/uploads", json=body, headers=dict([auth.split(": ")]),
                                   timeout=30).json()
            start = time.perf_counter()
            subprocess.run(["curl", "-sSf", "-o", "/dev/null", "-X", "PATCH", "-H", "Expect:", "-H", auth,
                            "-H", "Upload-Offset: 0", "-H", "Content-Type: application/octet-stream", "-T", str(path),
                            f"{registry.url}/api/v1/uploads/{upload['id']}"], check=True)
            elapsed = time.perf_counter() - start
        finally:
            registry.stop()
        figures = {"curl_patch_s": round(elapsed, 3), "registry_requests_s": request_times(server_dir / "log")}
        if best is None or elapsed < best["curl_patch_s"]:
            best = figures
        shutil.rmtree(server_dir, ignore_errors=True)
    return best


def start_profile(registry, svg: Path):
    """py-spy on every gunicorn worker (the push lands on one of them) until interrupted."""
    from tests.live import BIN

    time.sleep(0.5)
    workers = subprocess.run(["pgrep", "-P", str(registry.process.pid)], capture_output=True, text=True).stdout.split()
    spies = [subprocess.Popen([BIN / "py-spy", "record", "--nonblocking", "--rate", "200", "--format", "raw",
                               "-o", str(svg.with_suffix(f".{pid}.txt")), "--pid", pid],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for pid in workers]

    class Spies:
        def send_signal(self, sig):
            for spy in spies:
                spy.send_signal(sig)

        def wait(self, timeout):
            for spy in spies:
                spy.wait(timeout)

    time.sleep(1)
    return Spies()


def top_frames(folder: Path, limit: int = 12) -> list:
    """The functions the profiled worker spent most samples in (self time), from py-spy's raw stacks."""
    counts: dict = {}
    total = 0
    for raw in folder.glob("push_profile.*.txt"):
        lines = raw.read_text().splitlines()
        if sum(int(line.rsplit(" ", 1)[1]) for line in lines if line.strip()) < 100:
            continue  # an idle worker
        for line in lines:
            stack, _, count = line.rpartition(" ")
            frame = stack.split(";")[-1]
            counts[frame] = counts.get(frame, 0) + int(count)
            total += int(count)
    ranked = sorted(counts.items(), key=lambda item: -item[1])[:limit]
    return [f"{100 * n / total:5.1f}% {frame}" for frame, n in ranked] if total else []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--gunicorn-args", help="gunicorn settings instead of the production ones (one string)")
    parser.add_argument("--profile", action="store_true", help="sample the gunicorn worker with py-spy")
    parser.add_argument("--skip-serve", action="store_true", help="do not time 'registry serve'")
    args = parser.parse_args()
    gunicorn_args = args.gunicorn_args.split() if args.gunicorn_args else GUNICORN_ARGS
    work = Path(tempfile.mkdtemp(prefix="regctl-bench-push-"))
    try:
        results = measure(work, args, gunicorn_args)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report("push_profile", results)


def measure(work: Path, args, gunicorn_args: list) -> dict:
    from regctl.hashing import sha256_file
    from tests.factories import make_project

    size = args.size_mib * MiB
    project = make_project(work / "project", weights_size=size, name="bench/big")
    weights = project / "weights" / "model.safetensors"
    plain_hash(weights)  # warm the page cache
    runs = args.runs
    cpu = subprocess.run("grep -o -m1 sha_ni /proc/cpuinfo", shell=True, capture_output=True, text=True).stdout

    t_cp = best_of(runs, lambda: (shutil.copyfile(weights, work / "copy.bin"), os.remove(work / "copy.bin")))
    t_hash = best_of(runs, lambda: plain_hash(weights))
    t_cp_hash = best_of(runs, lambda: (shutil.copyfile(weights, work / "copy.bin"), plain_hash(weights),
                                       os.remove(work / "copy.bin")))

    def cp_fsync():
        shutil.copyfile(weights, work / "copy.bin")
        with open(work / "copy.bin", "rb") as handle:
            os.fsync(handle.fileno())
        os.remove(work / "copy.bin")

    t_fsync = best_of(runs, cp_fsync)
    t_client_hash = best_of(runs, lambda: sha256_file(weights))
    sinks = sink_figures(work, weights, runs, gunicorn_args)
    curl_patch = curl_patch_figures(work, weights, "sha256:" + plain_hash(weights), runs, gunicorn_args)
    push_gunicorn = push_figures(work, project, runs, "gunicorn", gunicorn_args, args.profile)
    results = {
        "size_bytes": size, "runs": runs, "cpu_sha_ni": cpu.strip() == "sha_ni", "cpus": os.cpu_count(),
        "gunicorn_args": " ".join(gunicorn_args), "access_log_format": ACCESS_LOG_FORMAT, "sink_chunk": SINK_CHUNK,
        "baseline": {"cp_s": round(t_cp, 3), "sha256_s": round(t_hash, 3), "cp_plus_sha256_s": round(t_cp_hash, 3),
                     "cp_plus_fsync_s": round(t_fsync, 3), "regctl_hash_pass_s": round(t_client_hash, 3)},
        "bare_wsgi_under_gunicorn_curl_put_s": sinks,
        "curl_patch_to_registry_gunicorn": curl_patch,
        "regctl_push_gunicorn": push_gunicorn,
        "ratios_to_cp_plus_sha256": {
            "curl_put_discard": round(sinks["discard"] / t_cp_hash, 3),
            "curl_put_write_and_hash": round(sinks["hash"] / t_cp_hash, 3),
            "curl_patch_to_registry_gunicorn": round(curl_patch["curl_patch_s"] / t_cp_hash, 3),
            "regctl_push_gunicorn": round(push_gunicorn["push_s"] / t_cp_hash, 3)},
    }
    if not args.skip_serve:
        push_serve = push_figures(work, project, runs, "serve", gunicorn_args, False)
        results["regctl_push_serve"] = push_serve
        results["ratios_to_cp_plus_sha256"]["regctl_push_serve"] = round(push_serve["push_s"] / t_cp_hash, 3)
    if args.profile:
        results["gunicorn_worker_profile_self_time"] = top_frames(work)
    return results


if __name__ == "__main__":
    main()
