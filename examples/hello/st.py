"""A minimal reader and writer of the safetensors format (F64 tensors), using only the standard library."""

import json
import struct


def save(tensors: dict[str, list[float]], path: str) -> None:
    header, offset, payload = {}, 0, b""
    for name, values in sorted(tensors.items()):
        data = struct.pack(f"<{len(values)}d", *values)
        header[name] = {"dtype": "F64", "shape": [len(values)], "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        payload += data
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)
    with open(path, "wb") as handle:
        handle.write(struct.pack("<Q", len(encoded)) + encoded + payload)


def load(path: str) -> dict[str, list[float]]:
    with open(path, "rb") as handle:
        (length,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(length))
        payload = handle.read()
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F64":
            raise ValueError(f"{name}: only F64 tensors are supported")
        start, end = info["data_offsets"]
        tensors[name] = list(struct.unpack(f"<{(end - start) // 8}d", payload[start:end]))
    return tensors
