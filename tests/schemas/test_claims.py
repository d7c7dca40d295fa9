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


def claim_problems(claim: dict) -> dict:
    from marshmallow import ValidationError

    from reproreg_schemas.claims import ClaimSchema

    with pytest.raises(ValidationError) as refused:
        ClaimSchema().load(claim)
    return refused.value.messages


CLAIM = {"metric": "top1", "value": 0.953, "dataset": "cifar10/test"}


@pytest.mark.parametrize("bound", [0.01, 3])
def test_a_bare_number_as_tolerance_says_which_forms_are_expected(bound):
    (message,) = claim_problems({**CLAIM, "tolerance": bound})["tolerance"]
    assert f"{{abs: {bound}}}" in message
    assert all(f"{{{kind}: {bound}}}" in message for kind in ("rel", "min", "max"))


@pytest.mark.parametrize("tolerance", ["0.01", [0.01], True])
def test_a_tolerance_that_is_no_mapping_shows_the_form(tolerance):
    (message,) = claim_problems({**CLAIM, "tolerance": tolerance})["tolerance"]
    assert "one of abs, rel, min or max" in message and "{abs: 0.003}" in message


def test_a_claim_is_refused_in_the_registrys_words():
    from reproreg_schemas.messages import LIBRARY_DEFAULTS

    problems = claim_problems({"metric": 7, "value": "high", "dataset": "", "tolerance": {"abs": -1},
                               "n_runs": 1.5, "seeds": 3})
    assert problems == {
        "metric": ["must be text (a string)"],
        "value": ["must be a number"],
        "dataset": ["must have 1 to 300 characters"],
        "tolerance": {"abs": ["must be at least 0"]},
        "n_runs": ["must be a whole number"],
        "seeds": ["is not a field the registry knows; check its spelling and where it is nested"],
    }
    assert claim_problems({})["metric"] == ["is required"]
    flat = str(problems) + str(claim_problems({})) + str(claim_problems({**CLAIM, "tolerance": {"abs": None}}))
    assert not [default for default in LIBRARY_DEFAULTS if default in flat]


def test_a_claim_may_name_its_hardware_and_it_is_one_line():
    from reproreg_schemas.claims import ClaimSchema

    loaded = ClaimSchema().load({**CLAIM, "tolerance": {"abs": 0.01}, "hardware": "A100-80GB"})
    assert loaded["hardware"] == "A100-80GB"
    assert "hardware" not in ClaimSchema().load({**CLAIM, "tolerance": {"abs": 0.01}})
    assert claim_problems({**CLAIM, "tolerance": {"abs": 0.01}, "hardware": "A100\nH100"})["hardware"]
    assert claim_problems({**CLAIM, "tolerance": {"abs": 0.01}, "hardware": ""})["hardware"]


H100 = {"accelerator_used": "gpu", "cuda": "12.4", "cpu": "AMD EPYC 9654",
        "gpus": [{"name": "NVIDIA H100 80GB HBM3", "driver": "550.54", "memory": "81559 MiB"}]}
A100 = {"accelerator_used": "gpu",
        "gpus": [{"name": "NVIDIA A100-SXM4-80GB", "driver": "535.1", "memory": "81920 MiB"}]}


@pytest.mark.parametrize("claimed, environment, note", [
    ("A100-80GB", H100, "claimed on A100-80GB, verified on H100 80GB HBM3"),
    ("A100-80GB", A100, None),
    ("A100 80 GB", A100, None),
    ("8x A100", A100, None),
    ("A100-40GB", A100, "claimed on A100-40GB, verified on A100-SXM4-80GB"),
    ("H100", {"gpu": {"name": "NVIDIA H100 PCIe"}}, None),  # a single GPU named as gpu: {name}
    ("A100-80GB", {"gpu": {"name": "NVIDIA H100 PCIe"}}, "claimed on A100-80GB, verified on H100 PCIe"),
    ("A100-80GB", {"accelerator_used": "cpu", "cpu": "AMD EPYC 9654", "gpus": []},
     "claimed on A100-80GB, verified on CPU (AMD EPYC 9654)"),
    ("CPU", {"accelerator_used": "cpu", "cpu": "AMD EPYC 9654", "gpus": []}, None),
    (None, H100, None),  # the claim names no hardware
    ("A100-80GB", {}, None),  # the report does not say
    ("A100-80GB", None, None),
    ("A100-80GB", {"gpus": "garbled", "gpu": 3}, None),
])
def test_the_hardware_note_says_when_a_claim_was_verified_on_other_hardware(claimed, environment, note):
    from reproreg_schemas.claims import hardware_note

    assert hardware_note(claimed, environment) == note
