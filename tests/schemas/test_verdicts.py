import pytest

from reproreg_schemas.verdicts import judge, judge_claim, outcome, run_values, runs_for, verdict_text
from reproreg_schemas.vocabulary import Verdict


def claim(tolerance, value=0.9, **extra):
    return {"metric": "acc", "dataset": "d/test", "value": value, "tolerance": tolerance, **extra}


@pytest.mark.parametrize("tolerance, measured, verdict", [
    ({"abs": 0.01}, 0.905, Verdict.HELD),
    ({"abs": 0.01}, 0.91, Verdict.HELD),           # the bound itself holds
    ({"abs": 0.01}, 0.8899, Verdict.FAILED),
    ({"abs": 0.01}, 0.92, Verdict.FAILED),
    ({"rel": 0.02}, 0.9179, Verdict.HELD),         # 2 % of 0.9 = 0.018
    ({"rel": 0.02}, 0.8810, Verdict.FAILED),
    ({"min": 0.85}, 0.85, Verdict.HELD),
    ({"min": 0.85}, 0.99, Verdict.HELD),
    ({"min": 0.85}, 0.8499, Verdict.FAILED),
    ({"max": 0.3}, 0.29, Verdict.HELD),
    ({"max": 0.3}, 0.31, Verdict.FAILED),
])
def test_single_run_rules(tolerance, measured, verdict):
    result = judge_claim(claim(tolerance), [measured])
    assert result["verdict"] == verdict
    assert result["measured"] == measured and result["rule"]


def test_relative_tolerance_uses_the_magnitude_of_negative_claims():
    assert judge_claim(claim({"rel": 0.1}, value=-2.0), [-2.15])["verdict"] == Verdict.HELD
    assert judge_claim(claim({"rel": 0.1}, value=-2.0), [-2.25])["verdict"] == Verdict.FAILED


def test_mean_over_runs_is_widened_to_two_standard_errors():
    spread = claim({"abs": 0.001}, value=0.90, std=0.01, n_runs=4)
    # 2·0.01·√(2/4) = 0.01414: a mean 0.012 away holds, 0.015 away does not
    held = judge_claim(spread, [0.91, 0.915, 0.909, 0.914])
    assert held["verdict"] == Verdict.HELD and "2·std·√(2/n)" in held["rule"] and held["runs"] == 4
    assert held["measured_std"] > 0
    failed = judge_claim(spread, [0.915, 0.915, 0.915, 0.915])
    assert failed["verdict"] == Verdict.FAILED


def test_a_wide_tolerance_is_not_narrowed_by_the_spread():
    spread = claim({"abs": 0.05}, value=0.90, std=0.001, n_runs=2)
    result = judge_claim(spread, [0.94, 0.94])
    assert result["verdict"] == Verdict.HELD and "abs 0.05" in result["rule"]


def test_one_sided_bounds_apply_to_the_mean():
    spread = claim({"min": 0.8}, std=0.05, n_runs=3)
    assert judge_claim(spread, [0.75, 0.85, 0.86])["verdict"] == Verdict.HELD   # mean 0.82
    assert judge_claim(spread, [0.70, 0.85, 0.80])["verdict"] == Verdict.FAILED  # mean 0.783


def test_missing_or_non_numeric_metrics_are_missing():
    claims = [claim({"abs": 0.1}), {**claim({"abs": 0.1}), "metric": "f1"}]
    verdicts = judge(claims, [{"acc": 0.9, "f1": "high"}])
    assert [v["verdict"] for v in verdicts] == [Verdict.HELD, Verdict.MISSING]
    assert outcome(verdicts) == "evaluation_failed"
    assert judge([claim({"abs": 0.1})], [{"acc": True}])[0]["verdict"] == Verdict.MISSING


def test_outcome_and_seeded_runs():
    assert outcome([{"verdict": Verdict.HELD}]) == "reproduced"
    assert outcome([{"verdict": Verdict.HELD}, {"verdict": Verdict.FAILED}]) == "claim_failed"
    claims = [claim({"abs": 0.1}), claim({"abs": 0.1}, std=0.01, n_runs=5)]
    assert runs_for(claims, "python e.py --seed {seed} --out {metrics}") == 5
    assert runs_for(claims, "python e.py --out {metrics}") == 1
    verdicts = judge(claims, [{"acc": 0.9}] * 5)
    assert [v["runs"] for v in verdicts] == [5, 5]


def test_rules_write_their_numbers_exactly():
    result = judge_claim(claim({"abs": 0}, value=22713728), [22713727])
    assert result["verdict"] == Verdict.FAILED and result["measured"] == 22713727
    assert result["rule"] == "|measured − claimed| ≤ 0 (abs 0)"
    assert judge_claim(claim({"abs": 0.0001234567891}), [0.9])["rule"] == \
        "|measured − claimed| ≤ 0.0001234567891 (abs 0.0001234567891)"
    # a derived bound without floating-point noise: 2 % of 0.9 is 0.018, not 0.018000000000000002
    assert judge_claim(claim({"rel": 0.02}), [0.9])["rule"] == "|measured − claimed| ≤ 0.018 (rel 0.02)"
    assert judge_claim(claim({"min": 0.8500000001}), [0.9])["rule"] == "measured ≥ 0.8500000001"


def test_the_mean_of_runs_is_exact():
    assert judge_claim(claim({"abs": 0}, value=0.95), [0.95, 0.95, 0.95])["measured"] == 0.95
    assert judge_claim(claim({"abs": 0.01}), [0.21, 0.22, 0.23])["measured"] == 0.22


def test_verdict_text_names_the_rule_and_each_runs_value():
    claims = [claim({"abs": 0.05}, std=0.01, n_runs=3), {**claim({"max": 1.0}), "metric": "loss"}]
    runs = [{"acc": 0.91, "loss": 0.5}, {"acc": 0.92, "loss": 0.5}, {"acc": 0.93, "loss": 0.5}]
    acc, loss = judge(claims, runs)
    report_runs = [{"seed": seed, "metrics": metrics} for seed, metrics in enumerate(runs)]
    assert verdict_text(acc, report_runs) == ("held: |mean of 3 runs − claimed| ≤ 0.05 (abs 0.05); "
                                              "mean of 3 runs: 0.91, 0.92, 0.93")
    assert run_values(loss, report_runs) == [0.5, 0.5, 0.5]
    single = judge_claim(claim({"abs": 0.05}), [0.91])
    assert verdict_text(single, report_runs[:1]) == "held: |measured − claimed| ≤ 0.05 (abs 0.05)"
    missing = judge_claim(claim({"abs": 0.05}), [])
    assert run_values(missing, report_runs) == [] and verdict_text(missing).startswith("missing: ")
