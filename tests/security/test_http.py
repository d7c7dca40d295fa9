"""The HTTP surface as a scanner sees it: the OpenAPI document promises the error envelope the API really sends,
every 405 names the allowed methods, and an over-long address gets a 414 in the envelope, also from the
development server itself (over a real socket to `registry serve`)."""

import re

import pytest
import requests

from tests.e2e.conftest import live, storage  # noqa: F401  (the registry serving on each database backend)

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def _ref(spec: dict, ref: str) -> dict:
    node = spec
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def _deref(spec: dict, node: dict) -> dict:
    while "$ref" in node:
        node = _ref(spec, node["$ref"])
    return node


def _operations(spec: dict):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def test_every_documented_error_response_is_the_error_envelope(http):
    spec = http.get("/api/v1/openapi.json").json
    checked = 0
    for path, method, operation in _operations(spec):
        errors = {status: response for status, response in operation["responses"].items()
                  if status == "default" or int(status) >= 400}
        assert "default" in errors, (method, path)
        for status, response in errors.items():
            schema = _deref(spec, _deref(spec, response)["content"]["application/json"]["schema"])
            assert list(schema["properties"]) == ["error"] and schema["required"] == ["error"], (method, path, status)
            body = _deref(spec, schema["properties"]["error"])
            assert {"code", "message", "details"} <= set(body["properties"]), (method, path, status)
            assert set(body["required"]) == {"code", "message"}, (method, path, status)
            checked += 1
    assert checked >= 20


def test_the_documented_envelope_is_what_the_api_answers(http, make_user):
    _, alice = make_user("alice")
    answers = [http.get("/api/v1/artifacts/nobody/nothing"), http.post("/api/v1/uploads", json={}, headers=alice),
               http.get("/api/v1/whoami"), http.delete("/api/v1/whoami")]
    assert [answer.status_code for answer in answers] == [404, 422, 401, 405]
    for answer in answers:
        assert set(answer.json) == {"error"} and {"code", "message", "details"} == set(answer.json["error"])


def _allowed(response) -> set[str]:
    return {method.strip() for method in response.headers.get("Allow", "").split(",") if method.strip()}


def test_every_405_of_the_api_names_exactly_the_documented_methods(http, make_user):
    _, alice = make_user("alice")
    spec = http.get("/api/v1/openapi.json").json
    for path, item in spec["paths"].items():
        concrete = re.sub(r"\{[^}]+\}", "x", path)
        documented = {method.upper() for method in item if method in HTTP_METHODS}
        expected = documented | {"OPTIONS"} | ({"HEAD"} if "GET" in documented else set())
        for method in sorted({"TRACE", "GET", "PUT", "POST", "DELETE", "PATCH"} - documented):
            response = http.open(concrete, method=method, headers=alice)
            assert response.status_code == 405, (method, path, response.status_code)
            assert _allowed(response) == expected, (method, path, response.headers.get("Allow"))
            assert response.json["error"]["code"] == "METHOD_NOT_ALLOWED"
        assert _allowed(http.options(concrete, headers=alice)) == expected, path


@pytest.mark.parametrize("method, path", [("POST", "/"), ("DELETE", "/alice/resnet"), ("PUT", "/alice/resnet/1.0.0"),
                                          ("TRACE", "/venues/neurips-2026"), ("POST", "/badges/alice/resnet.svg")])
def test_every_405_of_the_pages_names_the_allowed_methods(http, method, path):
    response = http.open(path, method=method)
    assert response.status_code == 405
    assert _allowed(response) == {"GET", "HEAD", "OPTIONS"}
    assert response.mimetype == "text/html"


@pytest.mark.parametrize("length", [10_000, 100_000])
def test_a_very_long_api_address_gets_414_in_the_envelope(live, length):  # noqa: F811
    response = requests.get(f"{live.url}/api/v1/artifacts/alice/{'a' * length}", timeout=30)
    assert response.status_code == 414
    assert response.headers["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == "URI_TOO_LONG" and "4000" in error["message"]
    assert requests.get(f"{live.url}/api/v1/openapi.json", timeout=30).status_code == 200  # still serving


def test_a_long_query_string_counts_too(live):  # noqa: F811
    response = requests.get(f"{live.url}/api/v1/whoami", params={"q": "x" * 5000}, timeout=30)
    assert response.status_code == 414 and response.json()["error"]["code"] == "URI_TOO_LONG"
    assert requests.get(f"{live.url}/api/v1/whoami", params={"q": "x" * 3000}, timeout=30).status_code == 401


@pytest.mark.parametrize("length", [10_000, 100_000])
def test_a_very_long_page_address_gets_an_html_414(live, length):  # noqa: F811
    response = requests.get(f"{live.url}/alice/{'a' * length}", timeout=30)
    assert response.status_code == 414
    assert response.headers["Content-Type"].startswith("text/html")
