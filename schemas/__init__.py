"""The wire contract shared by the registry and regctl (pure marshmallow; imports neither side)."""
