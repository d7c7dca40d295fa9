"""Progress bars on stderr (tqdm); silent when stderr is not a terminal or output is JSON."""

import sys
from contextlib import contextmanager

from tqdm import tqdm


@contextmanager
def progress_bar(description: str, total: int, enabled: bool = True):
    """Yield a callable that advances the bar by a number of bytes."""
    show = enabled and sys.stderr.isatty()
    bar = tqdm(total=total, desc=description, unit="B", unit_scale=True, unit_divisor=1024, disable=not show,
               file=sys.stderr, leave=False, dynamic_ncols=True)
    try:
        yield bar.update
    finally:
        bar.close()
