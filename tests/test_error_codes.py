"""One error model end to end: every server code is registered once and mapped by regctl."""

import re

from regctl.errors import SERVER_CODES, RegctlError
from reproreg.errors import RegistryError
from reproreg_schemas.errors import ERROR_CODES


def test_every_server_code_maps_to_a_regctl_exception():
    assert set(SERVER_CODES) == set(ERROR_CODES)
    for code, exception in SERVER_CODES.items():
        assert re.fullmatch(r"[A-Z][A-Z_]+", code)
        assert issubclass(exception, RegctlError) and exception.exit_code >= 2


def test_unregistered_codes_cannot_be_raised():
    import pytest

    with pytest.raises(ValueError):
        RegistryError("SOMETHING_NEW", "not registered")
