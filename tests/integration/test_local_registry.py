"""kind's upstream image path against a real registry: the pinned `registry` (CNCF distribution,
built from its Go module) on a loopback port, an image built here pushed to it, then pulled back
by digest through the same code bootstrap runs; and a digest the registry no longer serves for
the tag is refused. Needs a Docker engine; creates no cluster and touches no other container.

    invoke tools.install --only registry
    pytest tests/integration/test_local_registry.py --provider kind     # also part of the kind suite
"""

from __future__ import annotations

import dataclasses
import io
import re
import socket
import subprocess
import tarfile
import time
from collections.abc import Iterator

import pytest

from biogitops.cluster.kind import imagesource, registry
from biogitops.cluster.kind.nodeimage.docker import Docker
from biogitops.cluster.kind.provider import engine_answer
from biogitops.cluster.kind.registry import RegistryError
from biogitops.config.imageref import parse_ref
from biogitops.config.pins import ImagePin, Pins, load_pins
from biogitops.config.settings import load_settings
from biogitops.toolchain import tools

REPOSITORY = "bio-gitops/registry-test"


@pytest.fixture(scope="module", autouse=True)
def _kind_only(request: pytest.FixtureRequest) -> None:
    if request.config.getoption("--provider") != "kind":
        pytest.skip("the local-registry test runs with the kind suite (it needs a Docker engine)")
    answers, detail = engine_answer()
    if not answers:
        pytest.skip(f"the local-registry test needs a Docker engine: {detail}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def local_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The pinned registry on 127.0.0.1:<free port>, storing in a temporary directory; yields host:port."""
    binary = tools.which("registry")  # ToolError naming `invoke tools.install --only registry`
    root = tmp_path_factory.mktemp("registry")
    host = f"127.0.0.1:{_free_port()}"
    config = root / "config.yml"
    config.write_text(
        f"version: 0.1\nlog: {{level: warn}}\nstorage: {{filesystem: {{rootdirectory: {root / 'data'}}}}}\n"
        f"http: {{addr: {host}}}\n"
    )
    log = (root / "registry.log").open("wb")
    proc = subprocess.Popen([str(binary), "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not registry.ping(f"http://{host}", timeout=1)[0]:
            assert proc.poll() is None, (root / "registry.log").read_text()
            assert time.monotonic() < deadline, "the registry did not answer within 30s"
            time.sleep(0.2)
        yield host
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


def _tiny_image(docker: Docker, ref: str, content: str) -> None:
    """`docker import` of a one-file root filesystem: an image built here, no registry needed."""
    data = content.encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    proc = subprocess.run([docker.binary, "import", "-", ref], input=buf.read(), capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr


def _push(docker: Docker, ref: str) -> str:
    """Push and return the digest docker reports for it."""
    out = docker.run(f"push {ref}", ["push", ref])
    found = re.search(r"digest: (sha256:[0-9a-f]{64})", out)
    assert found, out
    return found.group(1)


def _pins_with(pin: ImagePin) -> Pins:
    """pins.yaml with every image pointing at the local registry (an override, as a test fixture)."""
    return dataclasses.replace(load_pins(), images={"node": pin})


@pytest.fixture(scope="module")
def docker(tmp_path_factory: pytest.TempPathFactory) -> Docker:
    return Docker(tmp_path_factory.mktemp("docker") / "docker.log", what="local registry test")


@pytest.fixture(scope="module")
def pushed(local_registry: str, docker: Docker) -> Iterator[tuple[str, str]]:
    """An image built here, pushed as <registry>/bio-gitops/registry-test:1; yields (tagged ref, digest)."""
    tagged = f"{local_registry}/{REPOSITORY}:1"
    _tiny_image(docker, tagged, "built here, release 1\n")
    digest = _push(docker, tagged)
    subprocess.run([docker.binary, "image", "rm", tagged], capture_output=True, check=False)
    try:
        yield tagged, digest
    finally:
        for ref in (tagged, f"{local_registry}/{REPOSITORY}@{digest}"):
            subprocess.run([docker.binary, "image", "rm", ref], capture_output=True, check=False)


def test_the_upstream_path_pulls_by_digest_through_the_registry(
    local_registry: str, pushed: tuple[str, str], docker: Docker
) -> None:
    tagged, digest = pushed
    pin = ImagePin(name="node", upstream=f"{tagged}@{digest}", verified=True, build="node")
    pins = _pins_with(pin)
    assert registry.resolve(parse_ref(tagged)) == digest  # what docker push reported
    plan = imagesource.choose(load_settings("dev"), False, pins)
    assert plan.upstream and plan.reason == f"auto: {local_registry} answered, so pulled by digest"
    imagesource.check_upstream(pins)  # verified, and the registry serves the pinned digest
    assert registry.pull(pin, docker) == f"{tagged}@{digest}"
    held = subprocess.run(
        [docker.binary, "image", "inspect", "--format", "{{json .RepoDigests}}", f"{parse_ref(tagged).name}@{digest}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"{local_registry}/{REPOSITORY}@{digest}" in held


def test_a_digest_the_registry_no_longer_serves_for_the_tag_is_refused(local_registry: str, docker: Docker) -> None:
    tagged = f"{local_registry}/{REPOSITORY}:2"
    _tiny_image(docker, tagged, "built here, release 2\n")
    pinned = _push(docker, tagged)
    _tiny_image(docker, tagged, "re-published under the same tag\n")  # upstream moves the tag
    moved = _push(docker, tagged)
    try:
        assert moved != pinned
        pin = ImagePin(name="node", upstream=f"{tagged}@{pinned}", verified=True, build="node")
        with pytest.raises(RegistryError) as err:
            imagesource.check_upstream(_pins_with(pin))
        line = str(err.value)
        assert "\n" not in line
        assert f"image node: {tagged} is {moved} at {local_registry}, but pins.yaml pins {pinned}" in line
        assert "pins.yaml images.node" in line
    finally:
        for ref in (tagged, f"{local_registry}/{REPOSITORY}@{pinned}"):  # the moved tag left release 2 untagged
            subprocess.run([docker.binary, "image", "rm", ref], capture_output=True, check=False)


def test_an_unverified_pin_is_refused_even_when_the_registry_answers(local_registry: str, pushed) -> None:
    tagged, _ = pushed
    pin = ImagePin(name="node", upstream=tagged, verified=False, build="node")
    with pytest.raises(imagesource.ImageSourceError, match=f"images.node \\({re.escape(tagged)}\\)"):
        imagesource.check_upstream(_pins_with(pin))
