"""Transfer benchmark: hashing, push and pull of one large file against plain baselines (see README.md)."""

import argparse
import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from common import GUNICORN_ARGS, best_of, gunicorn_registry, report  # noqa: E402  (puts the project on sys.path)

from regctl.hashing import sha256_file  # noqa: E402
from tests.factories import make_project  # noqa: E402
from tests.live import BIN, LiveRegistry  # noqa: E402

MiB = 1 << 20


def plain_hash(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(MiB):
            hasher.update(chunk)
    return hasher.hexdigest()


def run(command: list, env: dict) -> None:
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=int, default=2048)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--server", choices=("gunicorn", "serve"), default="gunicorn",
                        help="gunicorn with the production settings (README, Dockerfile), or 'registry serve'")
    parser.add_argument("--gunicorn-args", help="other gunicorn settings than the production ones (one string)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="regctl-bench-"))
    gunicorn_args = args.gunicorn_args.split() if args.gunicorn_args else GUNICORN_ARGS

    def new_registry(server_dir: Path) -> LiveRegistry:
        paths = (f"sqlite:///{server_dir / 'r.db'}", server_dir / "blobs", server_dir / "log")
        return gunicorn_registry(*paths, gunicorn_args=gunicorn_args) if args.server == "gunicorn" \
            else LiveRegistry(*paths)

    try:
        results = measure(work, args.size_mib * MiB, args.runs, new_registry)
        results["server"] = "gunicorn " + " ".join(gunicorn_args) if args.server == "gunicorn" else "registry serve"
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report("transfer", results)


def measure(work: Path, size: int, runs: int, new_registry) -> dict:
    project = make_project(work / "project", weights_size=size, name="bench/big")
    weights = project / "weights" / "model.safetensors"
    plain_hash(weights)  # warm the page cache

    t_plain = best_of(runs, lambda: plain_hash(weights))
    t_regctl_hash = best_of(runs, lambda: sha256_file(weights))

    t_cp_hash = best_of(runs, lambda: (shutil.copyfile(weights, work / "copy.bin"), plain_hash(weights),
                                       os.remove(work / "copy.bin")))

    def push_once() -> float:
        server_dir = Path(tempfile.mkdtemp(dir=work))
        registry = new_registry(server_dir)
        run([BIN / "registry", "db", "upgrade"], registry.env)
        registry.start()
        try:
            env = {**os.environ, "REGCTL_URL": registry.url, "REGCTL_TOKEN": registry.create_user("bench"),
                   "REGCTL_CACHE_DIR": str(server_dir / "cache")}
            start = time.perf_counter()
            run([BIN / "regctl", "push", project, "--json"], env)
            return time.perf_counter() - start
        finally:
            registry.stop()
            shutil.rmtree(server_dir, ignore_errors=True)

    t_push = min(push_once() for _ in range(runs))

    server_dir = work / "server"
    server_dir.mkdir()
    registry = new_registry(server_dir)
    run([BIN / "registry", "db", "upgrade"], registry.env)
    registry.start()
    try:
        env = {**os.environ, "REGCTL_URL": registry.url, "REGCTL_TOKEN": registry.create_user("bench")}
        run([BIN / "regctl", "push", project], {**env, "REGCTL_CACHE_DIR": str(work / "c0")})
        digest = "sha256:" + plain_hash(weights)
        url = f"{registry.url}/api/v1/artifacts/bench/big/blobs/{digest}"

        def curl():
            run(["curl", "-sSf", "-o", str(work / "curl.bin"), url], env)
            os.remove(work / "curl.bin")

        def pull():
            cache, out = work / "pull-cache", work / "pull-out"
            run([BIN / "regctl", "pull", "bench/big", "-o", out, "--json"], {**env, "REGCTL_CACHE_DIR": str(cache)})
            shutil.rmtree(cache)
            shutil.rmtree(out)

        t_curl = best_of(runs, curl)
        t_pull = best_of(runs, pull)
    finally:
        registry.stop()

    gib = size / (1 << 30)
    return {
        "size_bytes": size,
        "runs": runs,
        "a_hashing": {"plain_hashlib_s": round(t_plain, 3), "regctl_s": round(t_regctl_hash, 3),
                      "plain_GiB_per_s": round(gib / t_plain, 3), "regctl_GiB_per_s": round(gib / t_regctl_hash, 3),
                      "throughput_ratio": round(t_plain / t_regctl_hash, 3), "aim": ">= 0.95"},
        "b_push": {"cp_plus_hash_s": round(t_cp_hash, 3), "regctl_push_s": round(t_push, 3),
                   "time_ratio": round(t_push / t_cp_hash, 3), "aim": "<= 1.5"},
        "c_pull": {"curl_s": round(t_curl, 3), "regctl_pull_s": round(t_pull, 3),
                   "time_ratio": round(t_pull / t_curl, 3), "aim": "<= 1.1",
                   # verification cannot be faster than one SHA-256 pass over the file
                   "sha256_floor_s": round(t_plain, 3), "ratio_to_sha256_floor": round(t_pull / t_plain, 3)},
    }


if __name__ == "__main__":
    main()
