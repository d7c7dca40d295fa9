"""Quantities as people read them, the same on the registry's pages and in regctl's output."""

SIZE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def human_size(size: int) -> str:
    """A byte count in binary units: ``512 B``, ``1.5 KiB``, ``3.0 GiB``; TiB is the largest."""
    value = float(size)
    for unit in SIZE_UNITS[:-1]:
        if value < 1024:
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} {SIZE_UNITS[-1]}"


def exact_number(value) -> str:
    """A number written so that it reads back as the same number: the shortest text that round-trips (Python's
    ``repr``), and whole numbers without ``.0``. ``22713727`` and ``22713728`` stay apart, ``0.1 + 0.2`` shows as
    ``0.30000000000000004``; never rounded to a few significant digits. Anything else (None, text) as ``str``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "-" if value is None else str(value)
    if isinstance(value, int):
        return str(value)
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)
