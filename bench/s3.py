"""Object storage benchmark: push and pull of one large file through a registry that keeps its blobs in S3
(moto's server standing in for it), against boto3's own upload_file/download_file of the same file to the same
server; and what the registry's web process itself moved and spent (see README.md)."""

import argparse
import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from common import report  # noqa: E402  (puts the project on sys.path)

from reproreg_migrations import upgrade  # noqa: E402
from tests.factories import make_project  # noqa: E402
from tests.live import BIN, LiveRegistry, SocketMeter  # noqa: E402
from tests.s3 import CREDENTIALS, MotoServer  # noqa: E402

MiB = 1 << 20


def process_figures(pid: int, meter: SocketMeter | None = None) -> dict:
    """Bytes the process read and wrote through files (rchar/wchar: the local store's disk traffic; sockets are
    not counted there), what it moved through sockets (``meter``), its CPU seconds and its peak resident memory."""
    io = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    hwm = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("VmHWM:"))
    return {"file_read_bytes": int(io["rchar"]), "file_written_bytes": int(io["wchar"]),
            "cpu_s": (int(stat[11]) + int(stat[12])) / ticks, "peak_rss_mb": int(hwm.split()[1]) / 1024,
            **(meter.totals() if meter else {})}


def delta(before: dict, after: dict) -> dict:
    return {key: round(after[key] - before[key], 3) for key in after if key != "peak_rss_mb"}


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def regctl(env: dict, *args) -> None:
    subprocess.run([BIN / "regctl", *map(str, args)], env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def registry_run(work: Path, name: str, project: Path, env: dict, store_port: int) -> dict:
    """Push then pull through a registry process with ``env``; timings and what the registry process did."""
    database = f"sqlite:///{work / name}.db"
    upgrade(database)
    live = LiveRegistry(database, work / f"{name}-blobs", work / f"{name}.log", **env).start()
    try:
        token = live.create_user("bench")
        home = work / f"home-{name}"
        user_env = {**os.environ, "REGCTL_URL": live.url, "REGCTL_TOKEN": token, "REGCTL_CACHE_DIR": str(home / "c"),
                    "HOME": str(home)}
        meter = SocketMeter(live.process.pid, live.port, store_port).start()
        start = process_figures(live.process.pid, meter)
        push_s = timed(lambda: regctl(user_env, "push", project))
        after_push = process_figures(live.process.pid, meter)
        pull_env = {**user_env, "REGCTL_CACHE_DIR": str(home / "pull-cache")}  # nothing cached by the push
        pull_s = timed(lambda: regctl(pull_env, "pull", "bench/big@1.0.0", "-o", work / f"out-{name}"))
        after_pull = process_figures(live.process.pid, meter)
        meter.stop()
        shutil.rmtree(work / f"out-{name}", ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)
        return {"push_s": round(push_s, 2), "pull_s": round(pull_s, 2),
                "registry_during_push": delta(start, after_push), "registry_during_pull": delta(after_push, after_pull),
                "registry_peak_rss_mb": round(after_pull["peak_rss_mb"], 1)}
    finally:
        live.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--part-mib", type=int, default=64)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="regctl-bench-s3-"))
    moto = MotoServer(work / "moto.log").start()
    os.environ.update(CREDENTIALS)
    try:
        results = measure(work, moto, args.size_mib * MiB, args.part_mib * MiB)
    finally:
        moto.stop()
        shutil.rmtree(work, ignore_errors=True)
    report("s3", results)


def measure(work: Path, moto: MotoServer, size: int, part: int) -> dict:
    project = make_project(work / "project", weights_size=size, name="bench/big")
    weights = project / "weights" / "model.safetensors"
    hashlib.sha256(weights.read_bytes()[:MiB])

    from boto3.s3.transfer import TransferConfig

    client = moto.client()
    bucket = moto.new_bucket()
    config = TransferConfig(multipart_chunksize=part)
    upload_s = timed(lambda: client.upload_file(str(weights), bucket, "baseline", Config=config))
    download_s = timed(lambda: client.download_file(bucket, "baseline", str(work / "downloaded"), Config=config))
    (work / "downloaded").unlink()

    s3_env = moto.registry_env(moto.new_bucket())
    s3_env.update({"REGISTRY_S3_MULTIPART_THRESHOLD_BYTES": str(part), "REGISTRY_S3_PART_BYTES": str(part)})
    through_s3 = registry_run(work, "s3", project, s3_env, moto.port)
    through_local = registry_run(work, "local", project, {}, moto.port)
    return {
        "size_bytes": size, "part_bytes": part,
        "boto3_upload_file_s": round(upload_s, 2), "boto3_download_file_s": round(download_s, 2),
        "registry_s3": through_s3, "registry_local": through_local,
        "push_vs_upload_file": round(through_s3["push_s"] / upload_s, 2),
        "pull_vs_download_file": round(through_s3["pull_s"] / download_s, 2),
    }


if __name__ == "__main__":
    main()
