"""YAML read with bounds, by regctl and by the registry alike.

A YAML anchor may be referenced any number of times, so a few hundred bytes can stand for gigabytes once the
references are expanded ("billion laughs"): the parsed value is small in memory, but turning it into JSON, storing
it or showing it on a page expands every reference. Merge keys (``<<: *a``) can grow a mapping the same way while
it is built. The loader here refuses documents nested too deeply as written, mappings that merging makes too large,
and values whose expansion has too many nodes, is nested too deeply or would be too long as JSON.
"""

import json

import yaml

MAX_DEPTH = 64
MAX_NODES = 100_000
MAX_JSON_BYTES = 2 << 20


class YamlTooLarge(yaml.YAMLError):
    """The document is well-formed but expands past the bounds."""


class _BoundedLoader(yaml.SafeLoader):
    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise YamlTooLarge(f"the document is nested deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def flatten_mapping(self, node):
        super().flatten_mapping(node)
        if len(node.value) > MAX_NODES:
            raise YamlTooLarge(f"merge keys (<<) make a mapping of more than {MAX_NODES} entries")


def load_bounded_yaml(text: str | bytes):
    """``yaml.safe_load`` that raises :class:`yaml.YAMLError` (:class:`YamlTooLarge` past the bounds) for every
    document it refuses, including values the safe constructor cannot build (an integer of 100,000 digits)."""
    loader = _BoundedLoader(text)
    try:
        data = loader.get_single_data()
    except (ValueError, TypeError, RecursionError) as err:
        raise yaml.YAMLError(f"cannot build a value: {err}") from None
    finally:
        loader.dispose()
    check_expanded_size(data)
    return data


def check_expanded_size(data, max_nodes: int = MAX_NODES, max_depth: int = MAX_DEPTH,
                        max_bytes: int = MAX_JSON_BYTES) -> None:
    """Walk ``data`` as JSON would write it (every shared reference expanded), stopping at the first bound it
    passes; a reference cycle never ends, so it passes the depth bound. The byte count is an estimate (no
    escapes); :func:`to_json_data` checks the exact length."""
    nodes = size = 0
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > max_nodes:
            raise YamlTooLarge(f"the document expands to more than {max_nodes} values (aliases?)")
        if depth > max_depth:
            raise YamlTooLarge(f"the document expands to more than {max_depth} levels of nesting (aliases?)")
        if isinstance(value, dict):
            size += 2 + 2 * len(value)
            for key, item in value.items():
                size += len(str(key)) + 2
                stack.append((item, depth + 1))
        elif isinstance(value, (list, tuple)):
            size += 2 + len(value)
            stack.extend((item, depth + 1) for item in value)
        else:
            size += len(str(value)) + 2
        if size > max_bytes:
            raise YamlTooLarge(f"the document expands to more than {max_bytes} bytes of JSON (aliases?)")


def to_json_data(data, max_bytes: int = MAX_JSON_BYTES):
    """JSON-compatible data (dates and other scalars become strings), refused past ``max_bytes`` of JSON."""
    check_expanded_size(data, max_bytes=max_bytes)
    try:
        text = json.dumps(data, default=str, allow_nan=False)
    except (TypeError, ValueError) as err:  # a date as a key; .nan or .inf, which JSON cannot hold
        raise yaml.YAMLError(f"cannot be written as JSON: {err}") from None
    if len(text.encode()) > max_bytes:
        raise YamlTooLarge(f"the document is more than {max_bytes} bytes as JSON")
    return json.loads(text)
