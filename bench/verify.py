"""Verify overhead: `regctl verify` on an example against its evaluation command run by hand on files
already downloaded. The overhead (hashing, sandbox start with its cgroup or watchdog, environment capture,
reporting) should stay under 1 second. Also timed alone: starting and ending an empty sandbox (`true`), with
the limit mechanism REGCTL_SANDBOX_LIMITS chooses (auto by default)."""

import argparse
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from common import ROOT, best_of, report  # noqa: E402  (puts the project on sys.path)

from regctl.hashing import sha256_file  # noqa: E402
from regctl.sandbox import Runner  # noqa: E402
from tests.live import BIN, LiveRegistry  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--example", default="digits-logreg")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    example = ROOT / "examples" / args.example
    work = Path(tempfile.mkdtemp(prefix="verify-bench-"))
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
    registry = LiveRegistry(f"sqlite:///{work / 'r.db'}", work / "blobs", work / "server.log")
    subprocess.run([BIN / "registry", "db", "upgrade"], env=registry.env, check=True, capture_output=True)
    registry.start()
    try:
        env.update({"REGCTL_URL": registry.url, "REGCTL_TOKEN": registry.create_user("demo"),
                    "REGCTL_CACHE_DIR": str(work / "cache"), "XDG_CONFIG_HOME": str(work / "config")})
        subprocess.run([BIN / "regctl", "push", example], env=env, check=True, capture_output=True)
        files = work / "files"
        subprocess.run([BIN / "regctl", "pull", "demo/" + args.example, "-o", files], env=env, check=True,
                       capture_output=True)
        spec = json.loads(subprocess.run([BIN / "regctl", "show", "demo/" + args.example, "--json"], env=env,
                                         check=True, capture_output=True).stdout)["manifest"]["evaluation"]

        def by_hand():
            out = work / "hand"
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()
            command = spec["command"].format(files=files, metrics=out / "metrics.json", seed=0)
            subprocess.run(["sh", "-c", command], env=env, check=True, capture_output=True, cwd=out)

        def verify():
            result = subprocess.run([BIN / "regctl", "verify", "demo/" + args.example, "--json", "--yes"], env=env,
                                    capture_output=True)
            assert result.returncode == 0, result.stderr

        def hash_files():
            for path in files.rglob("*"):
                if path.is_file():
                    sha256_file(path)

        runner, empty = Runner(sandboxed=True), work / "empty-run"
        empty.mkdir()

        def empty_sandbox():
            result = runner.run("true", empty, files, timeout_s=60, memory_mb=None, env=env)
            assert result.exit_code == 0, result.stderr_tail
            return result

        t_hand = best_of(args.runs, by_hand)
        t_verify = best_of(args.runs, verify)
        t_hash = best_of(args.runs, hash_files)
        t_sandbox = best_of(args.runs, empty_sandbox)
        mechanisms = {name: limit["enforced_by"] for name, limit in empty_sandbox().limits.items()}
    finally:
        registry.stop()
        shutil.rmtree(work, ignore_errors=True)
    results = {"example": args.example, "runs": args.runs, "evaluation_by_hand_s": round(t_hand, 3),
               "regctl_verify_s": round(t_verify, 3), "hashing_s": round(t_hash, 3),
               "overhead_s": round(t_verify - t_hand, 3), "empty_sandbox_s": round(t_sandbox, 3),
               "limits_enforced_by": mechanisms, "aim": "overhead < 1 s", "within_aim": t_verify - t_hand < 1}
    report("verify", results)


if __name__ == "__main__":
    main()
