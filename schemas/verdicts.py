"""Judging claims against measured values. Shared: regctl and the reference workers judge with it, and the
registry re-judges every submitted report with it before accepting it.

Rules, named in every verdict (numbers written exactly, see ``reproreg_schemas.units.exact_number``):
- ``abs``: |measured − claimed| ≤ abs
- ``rel``: |measured − claimed| ≤ rel · |claimed|
- ``min`` / ``max``: measured ≥ min / measured ≤ max (one-sided bounds)
- a claim reported as mean ± std over n runs, re-run with n seeds: the measured mean is compared with the
  claimed mean. Two-sided tolerances are widened to two standard errors of the difference of two means,
  2·std·√(2/n), when that is larger; one-sided bounds apply to the mean.
"""

import math
import statistics

from reproreg_schemas.units import exact_number
from reproreg_schemas.vocabulary import Outcome, Verdict

#: significant digits of a bound the registry derives (rel · |claimed|, two standard errors): the claim's own
#: numbers are written exactly, a derived one without the noise of floating-point arithmetic
DERIVED_DIGITS = 12


def _bound_text(value: float) -> str:
    return exact_number(value)


def _derived_text(value: float) -> str:
    return exact_number(float(f"{value:.{DERIVED_DIGITS}g}"))


def judge_claim(claim: dict, measurements: list[float]) -> dict:
    """The verdict on one claim given the values measured in each run (one per seed)."""
    kind, bound = next(iter(claim["tolerance"].items()))
    result = {"metric": claim["metric"], "dataset": claim["dataset"], "claimed": claim["value"],
              "tolerance": claim["tolerance"], "runs": len(measurements), "measured": None, "measured_std": None}
    if not measurements:
        return {**result, "verdict": Verdict.MISSING.value, "rule": "the metric is absent from the evaluation's output"}
    measured = float(statistics.mean(measurements))  # exact arithmetic, then rounded once: 0.95 x3 -> 0.95
    result["measured"] = measured
    over_runs = len(measurements) > 1
    if over_runs:
        result["measured_std"] = statistics.stdev(measurements)
    subject = f"mean of {len(measurements)} runs" if over_runs else "measured"
    if kind in ("min", "max"):
        held = measured >= bound if kind == "min" else measured <= bound
        rule = f"{subject} {'≥' if kind == 'min' else '≤'} {_bound_text(bound)}"
        return {**result, "verdict": (Verdict.HELD if held else Verdict.FAILED).value, "rule": rule}
    allowed = bound if kind == "abs" else bound * abs(claim["value"])
    limit = _bound_text(allowed) if kind == "abs" else _derived_text(allowed)
    rule = f"|{subject} − claimed| ≤ {limit} ({kind} {_bound_text(bound)})"
    if over_runs and claim.get("std") is not None:
        two_se = 2 * claim["std"] * math.sqrt(2 / len(measurements))
        if two_se > allowed:
            allowed = two_se
            rule = (f"|{subject} − claimed| ≤ {_derived_text(allowed)} (2·std·√(2/n), std "
                    f"{_bound_text(claim['std'])}, n {len(measurements)})")
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


def run_values(verdict: dict, runs: list[dict]) -> list[float]:
    """The values each run measured for a verdict's claim, in seed order (the ones its mean was taken over);
    ``runs`` are the report's runs (each with its ``metrics``). Empty when the claim was not measured."""
    if verdict.get("measured") is None:
        return []
    measured = [(run.get("metrics") or {}).get(verdict["metric"]) for run in runs[:verdict.get("runs") or 0]]
    return [value for value in measured if _is_number(value)]


def rule_text(verdict: dict, runs: list[dict] | None = None) -> str:
    """A verdict's rule followed, when its claim was measured over several runs, by each run's value:
    ``|mean of 3 runs − claimed| ≤ 0.0141 (…); mean of 3 runs: 0.91, 0.92, 0.93``."""
    return with_run_values(verdict["rule"], run_values(verdict, runs or []))


def with_run_values(rule: str, values: list[float]) -> str:
    if len(values) < 2:
        return rule
    return f"{rule}; mean of {len(values)} runs: " + ", ".join(exact_number(value) for value in values)


def verdict_text(verdict: dict, runs: list[dict] | None = None) -> str:
    """A verdict with its rule, as people read it on the pages and in regctl, e.g.
    ``held: |measured − claimed| ≤ 0.01 (abs 0.01)``; see :func:`rule_text`."""
    return f"{verdict['verdict']}: {rule_text(verdict, runs)}"
