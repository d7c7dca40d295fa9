"""The carbon estimate of training, from the compute a manifest records (pure arithmetic, shared by the registry
and regctl).

Method: the ML CO2 Impact approach (Lacoste, Luccioni, Schmidt and Dandres, 2019, "Quantifying the Carbon
Emissions of Machine Learning")::

    energy (kWh)  = energy_kwh as measured, or power_w x hours / 1000
    CO2e (kg)     = energy (kWh) x PUE x carbon intensity (g CO2e / kWh) / 1000

``power_w`` is the average draw of all the hardware together (for GPUs, their number times their TDP is the usual
upper estimate), ``PUE`` the data centre's power usage effectiveness (1.0 when not given: no overhead counted, and
the estimate says so), ``carbon intensity`` that of the grid that powered the run. Without an energy (measured, or
power and hours) or without an intensity there is no estimate, and :func:`estimate` says which inputs are missing.
"""

from reproreg_schemas.manifest import compute_hours

METHOD = "ML CO2 Impact (Lacoste et al., 2019): energy × PUE × grid carbon intensity"
FORMULA = "CO2e (kg) = energy (kWh) × PUE × carbon intensity (g/kWh) ÷ 1000; energy = power (W) × hours ÷ 1000 " \
          "unless measured"
#: the PUE used when none is given: only the hardware's own energy is counted
DEFAULT_PUE = 1.0


def energy_kwh(compute: dict | None) -> float | None:
    """The hardware's energy: as measured, else power x hours; None when neither is known."""
    if not compute:
        return None
    if compute.get("energy_kwh") is not None:
        return float(compute["energy_kwh"])
    hours = compute_hours(compute)
    if compute.get("power_w") is not None and hours is not None:
        return float(compute["power_w"]) * float(hours) / 1000.0
    return None


def co2e_kg(energy: float, pue: float, intensity_g_per_kwh: float) -> float:
    """CO2e in kilograms of ``energy`` kWh drawn by hardware in a data centre of ``pue`` on a grid of
    ``intensity_g_per_kwh``."""
    return energy * pue * intensity_g_per_kwh / 1000.0


def estimate(compute: dict | None) -> dict | None:
    """The estimate with its inputs, method and formula; None when the manifest records no compute.

    ``co2e_kg`` is None when an input is missing; ``missing`` then names what to add to ``training.compute``."""
    if not compute:
        return None
    hours = compute_hours(compute)
    energy = energy_kwh(compute)
    intensity = compute.get("carbon_intensity_g_per_kwh")
    pue = compute.get("pue")
    missing = []
    if energy is None:
        missing.append("energy_kwh (or power_w and hours)")
    if intensity is None:
        missing.append("carbon_intensity_g_per_kwh")
    result = {
        "method": METHOD, "formula": FORMULA,
        "inputs": {"hardware": compute.get("hardware"), "hours": hours, "power_w": compute.get("power_w"),
                   "energy_kwh": compute.get("energy_kwh"), "energy_measured": compute.get("energy_kwh") is not None,
                   "pue": pue if pue is not None else DEFAULT_PUE, "pue_assumed": pue is None,
                   "region": compute.get("region"), "carbon_intensity_g_per_kwh": intensity},
        "energy_kwh": energy, "co2e_kg": None, "missing": missing,
    }
    if not missing:
        result["co2e_kg"] = co2e_kg(energy, result["inputs"]["pue"], float(intensity))
    return result


def avoided_per_reuse(compute: dict | None) -> str:
    """What each reuse (a pull instead of training again) saves, in words: hours on the hardware, and CO2e when it
    can be estimated."""
    if not compute or compute_hours(compute) is None:
        return ""
    text = f"{_number(compute_hours(compute))} hours on {compute.get('hardware')}"
    found = estimate(compute)
    if found and found["co2e_kg"] is not None:
        text += f" and about {_number(found['co2e_kg'])} kg CO2e"
    return text


def _number(value: float) -> str:
    """At most three significant decimals, whole numbers without ``.0``."""
    rounded = round(float(value), 3)
    return str(int(rounded)) if rounded.is_integer() else f"{rounded:g}" if abs(rounded) < 1e6 else f"{rounded:.0f}"
