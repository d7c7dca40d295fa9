"""The evaluation spec: the command that computes the metrics from the files, and what it needs."""

import string

from marshmallow import ValidationError, fields, validate, validates

from reproreg_schemas.messages import Schema
from reproreg_schemas.names import validate_one_line
from reproreg_schemas.vocabulary import Accelerator, values

PLACEHOLDERS = ("files", "metrics", "seed")
REQUIRED_PLACEHOLDERS = ("files", "metrics")
MAX_TIMEOUT_S = 7 * 24 * 3600


def command_placeholders(command: str) -> set[str]:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(command) if name is not None}
    except ValueError as err:
        raise ValidationError(f"cannot read the placeholders of the command: {err}") from err


class EvaluationSpecSchema(Schema):
    #: shown to the verifier before it runs: no control or bidirectional characters can hide a part of it
    command = fields.String(required=True, validate=[validate.Length(min=1, max=4000), validate_one_line])
    accelerator = fields.String(load_default=Accelerator.CPU.value, validate=validate.OneOf(values(Accelerator)))
    timeout_s = fields.Integer(load_default=3600, strict=True, validate=validate.Range(min=1, max=MAX_TIMEOUT_S))
    memory_mb = fields.Integer(load_default=None, allow_none=True, strict=True, validate=validate.Range(min=16))

    @validates("command")
    def _placeholders(self, command: str, **kwargs):
        names = command_placeholders(command)
        unknown = sorted(names - set(PLACEHOLDERS))
        if unknown:
            raise ValidationError(
                f"unknown placeholder(s) {', '.join('{' + n + '}' for n in unknown)}; "
                "allowed: {files}, {metrics}, {seed}"
            )
        missing = [name for name in REQUIRED_PLACEHOLDERS if name not in names]
        if missing:
            raise ValidationError(
                f"the command must use {', '.join('{' + n + '}' for n in missing)}: "
                "{files} is the folder with the downloaded files, {metrics} the JSON file it writes"
            )
