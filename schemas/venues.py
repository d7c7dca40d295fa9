"""Venues and their committees on the wire."""

from marshmallow import Schema, fields, validate


class MemberSchema(Schema):
    user = fields.String(required=True)
    role = fields.String(load_default="reviewer", validate=validate.OneOf(["chair", "reviewer"]))


class VenueSchema(Schema):
    slug = fields.String()
    title = fields.String()
    members = fields.List(fields.Nested(MemberSchema))
    entries = fields.List(fields.Dict())
