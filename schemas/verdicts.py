"""Judging claims against measured values. Shared: regctl and the reference workers judge with it, and the
registry re-judges every submitted report with it before accepting it.

Rules, named in every verdict:
- ``abs``: |measured - claimed| <= abs
- ``rel``: |measured - claimed| <= rel * |claimed|
- ``min`` / ``max``: measured >= min / measured <= max (one-sided bounds)
- a claim reported as mean ± std over n runs, re-run with n seeds: the measured mean is compared with the
  claimed mean. Two-sided tolerances are widened to two standard errors of the difference of two means,
  2·std·√(2/n), when that is larger; one-sided bounds apply to the mean.
"""

import math
import statistics

from reproreg_schemas.vocabulary import Outcome, Verdict


def _bound_text(value: float) -> str:
    return f"{value:.6g}"


def judge_claim(claim: dict, measurements: list[float]) -> dict:
    """The verdict on one claim given the values measured in each run (one per seed)."""
    kind, bound = next(iter(claim["tolerance"].items()))
    result = {"metric": claim["metric"], "dataset": claim["dataset"], "claimed": claim["value"],
              "tolerance": claim["tolerance"], "runs": len(measurements), "measured": None, "measured_std": None}
    if not measurements:
        return {**result, "verdict": Verdict.MISSING.value, "rule": "the metric is absent from the evaluation's output"}
    measured = statistics.fmean(measurements)
    result["measured"] = measured
    over_runs = len(measurements) > 1
    if over_runs:
        result["measured_std"] = statistics.stdev(measurements)
    subject = f"mean of {len(measurements)} runs" if over_runs else "measured"
    if kind in ("min", "max"):
        held = measured >= bound if kind == "min" else measured <= bound
        rule = f"{subject} {'>=' if kind == 'min' else '<='} {_bound_text(bound)}"
        return {**result, "verdict": (Verdict.HELD if held else Verdict.FAILED).value, "rule": rule}
    allowed = bound if kind == "abs" else bound * abs(claim["value"])
    rule = f"|{subject} - claimed| <= {_bound_text(allowed)} ({kind} {_bound_text(bound)})"
    if over_runs and claim.get("std") is not None:
        two_se = 2 * claim["std"] * math.sqrt(2 / len(measurements))
        if two_se > allowed:
            allowed = two_se
            rule = (f"|{subject} - claimed| <= {_bound_text(allowed)} (2·std·√(2/n), std {_bound_text(claim['std'])}, "
                    f"n {len(measurements)})")
    held = abs(measured - claim["value"]) <= allowed * (1 + 1e-12)
    return {**result, "verdict": (Verdict.HELD if held else Verdict.FAILED).value, "rule": rule}


def runs_for(claims: list[dict], command: str) -> int:
    """How many seeded runs a verification makes: the largest claimed n_runs if the command takes {seed}."""
    if "{seed}" not in command:
        return 1
    return max([claim.get("n_runs") or 1 for claim in claims] or [1])


def judge(claims: list[dict], runs: list[dict]) -> list[dict]:
    """Verdicts for every claim; ``runs`` are the metrics objects of the completed runs, in seed order.

    A claim with n_runs uses its first n runs; other claims use every run."""
    verdicts = []
    for claim in claims:
        wanted = claim.get("n_runs") or len(runs)
        values = [run[claim["metric"]] for run in runs[:wanted] if _is_number(run.get(claim["metric"]))]
        if len(values) < min(wanted, len(runs)):
            values = []
        verdicts.append(judge_claim(claim, values))
    return verdicts


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def outcome(verdicts: list[dict]) -> str:
    """The verification's :class:`Outcome`, as its string."""
    if any(v["verdict"] == Verdict.MISSING for v in verdicts):
        return Outcome.EVALUATION_FAILED.value
    failed = any(v["verdict"] == Verdict.FAILED for v in verdicts)
    return (Outcome.CLAIM_FAILED if failed else Outcome.REPRODUCED).value
