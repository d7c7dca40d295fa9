"""Shaping data for the templates (no HTTP, no database)."""

from reproreg_schemas.claims import tolerance_text
from reproreg_schemas.vocabulary import Outcome

MAX_VERIFICATION_COLUMNS = 4


def claims_table(claims: list[dict], history: list[dict]) -> dict:
    """One row per claim; one column per verification (newest first) with its measured value and verdict."""
    columns = history[:MAX_VERIFICATION_COLUMNS]
    rows = []
    for claim in claims:
        cells = []
        for verification in columns:
            verdict = next((v for v in verification["claims"]
                            if v["metric"] == claim["metric"] and v["dataset"] == claim["dataset"]), None)
            cells.append({"measured": None if verdict is None else verdict["measured"],
                          "verdict": "not run" if verdict is None else verdict["verdict"],
                          "rule": "" if verdict is None else verdict["rule"]})
        rows.append({"metric": claim["metric"], "dataset": claim["dataset"], "claimed": claim["value"],
                     "tolerance": tolerance_text(claim), "cells": cells})
    return {"columns": columns, "rows": rows}


def split_by_trust(history: list[dict]) -> tuple[list[dict], list[dict]]:
    """(trusted verifications, other reports): only the first earn badges; the others are community reports and
    the author's own runs."""
    return [v for v in history if v["trusted"]], [v for v in history if not v["trusted"]]


def community_summary(counts: dict) -> str:
    """e.g. "3 community reports: 2 reproduced, 1 claim failed"."""
    total = counts["reports"]
    text = f"{total} community report{'' if total == 1 else 's'}"
    found = [f"{counts[o]} {o.replace('_', ' ')}" for o in Outcome if counts.get(o)]
    return text + (": " + ", ".join(found) if found else "")


def pull_command(base_url: str, name: str, version: str) -> str:
    """The command that pulls a version from this registry, at its public base URL (see reproreg.urls)."""
    return f"REGCTL_URL={base_url} regctl pull {name}@{version}"


def training_rows(config, prefix: str = "") -> list[tuple[str, str]]:
    """A parsed training config flattened to (dotted key, value) rows."""
    if isinstance(config, dict):
        rows = []
        for key, value in config.items():
            rows.extend(training_rows(value, f"{prefix}.{key}" if prefix else str(key)))
        return rows
    if isinstance(config, list) and any(isinstance(item, (dict, list)) for item in config):
        rows = []
        for index, value in enumerate(config):
            rows.extend(training_rows(value, f"{prefix}[{index}]"))
        return rows
    if config is None and not prefix:
        return []
    return [(prefix or "(value)", str(config))]

