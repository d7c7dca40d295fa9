import pytest

from reproreg_schemas.claims import tolerance_text


@pytest.mark.parametrize("claim, text", [
    ({"tolerance": {"abs": 0.003}}, "± 0.003"),
    ({"tolerance": {"rel": 0.02}}, "± 2 %"),
    ({"tolerance": {"min": 0.85}}, "≥ 0.85"),
    ({"tolerance": {"max": 0.25}, "std": 0.01, "n_runs": 3}, "≤ 0.25 · std 0.01 over 3 runs"),
])
def test_a_tolerance_reads_the_same_everywhere(claim, text):
    assert tolerance_text(claim) == text
