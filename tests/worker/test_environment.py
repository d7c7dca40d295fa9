"""What a worker's evaluations start from: a copy of what it was given, its own Python first."""

import os
import sys

from reproreg_worker.environment import evaluation_environment


def test_the_workers_python_comes_first_and_names_its_virtualenv_without_changing_what_it_was_given():
    given = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    env = evaluation_environment(given, executable="/opt/venv/bin/python", prefix="/opt/venv", base_prefix="/usr")
    assert env == {"PATH": "/opt/venv/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "VIRTUAL_ENV": "/opt/venv"}
    assert given == {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


def test_a_path_that_already_starts_with_it_is_kept_and_a_system_python_names_no_virtualenv():
    env = evaluation_environment({"PATH": "/usr/bin:/bin"}, executable="/usr/bin/python3", prefix="/usr",
                                 base_prefix="/usr")
    assert env == {"PATH": "/usr/bin:/bin"}
    assert evaluation_environment({}, executable="/usr/bin/python3", prefix="/usr", base_prefix="/usr") == {
        "PATH": "/usr/bin"}


def test_by_default_it_is_this_interpreters_environment_and_os_environ_is_left_alone():
    before = dict(os.environ)
    env = evaluation_environment(os.environ)
    assert env["PATH"].split(os.pathsep)[0] == os.path.dirname(sys.executable)
    assert dict(os.environ) == before
