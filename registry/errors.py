"""The registry's one exception type; rendered by one handler as the JSON error envelope."""

from reproreg_schemas.errors import ERROR_CODES


class RegistryError(Exception):
    def __init__(self, code: str, message: str, **details):
        if code not in ERROR_CODES:
            raise ValueError(f"unregistered error code {code}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    @property
    def status(self) -> int:
        return ERROR_CODES[self.code]

    def to_dict(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


def not_found(what: str) -> RegistryError:
    return RegistryError("NOT_FOUND", f"{what} was not found")
