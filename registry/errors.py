"""The registry's one exception type; rendered by one handler as the JSON error envelope."""

from reproreg_schemas.errors import ERROR_CODES


class RegistryError(Exception):
    #: a refusal that keeps the work done before it (the edge commits it): e.g. an upload whose bytes did not
    #: match is discarded, and stays discarded
    keeps_changes = False

    def __init__(self, code: str, message: str, **details):
        if code not in ERROR_CODES:
            raise ValueError(f"unregistered error code {code}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def keeping_changes(self) -> "RegistryError":
        self.keeps_changes = True
        return self

    @property
    def status(self) -> int:
        return ERROR_CODES[self.code]

    def to_dict(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}
