"""Read the flat `key: number` training config without a YAML dependency."""


def read(path: str) -> dict:
    values = {}
    with open(path) as handle:
        for line in handle:
            line = line.split("#", 1)[0].strip()
            if line:
                key, value = (part.strip() for part in line.split(":", 1))
                values[key] = float(value) if "." in value else int(value)
    return values
