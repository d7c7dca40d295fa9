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


def _wire_schemas() -> list[type]:
    import importlib
    import pkgutil

    import marshmallow

    import reproreg_schemas

    found = {}
    for info in pkgutil.iter_modules(reproreg_schemas.__path__):
        module = importlib.import_module(f"reproreg_schemas.{info.name}")
        for value in vars(module).values():
            ours = isinstance(value, type) and value.__module__.startswith("reproreg_schemas.")
            if ours and issubclass(value, marshmallow.Schema) and value.__module__ != "reproreg_schemas.messages":
                found[f"{value.__module__}.{value.__name__}"] = value
    return [found[key] for key in sorted(found)]


def test_every_schema_of_the_wire_contract_answers_in_the_registrys_words():
    """Each schema derives from the shared base, so a refusal never reads "Not a valid string." or "Unknown
    field." (marshmallow's defaults), on the API or in regctl."""
    from reproreg_schemas.messages import Schema

    schemas = _wire_schemas()
    assert len(schemas) > 20
    assert [cls.__name__ for cls in schemas if not issubclass(cls, Schema)] == []


def test_wrong_documents_are_refused_without_the_librarys_default_messages():
    from marshmallow import ValidationError

    from reproreg_schemas.errors import flatten_messages
    from reproreg_schemas.messages import LIBRARY_DEFAULTS

    for cls in _wire_schemas():
        schema = cls()
        wrong_types = {name: [[None]] for name, field in schema.load_fields.items()}
        for document in ({"surely_not_a_field": 1}, [], wrong_types, {name: None for name in schema.load_fields}):
            try:
                schema.load(document)
            except ValidationError as err:
                said = [message for messages in flatten_messages(err.messages).values() for message in messages]
                assert not [m for m in said if m in LIBRARY_DEFAULTS or m.startswith(("Not a valid", "Must be",
                                                                                      "Shorter than", "Longer than",
                                                                                      "Length must"))], \
                    (cls.__name__, document, said)


def test_every_exit_code_is_documented_where_regctl_explains_itself():
    from regctl import cli, errors

    codes = {name: value for name, value in vars(errors).items() if name.startswith("EXIT_")}
    assert sorted(codes.values()) == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 130]
    for value in codes.values():
        assert f" {value} " in cli.__doc__.replace(";", " ") and f"{value} " in cli.EPILOG, value
    assert errors.Interrupted("stopped").exit_code == 130
