"""regctl verify: pull and hash-check, show what will run, run the evaluation in the sandbox (once per seed),
judge every claim, and build the report."""

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from regctl import environment
from regctl.api import ApiClient, ReviewLinkClient
from regctl.cache import BlobCache
from regctl.commands import Reference, download, review_version, verified_version
from regctl.errors import UsageError
from regctl.sandbox import Runner, render_command
from reproreg_schemas.verdicts import judge, outcome, runs_for
from reproreg_schemas.verification import REPORT_VERSION
from reproreg_schemas.vocabulary import Accelerator, Outcome

EXIT_FOR_OUTCOME = {Outcome.REPRODUCED: 0, Outcome.CLAIM_FAILED: 1, Outcome.EVALUATION_FAILED: 3}
MAX_METRICS_BYTES = 1 << 20


@dataclass
class VerifyOptions:
    sandboxed: bool = True
    workdir: Path | None = None
    keep: bool = False
    job: str | None = None
    #: the environment the evaluation starts from: its PATH and VIRTUAL_ENV choose the Python that runs it, and
    #: only its allowlisted part reaches the evaluation (see regctl.sandbox). None: this process's environment.
    env: Mapping[str, str] | None = None

    def evaluation_env(self) -> dict[str, str]:
        return dict(os.environ if self.env is None else self.env)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def verify(api: ApiClient, cache: BlobCache, reference: Reference, options: VerifyOptions, notice) -> dict:
    """Return the report. Integrity failures raise before any author code runs."""
    env = options.evaluation_env()
    runner = Runner(sandboxed=options.sandboxed, env=env)
    started = now()
    base = Path(options.workdir or tempfile.mkdtemp(prefix="regctl-verify-")).resolve()
    files = base / "files"
    # through a review link: the anonymised version, each file pinned by its size and sha256 (review_version)
    document = review_version(api) if isinstance(api, ReviewLinkClient) else verified_version(api, reference)
    _check_verifiable(document)
    pulled = download(api, cache, document, files, show_progress=False)
    manifest = document["manifest"]
    spec = manifest.get("evaluation")
    report = {
        "report_version": REPORT_VERSION, "name": pulled["name"], "version": pulled["version"],
        "digest": pulled["digest"], "verifier": None, "started_at": started, "finished_at": started,
        "command": spec["command"] if spec else "", "sandbox": runner.kind,
        "environment": environment.capture(spec["accelerator"] if spec else Accelerator.CPU, env),
        "runs": [], "claims": [], "outcome": "evaluation_failed", "failure": None, "job": options.job,
    }
    if spec["accelerator"] == Accelerator.GPU and report["environment"]["accelerator_used"] != Accelerator.GPU:
        return _finish(report, "the evaluation requires a GPU and this machine has none; it was not run "
                               "(a GPU claim is never judged on a CPU)")
    seeds = runs_for(manifest["claims"], spec["command"])
    notice(_what_will_run(document, spec, files, base, seeds, options.sandboxed))
    for seed in range(seeds):
        run = _run_once(runner, spec, files, base / f"run-{seed}", seed, env)
        report["runs"].append(run)
        if run["error"]:
            return _finish(report, f"run with seed {seed}: {run['error']}")
    report["claims"] = judge(manifest["claims"], [run["metrics"] for run in report["runs"]])
    report["outcome"] = outcome(report["claims"])
    missing = [v["metric"] for v in report["claims"] if v["verdict"] == "missing"]
    return _finish(report, f"claimed metric(s) absent from the output: {', '.join(missing)}" if missing else None)


def _check_verifiable(document: dict) -> None:
    """A version without claims, or without an evaluation to check them (a draft, a base model, a data set),
    has nothing to verify: say so before anything is downloaded."""
    manifest = document["manifest"]
    missing = [what for what, present in (("claims", manifest.get("claims")),
                                          ("evaluation", manifest.get("evaluation"))) if not present]
    if missing:
        raise UsageError(f"{document['name']}@{document['version']} has no claims to verify (it has no "
                         f"{' and no '.join(missing)}); nothing was downloaded or run", code="NOTHING_TO_VERIFY",
                         details={"missing": missing})


def _what_will_run(document: dict, spec: dict, files: Path, base: Path, seeds: int, sandboxed: bool) -> str:
    """Whose code runs, where, and the exact command, its placeholders filled in as they will be."""
    manifest = document["manifest"]
    authors = ", ".join((manifest.get("paper") or {}).get("authors") or []) or "not named"
    publisher = document.get("published_by")  # absent through a review link: the authors stay anonymous
    whose = (f"Author code from {publisher} (publisher of {document['name']}@{document['version']}; "
             f"paper authors: {authors})" if publisher else
             f"Author code of {document['name']}@{document['version']} (anonymous review: authors not named)")
    text = (f"{whose} "
            f"will run {'in the bubblewrap sandbox (no network)' if sandboxed else 'WITHOUT a sandbox'}:\n"
            f"  {render_command(spec['command'], files, _metrics_path(base, 0), 0)}")
    if seeds > 1:
        text += (f"\nand {seeds - 1} more time(s), with seed 1 to {seeds - 1} in place of {{seed}} (each run writes "
                 f"its metrics into its own folder {base}/run-N)")
    return text


def _metrics_path(base: Path, seed: int) -> Path:
    return base / f"run-{seed}" / "metrics.json"


def _finish(report: dict, failure: str | None) -> dict:
    report["failure"] = failure
    if failure and report["outcome"] != Outcome.CLAIM_FAILED:
        report["outcome"] = "evaluation_failed"
    report["finished_at"] = now()
    return report


def _run_once(runner: Runner, spec: dict, files: Path, workdir: Path, seed: int, env: dict[str, str]) -> dict:
    workdir.mkdir(parents=True)
    metrics_path = workdir / "metrics.json"  # as _metrics_path says
    result = runner.run(render_command(spec["command"], files, metrics_path, seed), workdir, files,
                        spec["timeout_s"], spec.get("memory_mb"), env,
                        max_processes=spec.get("max_processes"), accelerator=spec["accelerator"])
    run = {"seed": seed, "exit_code": result.exit_code, "timed_out": result.timed_out,
           "wall_time_s": result.wall_time_s, "stdout_tail": result.stdout_tail, "stderr_tail": result.stderr_tail,
           "metrics": None, "error": None, "limits": result.limits}
    if result.gpu_energy_j is not None:  # absent, never made up, without a reading (see regctl.gpu_energy)
        run["gpu_energy_j"] = result.gpu_energy_j
    if result.killed:
        run["error"] = result.killed
    elif result.timed_out:
        run["error"] = f"timed out after {spec['timeout_s']} s"
    elif result.exit_code != 0:
        run["error"] = f"the command exited with status {result.exit_code}"
    else:
        run["metrics"], run["error"] = _read_metrics(metrics_path)
    return run


def _read_metrics(path: Path) -> tuple[dict | None, str | None]:
    try:
        if path.stat().st_size > MAX_METRICS_BYTES:
            return None, f"the metrics file is larger than {MAX_METRICS_BYTES} bytes"
        data = json.loads(path.read_text(encoding="utf-8"), parse_constant=_refuse_constant)
    except FileNotFoundError:
        return None, "the command did not write the metrics file {metrics}"
    except RecursionError:
        return None, "the metrics file is nested too deeply"
    except (OSError, UnicodeDecodeError, ValueError) as err:
        return None, f"the metrics file is not valid JSON ({err})"
    if not isinstance(data, dict):
        return None, "the metrics file must hold a JSON object of metric -> value"
    return data, None


def _refuse_constant(name: str):
    """NaN and Infinity are not JSON: a report carrying them could be neither signed nor judged."""
    raise ValueError(f"{name} is not a number JSON allows")
