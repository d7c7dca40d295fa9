"""Names, versions, digests and file paths: the identifiers every other schema uses."""

import posixpath
import re

from marshmallow import ValidationError

NAMESPACE_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
ARTIFACT_RE = re.compile(r"^[a-z0-9](?:[a-z0-9._-]{0,98}[a-z0-9])?$")
DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
# semver.org 2.0.0, the official regular expression
SEMVER_RE = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
MAX_PATH_LENGTH = 1024


def validate_full_name(value: str) -> None:
    if not isinstance(value, str) or value.count("/") != 1:
        raise ValidationError("must be 'namespace/name', e.g. 'alice/resnet50-cifar'")
    namespace, name = value.split("/")
    if not NAMESPACE_RE.match(namespace):
        raise ValidationError(
            f"namespace {namespace!r} must be 1-40 lowercase letters, digits or '-', not starting or ending with '-'"
        )
    if not ARTIFACT_RE.match(name):
        raise ValidationError(
            f"name {name!r} must be 1-100 lowercase letters, digits, '.', '_' or '-', "
            "starting and ending with a letter or digit"
        )


def validate_semver(value: str) -> None:
    if not isinstance(value, str) or not SEMVER_RE.match(value):
        raise ValidationError(f"{value!r} is not a semantic version such as 1.0.0 or 2.1.0-rc.1")


def validate_digest(value: str) -> None:
    if not isinstance(value, str) or not DIGEST_RE.match(value):
        raise ValidationError("must be 'sha256:' followed by 64 lowercase hex digits")


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

    Refused: empty paths, NUL or other control characters, backslashes, absolute paths and any path that
    leaves its folder through ``..``.
    """
    if not isinstance(value, str) or not value:
        raise ValidationError("path must be a non-empty string")
    if len(value) > MAX_PATH_LENGTH:
        raise ValidationError(f"path is longer than {MAX_PATH_LENGTH} characters")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValidationError(f"path {value!r} contains a NUL or control character")
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
