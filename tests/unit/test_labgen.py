"""The labs ApplicationSet's lab files generator: each file read alone, as preflight reads it.

python -m pytest tests/unit/test_labgen.py -q
"""

from __future__ import annotations

import json
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from biogitops.platform import labgen
from biogitops.render.argocd_manifests import LAB_FILES_PORT

LABS = "clusters/dev/labs"
REQUEST = labgen.Request("file:///x", "snapshot", LABS, ("nextflow", "galaxy", "spark"))
GOOD = b'name: genomics\nowners: g-admins\nmembers: g\nquota: {cpu: "2", memory: 1Gi, storage: 1Gi}\napps: {}\n'


def test_a_good_file_is_handed_over_whole_with_its_path() -> None:
    [params] = labgen.lab_params({"genomics.yaml": GOOD}, REQUEST)
    assert params["refused"] == ""
    assert params["lab"]["quota"]["cpu"] == "2" and params["lab"]["name"] == "genomics"
    assert params["path"]["filename"] == "genomics.yaml" and params["path"]["path"] == LABS


@pytest.mark.parametrize(
    ("content", "rule", "line"),
    [
        (b"name: x\nquota: {cpu: '1', memory: 1Gi\n", "lab-yaml", "line 3"),
        (b"\tname: x\n", "lab-yaml", "line 1"),
        (b"name: &n x\nowners: *n\n", "yaml-anchor", "line 1"),
        (b"name: x\n<<: {quota: {gpu: 64000}}\n", "yaml-merge-key", "line 2"),
        (b"name: x\nname: y\n", "yaml-duplicate-key", "line 2"),
        (b"name: !!str x\n", "yaml-tag", "line 1"),
        (b"- name: x\n", "lab-yaml", "<file>"),
        (b"", "lab-yaml", "<file>"),
        (b"name: \xff\xfe\n", "lab-yaml", "<file>"),
    ],
    ids=[
        "not-yaml-stopped-every-lab",
        "tab-indent",
        "anchor-hides-a-value",
        "merge-key-read-differently-by-go-yaml",
        "duplicate-key",
        "explicit-tag",
        "a-list-not-a-lab",
        "empty-file",
        "not-utf8",
    ],
)
def test_a_file_preflight_refuses_becomes_a_refused_lab_and_the_others_stay(
    content: bytes, rule: str, line: str
) -> None:
    """The refused file is still a parameter set (its own Application shows why); the good file
    beside it is untouched."""
    out = labgen.lab_params({"genomics.yaml": GOOD, "broken.yaml": content}, REQUEST)
    by_name = {p["path"]["filename"]: p for p in out}
    assert by_name["genomics.yaml"]["refused"] == "" and by_name["genomics.yaml"]["lab"]["name"] == "genomics"
    broken = by_name["broken.yaml"]
    assert broken["lab"] == {}
    assert broken["refused"].startswith(f"{LABS}/broken.yaml: {line}: "), broken["refused"]
    assert broken["refused"].endswith(f"(rule {rule})"), broken["refused"]


@pytest.mark.parametrize(
    "name",
    ["genomics-nextflow.yaml", "genomics-spark.yaml", "genomics-galaxy.yaml", "README.md", "notes.yml"],
    ids=["takes-over-nextflow-child", "takes-over-spark-child", "takes-over-galaxy-child", "not-yaml-name", "yml"],
)
def test_files_named_like_a_child_app_or_not_yaml_are_not_read(name: str) -> None:
    out = labgen.lab_params({"genomics.yaml": GOOD, name: b"name: x\n"}, REQUEST)
    assert [p["path"]["filename"] for p in out] == ["genomics.yaml"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"revision": "snapshot", "labsDir": LABS}, "repoURL"),
        ({"repoURL": "file:///x", "revision": "snapshot", "labsDir": "clusters/dev"}, "labsDir"),
        ({"repoURL": "file:///x", "revision": "snapshot", "labsDir": "../../etc/labs"}, "labsDir"),
        ({"repoURL": "--upload-pack=sh", "revision": "snapshot", "labsDir": LABS}, "repoURL"),
        ({"repoURL": "file:///x", "revision": "s", "labsDir": LABS, "excludeSuffixes": "a b"}, "excludeSuffixes"),
    ],
    ids=["no-repo", "not-a-labs-folder", "path-traversal", "option-as-url", "bad-suffix"],
)
def test_a_request_outside_the_labs_folder_is_refused_naming_the_field(params: dict, field: str) -> None:
    with pytest.raises(labgen.RequestError) as refused:
        labgen.Request.parse({"input": {"parameters": params}})
    assert field in str(refused.value)


# ------------------------------------------------------------------ git and HTTP, end to end


def _git(repo: Path, *args: str) -> str:
    ident = ["-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    return subprocess.run(["git", "-C", str(repo), *ident, *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / LABS).mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "snapshot")
    (repo / LABS / "genomics.yaml").write_bytes(GOOD)
    (repo / LABS / "nested").mkdir()
    (repo / LABS / "nested" / "deep.yaml").write_bytes(b"name: deep\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "one lab")
    return repo


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    token = {"value": "t0ken"}
    generator = labgen.Generator(labgen.GitReader(tmp_path / "cache"), lambda: token["value"])
    server = ThreadingHTTPServer(("127.0.0.1", 0), labgen.handler(generator))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", token
    finally:
        server.shutdown()


def _post(url: str, body: dict, token: str | None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    request = urllib.request.Request(url + labgen.PATH, json.dumps(body).encode(), headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def _body(repo: Path, revision: str = "snapshot") -> dict:
    params = {"repoURL": f"file://{repo}", "revision": revision, "labsDir": LABS, "excludeSuffixes": "nextflow"}
    return {"applicationSetName": "labs", "input": {"parameters": params}}


def test_argo_cd_gets_every_lab_at_the_tracked_revision_and_a_new_commit_at_once(
    repo: Path, served: tuple[str, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(labgen, "FETCH_REUSE_S", 0.0)
    url, token = served
    status, reply = _post(url, _body(repo), token["value"])
    assert status == 200, reply
    assert [p["path"]["filename"] for p in reply["output"]["parameters"]] == ["genomics.yaml"], (
        "nested files are not labs"
    )
    first = _git(repo, "rev-parse", "HEAD").strip()
    (repo / LABS / "zzz.yaml").write_text("name: [\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "a broken lab")
    status, reply = _post(url, _body(repo), token["value"])
    by_name = {p["path"]["filename"]: p for p in reply["output"]["parameters"]}
    assert status == 200 and set(by_name) == {"genomics.yaml", "zzz.yaml"}
    assert by_name["zzz.yaml"]["refused"].endswith("(rule lab-yaml)")
    assert by_name["genomics.yaml"]["lab"]["name"] == "genomics"
    # a pinned commit (staging, prod) reads that commit, not the branch
    status, reply = _post(url, _body(repo, first), token["value"])
    assert status == 200 and [p["path"]["filename"] for p in reply["output"]["parameters"]] == ["genomics.yaml"]


@pytest.mark.parametrize("sent", [None, "wrong", "t0ken-and-more"], ids=["no-token", "wrong-token", "token-prefix"])
def test_a_caller_without_the_token_gets_nothing(repo: Path, served: tuple[str, dict[str, str]], sent: str) -> None:
    url, _ = served
    status, reply = _post(url, _body(repo), sent)
    assert status == 401 and "output" not in reply


def test_a_new_token_counts_without_a_restart(repo: Path, served: tuple[str, dict[str, str]]) -> None:
    url, token = served
    token["value"] = "rotated"
    assert _post(url, _body(repo), "t0ken")[0] == 401
    assert _post(url, _body(repo), "rotated")[0] == 200


def test_an_unreadable_repository_is_an_error_not_an_empty_list(
    tmp_path: Path, served: tuple[str, dict[str, str]]
) -> None:
    """An empty answer would make Argo CD delete every lab's Application; an error keeps them."""
    url, token = served
    status, reply = _post(url, _body(tmp_path / "missing"), token["value"])
    assert status == 502 and "git fetch" in reply["error"], reply


def test_the_sidecar_and_the_generator_agree_on_the_port() -> None:
    assert labgen.DEFAULT_PORT == LAB_FILES_PORT
