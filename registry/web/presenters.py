"""Shaping data for the templates (no HTTP, no database)."""

import json

from reproreg_schemas.claims import hardware_note, tolerance_text
from reproreg_schemas.verdicts import rule_text, run_values
from reproreg_schemas.verification import run_time_text
from reproreg_schemas.vocabulary import Outcome, VerifierRole

MAX_VERIFICATION_COLUMNS = 4


def order_verifications(history: list[dict]) -> list[dict]:
    """Trusted verifications first, then community reports, the author's own runs last; newest first in each."""
    rank = {True: 0, False: 1}
    newest_first = sorted(history, key=lambda v: (v["created_at"], v["id"]), reverse=True)
    return sorted(newest_first, key=lambda v: (rank[bool(v["trusted"])], v["role"] == VerifierRole.AUTHOR))


def split_by_trust(history: list[dict]) -> tuple[list[dict], list[dict], list[dict]]:
    """(trusted verifications, community reports, the author's own runs), each newest first: only the first
    earn badges."""
    ordered = order_verifications(history)
    trusted = [v for v in ordered if v["trusted"]]
    authors = [v for v in ordered if not v["trusted"] and v["role"] == VerifierRole.AUTHOR]
    community = [v for v in ordered if not v["trusted"] and v["role"] != VerifierRole.AUTHOR]
    return trusted, community, authors


def environment_of(verification: dict) -> dict:
    """The environment its report recorded (empty when it recorded none)."""
    environment = verification.get("environment") or (verification.get("report") or {}).get("environment")
    return environment if isinstance(environment, dict) else {}


def hardware_notes(claims: list[dict], verification: dict) -> list[str]:
    """``claimed on A100-80GB, verified on H100 80GB HBM3`` for each claim the verification judged whose named
    hardware is not what it ran on (each phrase once). The verdicts stand: a verification on other hardware
    counts all the same, and says so."""
    judged = {(v["metric"], v["dataset"]) for v in verification.get("claims") or []}
    environment = environment_of(verification)
    notes: list[str] = []
    for claim in claims:
        if (claim.get("metric"), claim.get("dataset")) not in judged:
            continue
        note = hardware_note(claim.get("hardware"), environment)
        if note and note not in notes:
            notes.append(note)
    return notes


def with_verdicts(verification: dict, claims: list[dict] | None = None) -> dict:
    """A verification document with each claim's verdict written out: measured value (exact), verdict, and
    the rule with the per-run values when it was measured over several runs; given the version's claims, each
    verdict also says where the claim was measured on other hardware (``hardware_note``) and the verification
    lists those phrases (``hardware_notes``)."""
    runs = (verification.get("report") or {}).get("runs") or []
    environment = environment_of(verification)
    named = {(claim.get("metric"), claim.get("dataset")): claim.get("hardware") for claim in claims or []}
    verdicts = [{"metric": v["metric"], "dataset": v["dataset"], "claimed": v["claimed"],
                 "measured": v["measured"], "runs": run_values(v, runs), "verdict": v["verdict"],
                 "rule": rule_text(v, runs),
                 "hardware_note": hardware_note(named.get((v["metric"], v["dataset"])), environment)}
                for v in verification["claims"]]
    document = {**verification, "verdicts": verdicts, "run_times": [run_time_text(run) for run in runs]}
    if claims is not None:
        document["hardware_notes"] = hardware_notes(claims, verification)
    return document


def claims_table(claims: list[dict], trusted: list[dict]) -> dict:
    """One row per claim; one column per trusted verification (newest first) with its measured value, verdict
    and rule. Community reports and the author's own runs, which never earn a badge, are listed below it."""
    columns = [with_verdicts(v, claims) for v in order_verifications(trusted)[:MAX_VERIFICATION_COLUMNS]]
    rows = []
    for claim in claims:
        cells = []
        for verification in columns:
            verdict = next((v for v in verification["verdicts"]
                            if v["metric"] == claim["metric"] and v["dataset"] == claim["dataset"]), None)
            cells.append({"measured": None if verdict is None else verdict["measured"],
                          "verdict": "not run" if verdict is None else verdict["verdict"],
                          "rule": "" if verdict is None else verdict["rule"],
                          "hardware_note": None if verdict is None else verdict["hardware_note"]})
        rows.append({"metric": claim["metric"], "dataset": claim["dataset"], "claimed": claim["value"],
                     "tolerance": tolerance_text(claim), "hardware": claim.get("hardware"), "cells": cells})
    return {"columns": columns, "rows": rows}


def community_summary(counts: dict) -> str:
    """e.g. "3 community reports: 2 reproduced, 1 claim failed"."""
    total = counts["reports"]
    text = f"{total} community report{'' if total == 1 else 's'}"
    found = [f"{counts[o]} {o.replace('_', ' ')}" for o in Outcome if counts.get(o)]
    return text + (": " + ", ".join(found) if found else "")


def pull_command(base_url: str, name: str, version: str) -> str:
    """The command that pulls a version from this registry, at its public base URL (see reproreg.urls)."""
    return f"REGCTL_URL={base_url} regctl pull {name}@{version}"


def config_format(path: str | None, text: str | None) -> str:
    """"json" for a training config written in JSON (by its name, or its text when the name says nothing),
    else "yaml"."""
    if path and path.lower().endswith(".json"):
        return "json"
    if path and path.lower().endswith((".yaml", ".yml")):
        return "yaml"
    if text is not None and text.lstrip()[:1] in ("{", "["):
        try:
            json.loads(text)
            return "json"
        except ValueError:
            return "yaml"
    return "yaml"


def training_view(config, path: str | None, text: str | None) -> dict:
    """A parsed training config rendered in the language it was written in: its (dotted key, value) rows with
    values spelled as JSON or YAML, the whole config pretty-printed (JSON) or as published (YAML), and the
    verbatim text when that differs from what is shown."""
    kind = config_format(path, text)
    if kind == "json" and text is not None:
        try:  # JSON's own reading of it: YAML would take 1e-08 for text
            config = json.loads(text)
        except (ValueError, RecursionError):
            pass
    scalar = _json_value if kind == "json" else _yaml_value
    rows = training_rows(config, scalar=scalar)
    if kind == "json" and config is not None:
        pretty = json.dumps(config, indent=2, ensure_ascii=False)
    else:
        pretty = text
    return {"format": kind, "rows": rows, "pretty": pretty,
            "verbatim": text if text is not None and pretty is not None and text.strip() != pretty.strip() else None}


def training_rows(config, prefix: str = "", scalar=None) -> list[tuple[str, str]]:
    """A parsed training config flattened to (dotted key, value) rows; ``scalar`` spells a value (YAML's
    spelling by default)."""
    scalar = scalar or _yaml_value
    if isinstance(config, dict):
        rows = []
        for key, value in config.items():
            rows.extend(training_rows(value, f"{prefix}.{key}" if prefix else str(key), scalar))
        return rows
    if isinstance(config, list) and any(isinstance(item, (dict, list)) for item in config):
        rows = []
        for index, value in enumerate(config):
            rows.extend(training_rows(value, f"{prefix}[{index}]", scalar))
        return rows
    if config is None and not prefix:
        return []
    return [(prefix or "(value)", scalar(config))]


def _json_value(value) -> str:
    """A value as JSON writes it (``true``, ``null``, ``"text"``, ``[1, 2]``), numbers exactly (3.0 stays 3.0)."""
    return json.dumps(value, ensure_ascii=False)


def _yaml_value(value) -> str:
    """A value as YAML writes it: ``true``, ``null``, numbers exactly (shortest round trip, 3.0 stays 3.0), text
    as it is, lists in flow style."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_yaml_value(item) for item in value) + "]"
    return str(value)


def compute_view(compute: dict | None) -> dict | None:
    """Training compute for the page: the CO2e estimate with its inputs and formula, and what each reuse avoids."""
    from reproreg_schemas.carbon import avoided_per_reuse, estimate

    found = estimate(compute)
    if found is None:
        return None
    return {**found, "avoided": avoided_per_reuse(compute)}


def release_view(document: dict, full_name: str, may_fetch: bool) -> dict:
    """The release section of an artifact's and a version's page: stage, plan, pause (with its public reason), what
    the ethics gate holds back, and for a gated artifact whose files the reader cannot fetch, how to ask."""
    from reproreg.services.release import GATE_ITEMS

    return {**document, "blocked_text": [GATE_ITEMS[item] for item in document.get("blocked") or []],
            "request_command": None if may_fetch or document["stage"] != "gated"
            else f"regctl access request {full_name} --purpose '...'"}
