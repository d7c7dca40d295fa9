"""Venues and their committees on the wire."""

from marshmallow import fields, validate

from reproreg_schemas.messages import Schema
from reproreg_schemas.vocabulary import VenueRole, values


class MemberSchema(Schema):
    user = fields.String(required=True)
    role = fields.String(load_default=VenueRole.REVIEWER.value, validate=validate.OneOf(values(VenueRole)))


class VenueSchema(Schema):
    slug = fields.String()
    title = fields.String()
    members = fields.List(fields.Nested(MemberSchema))
    entries = fields.List(fields.Dict())
