"""The environment a worker's evaluations start from: its own Python environment first."""

import os
import sys
from collections.abc import Mapping


def evaluation_environment(base: Mapping[str, str], executable: str | None = None,
                           prefix: str | None = None, base_prefix: str | None = None) -> dict[str, str]:
    """A copy of ``base`` in which the Python environment running the worker (``executable``, by default this
    interpreter) comes first on PATH and, when it is a virtualenv, is named by VIRTUAL_ENV. ``base`` is never
    changed."""
    executable = executable or sys.executable
    prefix = sys.prefix if prefix is None else prefix
    base_prefix = sys.base_prefix if base_prefix is None else base_prefix
    env = dict(base)
    bin_dir = os.path.dirname(executable)
    path = env.get("PATH", "")
    if path.split(os.pathsep)[0] != bin_dir:
        env["PATH"] = os.pathsep.join([bin_dir, path]) if path else bin_dir
    if prefix != base_prefix:
        env["VIRTUAL_ENV"] = prefix
    return env
