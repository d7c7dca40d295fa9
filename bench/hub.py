"""Hub benchmark: a version that references a large file on the Hugging Face Hub (a stand-in Hub process serving it).

- push of the Hub-referenced file against ``regctl init --from-hf`` alone: push should send no bytes of it, so it
  should cost about what init costs (both ask the Hub for metadata only);
- ``regctl pull`` of it (huggingface_hub download into a fresh Hub cache, then a checked copy into the output
  folder) against ``huggingface_hub.hf_hub_download`` of the same file from the same stand-in in a subprocess with
  a fresh cache: aim at most 1.1x.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import report  # noqa: E402  (puts the project on sys.path)

from tests.factories import write_file  # noqa: E402
from tests.hub_standin import HubStandin  # noqa: E402
from tests.live import BIN, LiveRegistry  # noqa: E402

MiB = 1 << 20
REPO = "bench/big-model"


def timed(command: list, env: dict) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    return time.perf_counter() - start, result.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="regctl-bench-hub-"))
    try:
        results = measure(work, args.size_mib * MiB, args.runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report("hub", results)


def measure(work: Path, size: int, runs: int) -> dict:
    repo = work / "repo"
    write_file(repo / "model.safetensors", size, 7)
    (repo / "README.md").write_text("---\nlicense: mit\n---\n# big\n")
    standin = HubStandin(work / "hub.log", {REPO: repo}).start()
    server = work / "server"
    server.mkdir()
    registry = LiveRegistry(f"sqlite:///{server / 'r.db'}", server / "blobs", server / "log")
    subprocess.run([BIN / "registry", "db", "upgrade"], env=registry.env, check=True, stdout=subprocess.DEVNULL)
    registry.start()
    try:
        base = {**{k: v for k, v in os.environ.items() if not k.startswith(("REGCTL_", "HF_"))},
                "REGCTL_URL": registry.url, "REGCTL_TOKEN": registry.create_user("bench"),
                "REGCTL_CACHE_DIR": str(work / "regctl-cache")}
        folder = work / "project"
        init_times, push_times, pushed_bytes = [], [], []
        for run in range(runs):
            env = {**base, **standin.environment(work / f"hf-author-{run}")}
            elapsed, _ = timed([BIN / "regctl", "init", folder, "--from-hf", REPO, "--name", "bench/big",
                                "--force", "--json"], env)
            init_times.append(elapsed)
            text = (folder / "regctl.yaml").read_text().replace("version: 1.0.0", f"version: 1.0.{run}")
            (folder / "regctl.yaml").write_text(text)
            served_before = standin.bytes_served("/lfs/")
            elapsed, out = timed([BIN / "regctl", "push", folder, "--json"], env)
            push_times.append(elapsed)
            pushed_bytes.append(json.loads(out)["bytes_uploaded"] + standin.bytes_served("/lfs/") - served_before)

        pull_times, hf_times = [], []
        for run in range(runs):
            env = {**base, **standin.environment(work / f"hf-pull-{run}")}
            elapsed, _ = timed([BIN / "regctl", "pull", "bench/big@1.0.0", "-o", work / f"pulled-{run}", "--json"],
                               env)
            pull_times.append(elapsed)
            shutil.rmtree(work / f"pulled-{run}")
            shutil.rmtree(work / f"hf-pull-{run}")
            env = {**base, **standin.environment(work / f"hf-plain-{run}")}
            elapsed, _ = timed([sys.executable, "-c", "import huggingface_hub as h; "
                                f"h.hf_hub_download({REPO!r}, 'model.safetensors')"], env)
            hf_times.append(elapsed)
            shutil.rmtree(work / f"hf-plain-{run}")
    finally:
        registry.stop()
        standin.stop()
    return {
        "file_bytes": size, "runs": runs,
        "init_s": round(min(init_times), 3), "push_s": round(min(push_times), 3),
        "push_over_init": round(min(push_times) / min(init_times), 3),
        "bytes_sent_by_push_and_fetched_from_the_hub_by_push": max(pushed_bytes),
        "pull_s": round(min(pull_times), 3), "hf_hub_download_s": round(min(hf_times), 3),
        "pull_over_hf_hub_download": round(min(pull_times) / min(hf_times), 3),
        "aim_pull_over_hf_hub_download": 1.1,
    }


if __name__ == "__main__":
    main()
