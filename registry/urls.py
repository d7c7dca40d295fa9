"""The registry's public addresses, built in one place.

Every absolute URL the registry hands out (on its pages, in exports, in API answers, and so in the badge snippets
regctl prints from them) starts with one base: ``REGISTRY_PUBLIC_URL`` (``Settings.public_url``) when it is set,
for a registry behind a proxy or known by another name, and otherwise the address the request came to. The edge
(a view or an API resource) computes the base once with :func:`base_url`; the other functions take it as a plain
string, so that code without a request (services, exports, the command line) builds the same addresses.
"""

from reproreg_schemas.vocabulary import BadgeKind

API_PREFIX = "/api/v1"


def base_url(public_url: str | None, host_url: str) -> str:
    """The public base URL, without a trailing slash: ``public_url`` when set, else the request's ``host_url``."""
    return (public_url or host_url).rstrip("/")


def entry_url(base: str, full_name: str) -> str:
    """The page of an artifact (``namespace/name``) and its versions."""
    return f"{base}/{full_name}"


def version_url(base: str, full_name: str, version: str) -> str:
    """The page of one version, by number (or digest)."""
    return f"{entry_url(base, full_name)}/{version}"


def badge_url(base: str, full_name: str, version: str | None = None, kind: str = BadgeKind.COMBINED,
              ext: str = "svg") -> str:
    """A badge image (``svg``) or its shields.io endpoint (``json``): of ``version``, or of the latest version
    when None; the combined badge unless ``kind`` names another."""
    path = f"{base}/badges/{full_name}" + (f"/{version}" if version else "") + f".{ext}"
    return path if kind == BadgeKind.COMBINED else f"{path}?kind={kind}"


def venue_url(base: str, slug: str) -> str:
    """The page of a venue and its entries."""
    return f"{base}/venues/{slug}"


def api_url(base: str, path: str = "") -> str:
    """An address of the JSON API, e.g. ``api_url(base, "/artifacts/alice/resnet")``."""
    return f"{base}{API_PREFIX}{path}"

