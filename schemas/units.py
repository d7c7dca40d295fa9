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
