"""regctl's exceptions and exit codes, and the one table that maps the registry's error codes onto them.

Exit codes: 0 success; 1 a claim did not hold; 2 integrity failure (hash or size mismatch);
3 the evaluation failed; 4 usage or invalid input; 5 cannot reach the registry; 6 not authorised;
7 not found; 8 conflict (e.g. the version exists with other content); 9 the registry failed (or regctl
itself did, unexpectedly); 130 interrupted (Ctrl-C).
"""

EXIT_OK = 0
EXIT_CLAIM_FAILED = 1
EXIT_INTEGRITY = 2
EXIT_EVALUATION_FAILED = 3
EXIT_USAGE = 4
EXIT_CONNECTION = 5
EXIT_AUTH = 6
EXIT_NOT_FOUND = 7
EXIT_CONFLICT = 8
EXIT_SERVER = 9
#: 128 + SIGINT, as shells report a program ended by Ctrl-C
EXIT_INTERRUPTED = 130


class RegctlError(Exception):
    exit_code = EXIT_USAGE

    def __init__(self, message: str, code: str | None = None, details: dict | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or type(self).__name__
        self.details = details or {}


class UsageError(RegctlError):
    exit_code = EXIT_USAGE


class InvalidProjectError(UsageError):
    """regctl.yaml (or what it names) is invalid; ``details["problems"]`` lists every problem by field path."""


class IntegrityError(RegctlError):
    exit_code = EXIT_INTEGRITY


class EvaluationFailed(RegctlError):
    exit_code = EXIT_EVALUATION_FAILED


class ConnectionFailed(RegctlError):
    exit_code = EXIT_CONNECTION


class AuthError(RegctlError):
    exit_code = EXIT_AUTH


class NotFound(RegctlError):
    exit_code = EXIT_NOT_FOUND


class Conflict(RegctlError):
    exit_code = EXIT_CONFLICT


class ServerError(RegctlError):
    exit_code = EXIT_SERVER


class Interrupted(RegctlError):
    """Ctrl-C: the command stopped where it was; what it had not finished is not visible (run it again)."""

    exit_code = EXIT_INTERRUPTED


class InsufficientScope(AuthError):
    """The token lacks the scope the request needs; ``details["needed"]`` names it, and so does the message."""

    def __init__(self, message: str, code: str | None = None, details: dict | None = None):
        needed = (details or {}).get("needed")
        if needed and needed not in message:
            message = f"{message} (the scope needed is {needed})"
        super().__init__(message, code=code, details=details)


class TokenExpired(AuthError):
    """The token has expired: create a new one and log in with it."""


class UploadOffsetMismatch(Conflict):
    """The registry holds a different number of bytes of an upload than we assumed; resume from its offset."""


#: the registry's error code -> the exception regctl raises for it
SERVER_CODES: dict[str, type[RegctlError]] = {
    "BAD_REQUEST": UsageError,
    "VALIDATION_ERROR": UsageError,
    "INVALID_MANIFEST": UsageError,
    "INVALID_TRAINING_CONFIG": UsageError,
    "INVALID_DIGEST": UsageError,
    "INVALID_RANGE": IntegrityError,
    "TOKEN_IN_URL": UsageError,
    "UNAUTHORIZED": AuthError,
    "TOKEN_EXPIRED": TokenExpired,
    "INSUFFICIENT_SCOPE": InsufficientScope,
    "FORBIDDEN": AuthError,
    "NOT_FOUND": NotFound,
    "METHOD_NOT_ALLOWED": UsageError,
    "VERSION_EXISTS": Conflict,
    "NAME_TAKEN": Conflict,
    "UPLOAD_OFFSET_MISMATCH": UploadOffsetMismatch,
    "BLOB_UNKNOWN": IntegrityError,
    "BLOB_SIZE_MISMATCH": IntegrityError,
    "DIGEST_MISMATCH": IntegrityError,
    "SIZE_MISMATCH": IntegrityError,
    "PAYLOAD_TOO_LARGE": UsageError,
    "URI_TOO_LONG": UsageError,
    "UNSUPPORTED_MEDIA_TYPE": UsageError,
    "INVALID_SIGNATURE": IntegrityError,
    "INVALID_REPORT": UsageError,
    "JOB_NOT_AVAILABLE": Conflict,
    "NO_CAPABLE_WORKER": Conflict,
    "KEY_IN_USE": Conflict,
    "CHALLENGE_INVALID": UsageError,
    "REPORT_REPLAYED": Conflict,
    "REPORT_EXPIRED": UsageError,
    "PART_CHECKSUM_MISMATCH": IntegrityError,
    "PRESIGNED_URL_EXPIRED": Conflict,
    "UPLOAD_ALREADY_COMPLETE": Conflict,
    "UPLOAD_INCOMPLETE": Conflict,
    "MULTIPART_NOT_SUPPORTED": Conflict,
    "BLOB_VERIFYING": Conflict,
    "ACCESS_REQUIRED": AuthError,
    "RELEASE_BLOCKED": Conflict,
    "REVIEW_LINK_INVALID": NotFound,
    "INTERNAL_ERROR": ServerError,
}


def from_server(code: str, message: str, details: dict | None) -> RegctlError:
    return SERVER_CODES.get(code, ServerError)(message, code=code, details=details)
