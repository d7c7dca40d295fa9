"""Every error code the registry can answer with, registered in one place.

The server renders ``{"error": {"code", "message", "details"}}`` with the status below; regctl maps each code
back to an exception and an exit code (see ``client/errors.py``).
"""

from marshmallow import fields

from reproreg_schemas.messages import Schema

#: code -> HTTP status
ERROR_CODES: dict[str, int] = {
    "BAD_REQUEST": 400,
    "VALIDATION_ERROR": 422,
    "INVALID_MANIFEST": 422,
    "INVALID_TRAINING_CONFIG": 422,
    "INVALID_DIGEST": 400,
    "INVALID_RANGE": 416,
    "TOKEN_IN_URL": 400,
    "UNAUTHORIZED": 401,
    "TOKEN_EXPIRED": 401,
    "INSUFFICIENT_SCOPE": 403,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "METHOD_NOT_ALLOWED": 405,
    "VERSION_EXISTS": 409,
    "NAME_TAKEN": 409,
    "UPLOAD_OFFSET_MISMATCH": 409,
    "BLOB_UNKNOWN": 409,
    "BLOB_SIZE_MISMATCH": 409,
    "DIGEST_MISMATCH": 400,
    "SIZE_MISMATCH": 400,
    "PAYLOAD_TOO_LARGE": 413,
    "URI_TOO_LONG": 414,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "INVALID_SIGNATURE": 400,
    "INVALID_REPORT": 422,
    "JOB_NOT_AVAILABLE": 409,
    "NO_CAPABLE_WORKER": 409,
    "KEY_IN_USE": 409,
    "CHALLENGE_INVALID": 400,
    "REPORT_REPLAYED": 409,
    "REPORT_EXPIRED": 422,
    "PART_CHECKSUM_MISMATCH": 400,
    "PRESIGNED_URL_EXPIRED": 403,
    "UPLOAD_ALREADY_COMPLETE": 409,
    "UPLOAD_INCOMPLETE": 409,
    "MULTIPART_NOT_SUPPORTED": 409,
    "BLOB_VERIFYING": 409,
    "ACCESS_REQUIRED": 403,
    "RELEASE_BLOCKED": 409,
    "REVIEW_LINK_INVALID": 404,
    "INTERNAL_ERROR": 500,
}


class ErrorBodySchema(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)
    details = fields.Dict(load_default=dict)


class ErrorEnvelopeSchema(Schema):
    error = fields.Nested(ErrorBodySchema, required=True)


def flatten_messages(messages, prefix: str = "") -> dict[str, list[str]]:
    """Turn marshmallow's nested error dict into ``{"claims[1].tolerance": [...]}``."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            if isinstance(key, int):
                path = f"{prefix}[{key}]"
            elif key == "_schema":
                path = prefix or "(file)"
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, (dict, list)) and not _is_leaf_list(value):
                flat.update(flatten_messages(value, path))
            else:
                flat.setdefault(path, []).extend(value if isinstance(value, list) else [str(value)])
    elif isinstance(messages, list):
        flat.setdefault(prefix or "(file)", []).extend(str(m) for m in messages)
    else:
        flat.setdefault(prefix or "(file)", []).append(str(messages))
    return flat


def _is_leaf_list(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)
