"""Several clients publish the same new name@version at the same instant, over real HTTP to a server process.

Exactly one wins; every other one is told the version exists (409, or 200 when its content is identical),
never a 500, and the published version holds the winner's content.
"""

import threading

import pytest
import requests

from tests.e2e.conftest import live, storage  # noqa: F401  (the registry serving on each database backend)
from tests.registry.helpers import digest_of, manifest_for

CONTENDERS = 4
ROUNDS = 8


def _auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _upload(registry, headers: dict, data: bytes) -> None:
    state = requests.post(f"{registry.url}/api/v1/uploads", json={"digest": digest_of(data), "size": len(data)},
                          headers=headers, timeout=30).json()
    if not state["complete"]:
        done = requests.patch(f"{registry.url}/api/v1/uploads/{state['id']}", data=data,
                              headers={**headers, "Upload-Offset": str(state["offset"])}, timeout=30)
        assert done.status_code == 200, done.text


def _contender_files(index: int) -> dict[str, bytes]:
    return {"weights/model.safetensors": f"weights of contender {index}\n".encode() * 200,
            "eval.py": f"print('contender {index}')\n".encode()}


def _publish_at_once(registry, headers: dict, manifests: list[dict]) -> list[requests.Response]:
    """PUT every manifest from its own thread, all released by one barrier."""
    barrier = threading.Barrier(len(manifests))
    responses: list[requests.Response | None] = [None] * len(manifests)

    def contend(index: int) -> None:
        manifest = manifests[index]
        url = f"{registry.url}/api/v1/artifacts/{manifest['name']}/versions/{manifest['version']}"
        body = {"manifest": manifest, "release": {"visibility": "public"}}
        barrier.wait()
        responses[index] = requests.put(url, json=body, headers=headers, timeout=120)

    threads = [threading.Thread(target=contend, args=(index,)) for index in range(len(manifests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return responses


def _published_files(registry, headers: dict, name: str, version: str) -> tuple[str, dict[str, str]]:
    document = requests.get(f"{registry.url}/api/v1/artifacts/{name}/versions/{version}", headers=headers,
                            timeout=30).json()
    return document["digest"], {entry["path"]: entry["sha256"] for entry in document["manifest"]["files"]}


@pytest.mark.parametrize("new_artifact", [True, False], ids=["new-artifact", "existing-artifact"])
def test_simultaneous_pushes_of_one_version_with_other_content_have_one_winner(live, new_artifact):  # noqa: F811
    headers = _auth(live.create_user("alice"))
    contents = [_contender_files(index) for index in range(CONTENDERS)]
    for files in contents:
        for data in files.values():
            _upload(live, headers, data)
    if not new_artifact:
        first = manifest_for(contents[0], name="alice/race", version="0.0.1")
        assert requests.put(f"{live.url}/api/v1/artifacts/alice/race/versions/0.0.1", headers=headers, timeout=30,
                            json={"manifest": first, "release": {"visibility": "public"}}).status_code == 201

    for round_ in range(ROUNDS):
        name = f"alice/race-{round_}" if new_artifact else "alice/race"
        version = f"1.0.{round_}"
        responses = _publish_at_once(live, headers, [manifest_for(files, name=name, version=version)
                                                     for files in contents])
        statuses = [response.status_code for response in responses]
        assert statuses.count(201) == 1, [(r.status_code, r.text[:300]) for r in responses]
        losers = [response for response in responses if response.status_code != 201]
        assert all(response.status_code == 409 for response in losers), [(r.status_code, r.text[:300])
                                                                         for r in losers]
        assert {response.json()["error"]["code"] for response in losers} == {"VERSION_EXISTS"}

        winner = statuses.index(201)
        digest, files = _published_files(live, headers, name, version)
        assert digest == responses[winner].json()["digest"]
        assert files == {path: digest_of(data) for path, data in contents[winner].items()}


def test_simultaneous_pushes_of_identical_content_all_succeed_once(live):  # noqa: F811
    headers = _auth(live.create_user("alice"))
    files = _contender_files(0)
    for data in files.values():
        _upload(live, headers, data)
    for round_ in range(ROUNDS // 2):
        manifest = manifest_for(files, name=f"alice/same-{round_}", version="1.0.0")
        responses = _publish_at_once(live, headers, [manifest] * CONTENDERS)
        statuses = sorted(response.status_code for response in responses)
        assert statuses == [200] * (CONTENDERS - 1) + [201], [(r.status_code, r.text[:300]) for r in responses]
        assert len({response.json()["digest"] for response in responses}) == 1
