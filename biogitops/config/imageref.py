"""Container image references, split the way a registry is asked about them.

    from biogitops.config.imageref import parse_ref
    ref = parse_ref("kindest/node:v1.36.1@sha256:3489…")
    ref.registry, ref.repository, ref.tag, ref.digest   # registry-1.docker.io, kindest/node, v1.36.1, sha256:…
    ref.name            # 'kindest/node' (as written, without tag or digest)
    ref.api             # 'https://registry-1.docker.io' (http:// for a loopback registry)

The rules are Docker's: the first path component names a registry when it holds a dot or a
colon or is `localhost`; otherwise the image is on Docker Hub (`library/` for one-word names).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from biogitops.errors import ConfigError

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"  # where Docker Hub's registry API answers
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_LOOPBACK = re.compile(r"^(localhost|127(\.\d{1,3}){3}|\[::1\])(:\d+)?$")


@dataclass(frozen=True)
class ImageRef:
    """One parsed reference; `digest` is empty when the reference names a tag only."""

    name: str
    registry: str
    repository: str
    tag: str
    digest: str

    @property
    def api(self) -> str:
        """The registry's base URL: plain http only for a registry on this machine's loopback."""
        host = DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry
        return f"{'http' if _LOOPBACK.match(host) else 'https'}://{host}"

    @property
    def host(self) -> str:
        return self.api.split("://", 1)[1]

    @property
    def tagged(self) -> str:
        return f"{self.name}:{self.tag}" if self.tag else self.name

    @property
    def by_digest(self) -> str:
        """`name@sha256:…`: what `docker pull` fetches by content, whatever the tag says now."""
        return f"{self.name}@{self.digest}"

    def __str__(self) -> str:
        return self.tagged + (f"@{self.digest}" if self.digest else "")


def parse_ref(text: str) -> ImageRef:
    """Split `[registry/]path[:tag][@sha256:hex]`; ConfigError when it is not a reference."""
    rest, _, digest = text.partition("@")
    if digest and not _DIGEST.match(digest):
        raise ConfigError(f"image {text!r}: digest {digest!r} is not sha256:<64 hex>")
    name, tag = rest, ""
    last = rest.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = rest.rsplit(":", 1)
        if not _TAG.match(tag):
            raise ConfigError(f"image {text!r}: tag {tag!r} is not a valid tag")
    if not name or name != name.lower() or " " in name:
        raise ConfigError(f"image {text!r}: not an image reference")
    first, _, path = name.partition("/")
    if path and ("." in first or ":" in first or first == "localhost"):
        registry, repository = first, path
    else:
        registry, repository = DOCKER_HUB, name if "/" in name else f"library/{name}"
    return ImageRef(name=name, registry=registry, repository=repository, tag=tag, digest=digest)
