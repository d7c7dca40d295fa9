"""Names, versions, digests and file paths: the identifiers every other schema uses."""

import posixpath
import re
import unicodedata

from marshmallow import ValidationError

NAMESPACE_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
ARTIFACT_RE = re.compile(r"^[a-z0-9](?:[a-z0-9._-]{0,98}[a-z0-9])?$")
DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
#: a venue (conference or journal) as versions name it in ``paper.venue``, e.g. neurips-2026
VENUE_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
# semver.org 2.0.0, the official regular expression
SEMVER_RE = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
MAX_PATH_LENGTH = 1024

#: bidirectional embeddings, overrides, isolates and marks: they make text display in another order than it is
#: stored (a path or title that reads as one thing and is another)
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
#: invisible characters that change no shaping: zero-width space, word joiner, invisible operators, BOM
INVISIBLE = "\u180e\u200b\u2060-\u2064\ufeff"
#: C0 and C1 control characters, DEL; lone surrogates (no UTF-8 form)
CONTROLS = "\x00-\x1f\x7f-\x9f"
SURROGATES = "\ud800-\udfff"
_ONE_LINE_REFUSED = re.compile(f"[{CONTROLS}{BIDI_CONTROLS}{INVISIBLE}\u2028\u2029{SURROGATES}]")
_MULTI_LINE_REFUSED = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{BIDI_CONTROLS}{INVISIBLE}{SURROGATES}]")


def _describe(char: str) -> str:
    return f"U+{ord(char):04X}" + (f" ({unicodedata.name(char)})" if unicodedata.name(char, "") else "")


def refused_character(value: str, multi_line: bool = False) -> str | None:
    """The first control, bidirectional or invisible character of ``value`` that text fields refuse, described."""
    match = (_MULTI_LINE_REFUSED if multi_line else _ONE_LINE_REFUSED).search(value)
    return _describe(match.group()) if match else None


def validate_one_line(value) -> None:
    """One-line text (names, titles, metrics, ...): no control, bidirectional-control or invisible characters."""
    if isinstance(value, str) and (found := refused_character(value)):
        raise ValidationError(f"contains {found}; control, bidirectional and invisible characters are refused")


def validate_multi_line(value) -> None:
    """Free text (justifications, statements): as one-line text, but tabs and line breaks are allowed."""
    if isinstance(value, str) and (found := refused_character(value, multi_line=True)):
        raise ValidationError(f"contains {found}; control, bidirectional and invisible characters are refused")


def validate_nested_text(value) -> None:
    """Every key and text value inside free-form data (a bias evaluation) is checked as multi-line text."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, inner in item.items():
                validate_multi_line(key)
                stack.append(inner)
        elif isinstance(item, list):
            stack.extend(item)
        else:
            validate_multi_line(item)


class _PatternValidator:
    """A regular-expression check with its own message; its ``regex`` puts the pattern into the OpenAPI document.
    The whole value must match (``re.match`` with ``$`` would let a trailing newline through)."""

    def __init__(self, regex: re.Pattern, message):
        self.regex = regex
        self.message = message

    def __call__(self, value) -> None:
        if not isinstance(value, str) or not self.regex.fullmatch(value):
            raise ValidationError(self.message(value) if callable(self.message) else self.message)


def validate_full_name(value: str) -> None:
    if not isinstance(value, str) or value.count("/") != 1:
        raise ValidationError("must be 'namespace/name', e.g. 'alice/resnet50-cifar'")
    namespace, name = value.split("/")
    if not NAMESPACE_RE.fullmatch(namespace):
        raise ValidationError(
            f"namespace {namespace!r} must be 1-40 lowercase letters, digits or '-', not starting or ending with '-'"
        )
    if not ARTIFACT_RE.fullmatch(name):
        raise ValidationError(
            f"name {name!r} must be 1-100 lowercase letters, digits, '.', '_' or '-', "
            "starting and ending with a letter or digit"
        )


validate_semver = _PatternValidator(SEMVER_RE, lambda value: f"{value!r} is not a semantic version such as 1.0.0 "
                                                           "or 2.1.0-rc.1")
validate_digest = _PatternValidator(DIGEST_RE, "must be 'sha256:' followed by 64 lowercase hex digits")
validate_venue_slug = _PatternValidator(VENUE_SLUG_RE, lambda value: f"venue {value!r} must be a short slug such as "
                                                                     "neurips-2026 (lowercase letters, digits and "
                                                                     "'-', at most 63)")

#: the reference to an artifact's newest version that is not yanked (releases before pre-releases)
LATEST = "latest"
DIGEST_PREFIX = "sha256:"


def malformed_digest_message(value: str) -> str:
    return (f"malformed digest {value!r}: a digest is 'sha256:' followed by 64 lowercase hex digits, as push, "
            "pull and show print it")


def validate_version_reference(value: str) -> None:
    """What may follow ``NAME@``: a semantic version (1.0.0), a digest (sha256:<64 hex>) or ``latest``. Anything
    that starts like a digest and is not one is a malformed digest, never an unknown version."""
    if value == LATEST:
        return
    if isinstance(value, str) and value.lower().startswith(DIGEST_PREFIX):
        if not DIGEST_RE.fullmatch(value):
            raise ValidationError(malformed_digest_message(value))
        return
    validate_semver(value)


def semver_key(value: str) -> tuple:
    """Sort key following semver precedence (build metadata ignored, pre-releases before releases)."""
    match = SEMVER_RE.match(value)
    if not match:
        return (-1, -1, -1, 0, ())
    major, minor, patch, pre = int(match[1]), int(match[2]), int(match[3]), match[4]
    if pre is None:
        return (major, minor, patch, 1, ())
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (major, minor, patch, 0, parts)


def normalise_relative_path(value: str) -> str:
    """Return the normalised POSIX form of a manifest path, or raise ValidationError.

    Refused: empty paths, NUL or other control characters, bidirectional controls and every other invisible
    format character, backslashes, absolute paths and any path that leaves its folder through ``..``.
    """
    if not isinstance(value, str) or not value:
        raise ValidationError("path must be a non-empty string")
    if len(value) > MAX_PATH_LENGTH:
        raise ValidationError(f"path is longer than {MAX_PATH_LENGTH} characters")
    refused = refused_character(value) or next(
        (_describe(ch) for ch in value if unicodedata.category(ch) in ("Cf", "Zl", "Zp")), None)
    if refused:
        raise ValidationError(f"path {value!r} contains {refused}; control, bidirectional and invisible characters "
                              "are refused in paths")
    if "\\" in value:
        raise ValidationError(f"path {value!r} contains a backslash; use '/'")
    if value.startswith("/"):
        raise ValidationError(f"path {value!r} is absolute; paths are relative to regctl.yaml")
    if ".." in value.split("/"):
        raise ValidationError(f"path {value!r} leaves the folder through '..'")
    normalised = posixpath.normpath(value)
    if normalised in (".", "") or normalised.startswith("../"):
        raise ValidationError(f"path {value!r} does not name a file inside the folder")
    return normalised
