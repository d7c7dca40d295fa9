"""Badge images: a flat SVG (in the style of shields.io) and the shields.io "endpoint" JSON."""

import json
from functools import lru_cache
from xml.sax.saxutils import escape

from reproreg_schemas.vocabulary import BadgeKind, ChecklistState, ReproducedState

COLORS = {"green": "#3fb950", "brightgreen": "#2da44e", "red": "#cf222e", "orange": "#d4a72c",
          "blue": "#0969da", "lightgrey": "#9a9a9a", "grey": "#6e7781"}

_NARROW = set("fijlrtI1.,:;!|'() ")
_WIDE = set("mwMW@%")


def text_width(text: str) -> int:
    """Approximate width in pixels of Verdana 11px, enough to size the badge."""
    width = 0.0
    for ch in text:
        width += 4.0 if ch in _NARROW else 10.0 if ch in _WIDE else 7.6 if ch.isupper() else 6.6
    return int(width + 0.5)


def badge(states: dict | None, kind: BadgeKind) -> dict:
    """label, message and color of one badge; ``states`` None means unknown (absent or not visible)."""
    label = "reproducibility" if kind == BadgeKind.COMBINED else str(kind)
    if states is None:
        return {"label": label, "message": "unknown", "color": "lightgrey"}
    if kind == BadgeKind.COMBINED:
        message, color = _combined(states)
    elif kind == BadgeKind.AVAILABLE:
        message, color = ("yes", "blue") if states["available"] else ("no", "lightgrey")
    elif kind == BadgeKind.FUNCTIONAL:
        message, color = ("yes", "green") if states["functional"] else ("not evaluated", "lightgrey")
    elif kind == BadgeKind.REPRODUCED:
        message, color = {ReproducedState.REPRODUCED: ("yes", "brightgreen"),
                          ReproducedState.FAILED: ("failed", "red")}.get(
            states["reproduced_state"], ("not verified", "lightgrey"))
    else:
        message, color = {ChecklistState.COMPLETE: ("complete", "green"),
                          ChecklistState.WARNINGS: ("warnings", "orange")}.get(
            states["checklist_state"], ("incomplete", "lightgrey"))
    if states["yanked"]:
        message, color = f"yanked ({message})", "grey"
    return {"label": label, "message": message, "color": color}


def _combined(states: dict) -> tuple[str, str]:
    if states["reproduced_state"] == ReproducedState.FAILED:
        return "reproduction failed", "red"
    held = [kind.value for kind in (BadgeKind.AVAILABLE, BadgeKind.FUNCTIONAL, BadgeKind.REPRODUCED)
            if states[kind]]
    if states["reproduced"]:
        return " · ".join(held), "brightgreen"
    if states["functional"]:
        return " · ".join(held), "green"
    if states["available"]:
        return "available", "blue"
    return "not evaluated", "lightgrey"


def svg(view: dict) -> str:
    label, message = view["label"], view["message"]
    left, right = text_width(label) + 12, text_width(message) + 12
    total = left + right
    color = COLORS.get(view["color"], view["color"])
    title = escape(f"{label}: {message}")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" aria-label="{title}">'
        f"<title>{title}</title>"
        '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/>'
        '<stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="r"><rect width="{total}" height="20" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#r)"><rect width="{left}" height="20" fill="#555"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{color}"/>'
        f'<rect width="{total}" height="20" fill="url(#s)"/></g>'
        '<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">'
        f'<text x="{left / 2:.1f}" y="14">{escape(label)}</text>'
        f'<text x="{left + right / 2:.1f}" y="14">{escape(message)}</text></g></svg>'
    )


def endpoint_json(view: dict) -> dict:
    """The shields.io endpoint format (schemaVersion 1)."""
    return {"schemaVersion": 1, "label": view["label"], "message": view["message"], "color": view["color"],
            "cacheSeconds": 300}


#: the stored states a badge is drawn from, in the order :func:`drawn` takes them
DRAWN_FROM = ("yanked", "available", "functional", "reproduced", "reproduced_state", "checklist_state")


@lru_cache(maxsize=512)
def drawn(states: tuple | None, kind: BadgeKind, ext: str) -> bytes:
    """The body of one badge (``ext`` svg or json) for the states in DRAWN_FROM (None: unknown), drawn once per
    combination of states and kept: there are only a few hundred."""
    view = badge(None if states is None else dict(zip(DRAWN_FROM, states, strict=True)), kind)
    text = svg(view) if ext == "svg" else json.dumps(endpoint_json(view))
    return text.encode()
