"""Many small files: `regctl push` of 10,000 files of 1 KiB (by default) to a live `registry serve` on SQLite,
then `regctl pull` of the same version into an empty cache. Prints the times (see README.md)."""

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from common import report  # noqa: E402  (puts the project on sys.path)

from tests.factories import author_file, make_project, write_author_file  # noqa: E402
from tests.live import BIN, LiveRegistry  # noqa: E402


def make_many_files_project(folder: Path, count: int, size: int, name: str = "bench/many") -> Path:
    """An author folder whose ``data/`` holds ``count`` files of ``size`` bytes, each with different content."""
    make_project(folder, name=name)
    data = folder / "data"
    for index in range(count):
        shard = data / f"{index // 1000:03d}"
        if index % 1000 == 0:
            shard.mkdir(parents=True, exist_ok=True)
        (shard / f"f{index:06d}.bin").write_bytes(f"{index:08d}".encode() * (size // 8) + b"x" * (size % 8))
    document = author_file(name=name)
    document["files"] = [*document["files"], "data"]
    write_author_file(folder, document)
    return folder


def run(command: list, env: dict) -> float:
    start = time.perf_counter()
    completed = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if completed.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, command[:2]))} exited {completed.returncode}: {completed.stderr}")
    return elapsed


def measure(work: Path, count: int, size: int) -> dict:
    project = make_many_files_project(work / "project", count, size)
    registry = LiveRegistry(f"sqlite:///{work / 'registry.db'}", work / "blobs", work / "server.log")
    subprocess.run([BIN / "registry", "db", "upgrade"], env=registry.env, check=True, stdout=subprocess.DEVNULL)
    registry.start()
    try:
        env = {**os.environ, "REGCTL_URL": registry.url, "REGCTL_TOKEN": registry.create_user("bench"),
               "REGCTL_CACHE_DIR": str(work / "cache")}
        t_push = run([BIN / "regctl", "push", project, "--json"], env)
        t_repush = run([BIN / "regctl", "push", project, "--json"], env)
        t_pull = run([BIN / "regctl", "pull", "bench/many", "-o", work / "pulled", "--json"], env)
    finally:
        registry.stop()
    return {"files": count, "file_bytes": size, "push_s": round(t_push, 2), "aim_push_s": "<= 30 (was 203)",
            "repush_unchanged_s": round(t_repush, 2), "pull_empty_cache_s": round(t_pull, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=1024, help="bytes per file")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="regctl-many-"))
    try:
        results = measure(work, args.files, args.size)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report("many_files", results)


if __name__ == "__main__":
    main()
