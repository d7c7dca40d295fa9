"""What every paged API listing shares: its query arguments and the Link header naming the next page."""

from flask import request

from reproreg.errors import RegistryError


def list_arguments() -> tuple[str, str | None, int | None]:
    """(state, cursor, limit) from the query string; a limit that is not a number is a VALIDATION_ERROR."""
    limit = request.args.get("limit")
    if limit is not None:
        try:
            limit = int(limit)
        except ValueError:
            raise RegistryError("VALIDATION_ERROR", "limit must be a whole number",
                                problems={"limit": ["must be a whole number"]}) from None
    return request.args.get("state", "").strip(), request.args.get("cursor") or None, limit


def next_link(page, url_of) -> dict:
    """``Link: <url>; rel="next"`` when there is a next page, and the number of matching entries."""
    headers = {"X-Total-Count": str(page.total)} if page.total is not None else {}
    if page.next_cursor:
        headers["Link"] = f'<{url_of(page.next_cursor)}>; rel="next"'
    return headers
