"""The CO2e estimate: power x hours (or measured energy) x PUE x grid intensity, with its inputs shown."""

import pytest
from marshmallow import ValidationError

from reproreg_schemas.carbon import DEFAULT_PUE, avoided_per_reuse, co2e_kg, energy_kwh, estimate
from reproreg_schemas.manifest import ComputeSchema, canonical_manifest, manifest_digest
from tests.factories import author_file


def test_power_times_hours_times_pue_times_intensity():
    compute = {"hardware": "8x V100", "hours": 190, "power_w": 2400, "pue": 1.1, "carbon_intensity_g_per_kwh": 400}
    found = estimate(compute)
    assert found["energy_kwh"] == pytest.approx(2400 * 190 / 1000)  # 456 kWh
    assert found["co2e_kg"] == pytest.approx(456 * 1.1 * 400 / 1000)  # 200.64 kg
    assert found["missing"] == [] and found["inputs"]["pue_assumed"] is False
    assert "PUE" in found["formula"] and "Lacoste" in found["method"]


def test_measured_energy_wins_over_power_and_hours():
    compute = {"hardware": "1x H100", "hours": 10, "power_w": 700, "energy_kwh": 5.5,
               "carbon_intensity_g_per_kwh": 50}
    assert energy_kwh(compute) == 5.5
    found = estimate(compute)
    assert found["co2e_kg"] == pytest.approx(5.5 * DEFAULT_PUE * 50 / 1000)
    assert found["inputs"]["energy_measured"] and found["inputs"]["pue_assumed"]


def test_the_older_gpu_hours_spelling_counts_as_hours():
    assert energy_kwh({"hardware": "4x A100", "gpu_hours": 12, "power_w": 1600}) == pytest.approx(19.2)


@pytest.mark.parametrize("compute, missing", [
    ({"hardware": "TPU v4-32", "hours": 5}, ["energy_kwh (or power_w and hours)", "carbon_intensity_g_per_kwh"]),
    ({"hardware": "CPU", "power_w": 100}, ["energy_kwh (or power_w and hours)", "carbon_intensity_g_per_kwh"]),
    ({"hardware": "CPU", "hours": 2, "power_w": 100}, ["carbon_intensity_g_per_kwh"]),
    ({"hardware": "CPU", "energy_kwh": 3, "region": "eu-north-1"}, ["carbon_intensity_g_per_kwh"]),
])
def test_without_an_input_there_is_no_estimate_and_the_missing_input_is_named(compute, missing):
    found = estimate(compute)
    assert found["co2e_kg"] is None and found["missing"] == missing


def test_no_compute_no_estimate():
    assert estimate(None) is None and estimate({}) is None and avoided_per_reuse(None) == ""


def test_co2e_arithmetic_directly():
    assert co2e_kg(1000, 1.0, 1000) == 1000.0
    assert co2e_kg(0, 1.5, 500) == 0.0
    assert co2e_kg(10, 1.2, 250) == pytest.approx(3.0)


def test_what_each_reuse_avoids():
    compute = {"hardware": "8x V100", "gpu_hours": 190, "power_w": 2400, "pue": 1.1, "carbon_intensity_g_per_kwh": 400}
    assert avoided_per_reuse(compute) == "190 hours on 8x V100 and about 200.64 kg CO2e"
    assert avoided_per_reuse({"hardware": "8x V100", "hours": 1.5}) == "1.5 hours on 8x V100"


def test_compute_fields_are_validated_and_absent_unless_given():
    with pytest.raises(ValidationError):
        ComputeSchema().load({"hardware": "x", "pue": 0.5})
    with pytest.raises(ValidationError):
        ComputeSchema().load({"hardware": "x", "power_w": 0})
    with pytest.raises(ValidationError):
        ComputeSchema().load({"hardware": "x", "carbon_intensity_g_per_kwh": float("nan")})
    dumped = ComputeSchema().dump(ComputeSchema().load({"hardware": "x", "gpu_hours": 3}))
    assert set(dumped) == {"hardware", "gpu_hours"}


def manifest(**overrides) -> dict:
    document = author_file(**overrides)
    document.pop("release")
    document["training"].pop("config")
    document.update(manifest_version=1, files=[{"path": "eval.py", "size": 1, "sha256": "sha256:" + "a" * 64}])
    return document


def test_manifests_without_the_new_sections_keep_their_canonical_form():
    """No links and no carbon inputs: the canonical manifest has neither key, so older digests stand."""
    canonical = canonical_manifest(manifest())
    assert "links" not in canonical and set(canonical["training"]["compute"]) == {"hardware", "gpu_hours"}
    with_links = canonical_manifest(manifest(links=[{"type": "trained-on", "target": "bob/cifar10"}]))
    assert with_links["links"] == [{"type": "trained-on", "target": "bob/cifar10"}]
    assert manifest_digest(with_links) != manifest_digest(canonical)


def test_the_page_shows_inputs_formula_and_result(http, make_user):
    from tests.registry.helpers import FILES, publish

    _, alice = make_user("alice")
    compute = {"hardware": "8x V100 32GB", "hours": 190, "power_w": 2400, "pue": 1.1, "region": "us-east-1",
               "carbon_intensity_g_per_kwh": 400}
    assert publish(http, alice, FILES, training={"compute": compute}).status_code == 201
    page = http.get("/alice/resnet/1.0.0").get_data(as_text=True)
    section = page.split('id="carbon"')[1]
    assert "2400 W" in section and "456.000" in section and "1.1" in section and "us-east-1" in section
    assert "400 g CO2e/kWh" in section and "200.640 kg" in section and "PUE" in section
    assert "190 hours on 8x V100 32GB and about 200.64 kg CO2e" in section
