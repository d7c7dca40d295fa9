"""The registry's words for what a schema refuses, set once for every schema.

Every schema of the wire contract derives from :class:`Schema` below instead of ``marshmallow.Schema``: an
unknown key, a missing field, a value of the wrong type or out of range is then described the same way by the
registry's API and by regctl (``claims[0].value: must be a number``), never in the validation library's own
defaults ("Not a valid string.", "Missing data for required field.", "Unknown field."). A message a field or a
validator states itself (``error=...``, ``error_messages=...``, a ``ValidationError`` raised by a rule) is kept.
"""

import marshmallow
from marshmallow import fields, validate

#: the message for each error key of a field, by the kind of field (the first kind that matches wins)
_FIELD_MESSAGES: tuple[tuple[type, dict[str, str]], ...] = (
    (fields.Url, {"invalid": "must be a URL such as https://example.org/paper"}),
    (fields.Email, {"invalid": "must be an e-mail address"}),
    (fields.String, {"invalid": "must be text (a string)", "invalid_utf8": "must be text in UTF-8"}),
    (fields.Boolean, {"invalid": "must be true or false"}),
    (fields.Integer, {"invalid": "must be a whole number", "too_large": "is too large"}),
    (fields.Float, {"invalid": "must be a number", "too_large": "is too large",
                    "special": "must be a finite number (not NaN or infinity)"}),
    (fields.Number, {"invalid": "must be a number", "too_large": "is too large",
                     "special": "must be a finite number (not NaN or infinity)"}),
    (fields.DateTime, {"invalid": "must be a date and time such as 2026-05-01T12:00:00Z",
                       "invalid_awareness": "must be a date and time with its UTC offset, such as "
                                            "2026-05-01T12:00:00Z",
                       "format": "cannot be written as a date and time"}),
    (fields.Date, {"invalid": "must be a date such as 2026-05-01", "format": "cannot be written as a date"}),
    (fields.List, {"invalid": "must be a list"}),
    (fields.Tuple, {"invalid": "must be a list"}),
    (fields.Mapping, {"invalid": "must be a mapping of keys to values"}),
    (fields.Nested, {"type": "must be a mapping of keys to values"}),
    (fields.UUID, {"invalid_uuid": "must be a UUID"}),
)
#: what every field may say, whatever its kind
_COMMON_MESSAGES = {
    "required": "is required",
    "null": "must have a value (null is not allowed here)",
    "validator_failed": "is not valid",
}
#: the schema's own: a key no field reads, and a document that is not a mapping at all
SCHEMA_MESSAGES = {
    "unknown": "is not a field the registry knows; check its spelling and where it is nested",
    "type": "must be a mapping of keys to values",
}


def _library_defaults(field: fields.Field) -> dict[str, str]:
    """The messages the validation library itself gives this kind of field (not those of the registry's own field
    classes, which already speak its words)."""
    defaults: dict[str, str] = {}
    for cls in reversed(type(field).__mro__):
        if cls.__module__.startswith("marshmallow"):
            defaults.update(getattr(cls, "default_error_messages", {}))
    return defaults


def _registry_messages(field: fields.Field) -> dict[str, str]:
    messages = dict(_COMMON_MESSAGES)
    for kind, kind_messages in _FIELD_MESSAGES:
        if isinstance(field, kind):
            messages.update(kind_messages)
            break
    return messages


def _reword_validator(validator, field: fields.Field) -> None:
    """Give a library validator without a message of its own the registry's words (the validator is this schema
    instance's copy: marshmallow copies its declared fields for each instance)."""
    if isinstance(validator, validate.Length) and validator.error is None:
        unit = "items" if isinstance(field, (fields.List, fields.Tuple, fields.Mapping)) else "characters"
        validator.message_min = "must not be empty" if validator.min == 1 else f"must have at least {{min}} {unit}"
        validator.message_max = f"must have at most {{max}} {unit}"
        validator.message_all = f"must have {{min}} to {{max}} {unit}"
        validator.message_equal = f"must have exactly {{equal}} {unit}"
    elif isinstance(validator, validate.Range) and validator.error is None:
        at_least = "at least" if validator.min_inclusive else "more than"
        at_most = "at most" if validator.max_inclusive else "less than"
        validator.message_min = f"must be {at_least} {{min}}"
        validator.message_max = f"must be {at_most} {{max}}"
        validator.message_all = f"must be {at_least} {{min}} and {at_most} {{max}}"
    elif isinstance(validator, validate.OneOf) and validator.error == validate.OneOf.default_message:
        validator.error = "must be one of {choices}"
    elif isinstance(validator, validate.Equal) and validator.error == validate.Equal.default_message:
        validator.error = "must be {other}"
    elif isinstance(validator, validate.Regexp) and validator.error == validate.Regexp.default_message:
        validator.error = "is not in the expected form"
    elif isinstance(validator, validate.URL) and validator.error == validate.URL.default_message:
        validator.error = "must be a URL such as https://example.org/paper"


def reword(field: fields.Field) -> None:
    """Put the registry's words into ``field`` and the fields inside it (a list's items, a mapping's keys and
    values), where it still says what the library says by default."""
    defaults = _library_defaults(field)
    for key, message in _registry_messages(field).items():
        if key in field.error_messages and field.error_messages[key] == defaults.get(key):
            field.error_messages[key] = message
    for validator in field.validators:
        _reword_validator(validator, field)
    inner = [getattr(field, "inner", None), getattr(field, "key_field", None), getattr(field, "value_field", None),
             *getattr(field, "tuple_fields", ())]
    for item in inner:
        if isinstance(item, fields.Field):
            reword(item)


class Schema(marshmallow.Schema):
    """The base of every schema of the wire contract: refusals in the registry's words (see the module)."""

    error_messages = SCHEMA_MESSAGES

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        super().on_bind_field(field_name, field_obj)
        reword(field_obj)


#: marshmallow's own default messages, which no answer of the registry should carry (the tests check them)
LIBRARY_DEFAULTS: frozenset[str] = frozenset(
    {message for cls in vars(fields).values() if isinstance(cls, type) and issubclass(cls, fields.Field)
     for message in getattr(cls, "default_error_messages", {}).values()}
    | set(marshmallow.Schema._default_error_messages.values())
)
