"""The registry served over HTTP in this process, for the reference worker to talk to as it does in production."""

import shutil
import threading

import pytest
from werkzeug.serving import make_server

from regctl.api import ApiClient
from regctl.commands import push
from reproreg.services.auth import create_token, create_user
from reproreg.unit_of_work import unit_of_work
from tests.factories import METRIC_SCRIPT, make_eval_project

#: an evaluation that shows, in its output, the environment it was started with
SHOW_ENVIRONMENT = """import os
print("PATH=" + os.environ.get("PATH", ""))
print("VIRTUAL_ENV=" + os.environ.get("VIRTUAL_ENV", ""))
metrics = {"acc": 1.0}"""


@pytest.fixture
def database_url(migrated_sqlite, tmp_path) -> str:
    """The worker only speaks HTTP: one database backend is enough here."""
    path = tmp_path / "registry.db"
    shutil.copy(migrated_sqlite, path)
    return f"sqlite:///{path}"


@pytest.fixture
def served(app):
    """The registry's address; no executor is attached, so jobs wait until a worker leases them."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(10)


@pytest.fixture
def account(app):
    """``account(name, worker=False)`` creates a user and returns a token of it."""

    def make(name: str, worker: bool = False) -> str:
        with unit_of_work(app.extensions["registry"].sessions) as session:
            user = create_user(session, name, is_worker=worker)
            _, secret = create_token(session, user)
        return secret

    return make


@pytest.fixture
def author(served, account, tmp_path) -> ApiClient:
    """The author of demo/env (version 1.0.0), whose evaluation prints its PATH and VIRTUAL_ENV."""
    api = ApiClient(served, account("demo"))
    project = make_eval_project(tmp_path / "project", "demo/env", METRIC_SCRIPT.format(body=SHOW_ENVIRONMENT),
                                [{"metric": "acc", "value": 1.0, "dataset": "x/test", "tolerance": {"abs": 0}}])
    push(api, project, show_progress=False)
    return api
