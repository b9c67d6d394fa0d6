"""kind's images, upstream by digest or built here: the choice, the digest checks, the refusals.

    pytest tests/unit/test_imagesource.py

No registry and no Docker engine are asked: registries are stand-ins (a `ping`, a `resolver`,
or a loopback HTTP server speaking the registry API), Docker is a shell script.
"""

from __future__ import annotations

import dataclasses
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from biogitops.cluster import get_provider
from biogitops.cluster.kind import imagesource, load, registry, workloads
from biogitops.cluster.kind.imagesource import ImageSourceError
from biogitops.cluster.kind.nodeimage.docker import Docker, ImageBuildError
from biogitops.cluster.kind.nodeimage.rootfs import rootfs_ref
from biogitops.cluster.kind.registry import RegistryError
from biogitops.config.imageref import parse_ref
from biogitops.config.pins import PINS_FILE, load_pins, parse_pins
from biogitops.config.settings import load_settings
from biogitops.config.yamlschema import load_yaml
from biogitops.errors import ConfigError
from biogitops.paths import tools_bin

PINNED = "sha256:" + "a" * 64
OTHER = "sha256:" + "b" * 64


@pytest.fixture
def dev(cache: Path):
    return load_settings("dev")


def _answering(answers: dict[str, bool]):
    def ping(api: str) -> tuple[bool, str]:
        host = api.split("://", 1)[1]
        ok = answers.get(host, True)
        return ok, f"{host} {'answered (HTTP 401)' if ok else 'did not answer (timed out)'}"

    return ping


def _verified(pins):
    """The pins with every image verified at a made-up digest (the tests' own registry)."""
    images = {
        name: dataclasses.replace(pin, upstream=f"{pin.ref.tagged}@{PINNED}", verified=True) if pin.upstream else pin
        for name, pin in pins.images.items()
    }
    return dataclasses.replace(pins, images=images)


# ---------------------------------------------------------------- the choice


def test_auto_pulls_upstream_when_every_registry_answers(dev) -> None:
    plan = imagesource.choose(dev, False, load_pins(), _answering({}))
    assert plan.upstream
    assert plan.line().startswith("images: upstream (auto: registry-1.docker.io, quay.io, public.ecr.aws answered")


def test_auto_builds_from_source_when_a_registry_does_not_answer(dev) -> None:
    plan = imagesource.choose(dev, False, load_pins(), _answering({"quay.io": False}))
    assert plan.path == "source"
    assert plan.line() == "images: source (auto: quay.io did not answer (timed out), so built here)"


def test_offline_builds_from_source_without_asking_any_registry(dev) -> None:
    def ping(api: str) -> tuple[bool, str]:
        raise AssertionError(f"--offline asked {api}")

    plan = imagesource.choose(dev, True, load_pins(), ping)
    assert plan.path == "source" and "--offline" in plan.reason


@pytest.mark.parametrize("setting", ["source", "upstream"])
def test_the_setting_decides_whatever_the_registries_say(dev, setting: str) -> None:
    settings = dataclasses.replace(dev, kind_images=setting)
    plan = imagesource.choose(settings, False, load_pins(), _answering({"quay.io": setting == "source"}))
    assert plan.path == setting
    assert plan.reason == f"clusters/dev/settings.yaml says kind.images: {setting}"


def test_offline_wins_over_the_setting(dev) -> None:
    settings = dataclasses.replace(dev, kind_images="upstream")
    assert imagesource.choose(settings, True, load_pins(), _answering({})).path == "source"


def test_the_setting_is_schema_checked(tmp_path: Path) -> None:
    env = tmp_path / "dev"
    env.mkdir()
    text = (Path(load_settings("dev").path)).read_text().replace("  config: kind.yaml", "  images: sometimes")
    (env / "settings.yaml").write_text(text)
    with pytest.raises(ConfigError, match="images"):
        load_settings("dev", root=tmp_path)
    assert load_settings("dev").kind_images == "auto"


def test_bootstrap_line_and_provider_say_the_path(dev) -> None:
    kind = get_provider(dev, "kind")
    kind.offline = True
    assert kind.images_line() == "images: source (--offline, so built here from pins.yaml's recipes)"
    assert get_provider(dev, "kwok").images_line() == ""


# ---------------------------------------------------------------- the pins


def test_every_image_pin_has_both_paths_and_names_the_manifests_repositories() -> None:
    pins = load_pins()
    assert {"node", "argocd", "redis"} <= set(pins.images)
    for pin in pins.images.values():
        if not pin.upstream:  # first-party (a lab's task image, dev's identity provider): built here only
            assert (pin.lab or pin.beside) and pin.build == "debian", (
                f"{pin.name}: without upstream, a lab or beside recipe"
            )
            continue
        assert pin.build and pin.ref.tag, pin
        assert bool(pin.ref.digest) == pin.verified, f"{pin.name}: a digest exactly when verified"
    # read from kind v0.32.0's pkg/apis/config/defaults/image.go
    assert pins.images["node"].verified and pins.images["node"].ref.name == "kindest/node"


def test_a_verified_pin_without_a_digest_is_refused() -> None:
    data = load_yaml(PINS_FILE)
    data["images"]["argocd"]["verified"] = True
    with pytest.raises(ConfigError, match="images"):
        parse_pins(data)


@pytest.mark.parametrize(
    ("text", "registry_host", "repository", "api"),
    [
        ("kindest/node:v1.36.1", "docker.io", "kindest/node", "https://registry-1.docker.io"),
        ("redis:8", "docker.io", "library/redis", "https://registry-1.docker.io"),
        ("quay.io/argoproj/argocd:v3.5.3", "quay.io", "argoproj/argocd", "https://quay.io"),
        (f"127.0.0.1:5000/bio-gitops/tiny:1@{PINNED}", "127.0.0.1:5000", "bio-gitops/tiny", "http://127.0.0.1:5000"),
    ],
)
def test_references_split_as_docker_splits_them(text: str, registry_host: str, repository: str, api: str) -> None:
    ref = parse_ref(text)
    assert (ref.registry, ref.repository, ref.api) == (registry_host, repository, api)
    assert str(ref) == text


# ---------------------------------------------------------------- the digest check


def test_a_registry_answering_another_digest_is_refused_in_one_line() -> None:
    pin = _verified(load_pins()).images["argocd"]
    with pytest.raises(RegistryError) as err:
        registry.check_digest(pin, lambda ref: OTHER)
    line = str(err.value)
    assert "\n" not in line
    assert f"image argocd: quay.io/argoproj/argocd:v3.5.3 is {OTHER} at quay.io, but pins.yaml pins {PINNED}" in line
    assert "pins.yaml images.argocd" in line and "--offline" in line  # the fix


def test_a_registry_answering_the_pinned_digest_passes() -> None:
    imagesource.check_upstream(_verified(load_pins()), lambda ref: PINNED)


def test_an_unverified_pin_is_refused_on_the_upstream_path() -> None:
    pins = load_pins()  # argocd and redis: no digest readable from here
    with pytest.raises(ImageSourceError) as err:
        imagesource.check_upstream(pins, lambda ref: pytest.fail("asked a registry before checking the pins"))
    line = str(err.value)
    assert "pins.yaml images.argocd (quay.io/argoproj/argocd:v3.5.3)" in line and "verified: false" in line
    assert "docker buildx imagetools inspect quay.io/argoproj/argocd:v3.5.3" in line and "--offline" in line


def test_an_unverified_pin_stops_kind_before_any_cluster(dev, monkeypatch) -> None:
    kind = get_provider(dataclasses.replace(dev, kind_images="upstream"), "kind")
    monkeypatch.setattr(kind, "check_engine", lambda: None)
    monkeypatch.setattr("biogitops.toolchain.tools.which", lambda name: Path("/bin/true"))
    monkeypatch.setattr(kind, "exists", lambda: False)
    ran: list[object] = []
    monkeypatch.setattr(registry, "pull", lambda *a, **k: ran.append(("pull", a)))
    monkeypatch.setattr("subprocess.run", lambda *a, **k: ran.append(("run", a)))
    with pytest.raises(ImageSourceError, match="images.argocd"):
        kind.create()
    assert ran == []


def test_the_source_path_needs_no_verified_pin(dev) -> None:
    kind = get_provider(dataclasses.replace(dev, kind_images="source"), "kind")
    kind.check_images()  # nothing asked, nothing refused


# ---------------------------------------------------------------- the registry API


class _Registry(http.server.BaseHTTPRequestHandler):
    """A registry that wants a Bearer token (as Docker Hub and quay.io do) and serves one manifest."""

    digest = PINNED

    def do_GET(self) -> None:
        if self.path.startswith("/token"):
            assert "scope=repository%3Aargoproj%2Fargocd%3Apull" in self.path
            return self._send(200, json.dumps({"token": "t0ken"}).encode(), {})
        if self.headers.get("Authorization") != "Bearer t0ken":
            realm = f'Bearer realm="http://{self.headers["Host"]}/token",service="test"'
            return self._send(401, b"{}", {"WWW-Authenticate": realm})
        return self._send(200, b"{}", {"Docker-Content-Digest": self.digest})

    def _send(self, code: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(code)
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fake_registry() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Registry)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_resolve_fetches_an_anonymous_token_and_reads_the_digest(fake_registry: str, monkeypatch) -> None:
    monkeypatch.undo()  # the real client, against the loopback stand-in
    ref = parse_ref(f"{fake_registry}/argoproj/argocd:v3.5.3")
    assert registry.resolve(ref) == PINNED
    assert registry.ping(ref.api) == (True, f"{fake_registry} answered (HTTP 401)")


def test_a_silent_registry_is_named(monkeypatch) -> None:
    monkeypatch.undo()  # the real client: nothing listens on the discard port
    ok, detail = registry.ping("http://127.0.0.1:9", timeout=2)
    assert not ok and detail.startswith("127.0.0.1:9 did not answer (")


# ---------------------------------------------------------------- half-built images


def test_a_failed_build_step_names_the_image_the_step_and_its_log(cache: Path, fake_docker) -> None:
    pins = load_pins()
    debian = rootfs_ref(pins)
    fake_docker(
        f'case "$1 $3" in "image {debian}") exit 0;; esac\n'
        'case "$1" in image) exit 1;; build) echo "E: Unable to locate package redis-server" >&2; exit 1;; esac\n',
    )
    with pytest.raises(ImageBuildError) as err:
        workloads.build(pins.images["redis"], pins)
    line = str(err.value)
    assert line.startswith(f"image redis: build {workloads.image_ref(pins.images['redis'], pins)} failed: E: Unable")
    assert str(cache / "images" / "redis.log") in line


def test_a_build_that_leaves_no_tag_is_refused_as_half_built(cache: Path, fake_docker) -> None:
    pins = load_pins()
    debian = rootfs_ref(pins)
    fake_docker(f'case "$1 $3" in "image {debian}") exit 0;; esac\n[ "$1" = image ] && exit 1\nexit 0\n')
    with pytest.raises(ImageBuildError) as err:
        workloads.build(pins.images["redis"], pins)
    line = str(err.value)
    assert "image redis: bio-gitops/redis:" in line and "half-built" in line
    assert f"log: {cache / 'images' / 'redis.log'}" in line


def test_a_changed_pin_rebuilds_its_image_alone() -> None:
    pins = load_pins()
    before = workloads.refs(pins)
    bumped = dataclasses.replace(pins.tools["argocd"], version="3.5.4")
    after = workloads.refs(dataclasses.replace(pins, tools={**pins.tools, "argocd": bumped}))
    assert after["argocd"] != before["argocd"] and after["redis"] == before["redis"]
    assert before["argocd"].startswith("bio-gitops/argocd:v3.5.3-")
    assert set(before) == {"argocd", "redis"}  # the node image is not among them


# ---------------------------------------------------------------- loading into kind


def test_each_image_is_loaded_pinned_into_the_nodes_that_lack_it(cache: Path, fake_docker, tmp_path: Path) -> None:
    kind = tools_bin() / "kind"
    kind.parent.mkdir(parents=True)
    kind.write_text(
        '#!/bin/sh\n[ "$1 $2" = "get nodes" ] && printf "bio-gitops-dev-control-plane\\nbio-gitops-dev-worker\\n"\n'
    )
    kind.chmod(0o755)
    calls = tmp_path / "calls"
    fake_docker(
        f'echo "$*" >> {calls}\n'
        'case "$*" in\n'
        '  *"images ls -q"*) [ "$2" = bio-gitops-dev-worker ] && echo docker.io/bio-gitops/redis:k1; exit 0;;\n'
        "  save*) echo tarball; exit 0;;\n"
        '  *"images import"*) cat > /dev/null; exit 0;;\n'
        "esac\nexit 1\n"
    )
    docker = Docker(tmp_path / "load.log", what="loading images into kind")
    load.load_images("bio-gitops-dev", ["bio-gitops/argocd:v3.5.3-k1", "bio-gitops/redis:k1"], docker)
    imports = [line for line in calls.read_text().splitlines() if "images import" in line]
    assert [line.split()[2] for line in imports] == [
        "bio-gitops-dev-control-plane",  # argocd and redis
        "bio-gitops-dev-control-plane",
        "bio-gitops-dev-worker",  # argocd only: the worker holds this redis already
    ]
    assert all("--label=io.cri-containerd.pinned=pinned" in line for line in imports)
