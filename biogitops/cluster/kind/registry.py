"""An OCI registry asked about one image, and the image pulled by digest, without root.

    from biogitops.cluster.kind import registry
    registry.ping("https://quay.io")                 # (True, "quay.io answered (HTTP 401)")
    registry.resolve(pin.ref)                        # 'sha256:…': what the tag points at there now
    registry.pull(pin, docker)                       # docker pull name@digest, checked

The registry API (`/v2/`) answers anonymous clients with 401 and a Bearer challenge; the
token it names is fetched with the pull scope of the one repository. A registry on this
machine's loopback is spoken to over plain http (as Docker does).
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable

from biogitops.cluster.kind.nodeimage.docker import Docker
from biogitops.config.imageref import ImageRef
from biogitops.config.pins import ImagePin
from biogitops.errors import BioGitopsError

ACCEPT = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


class RegistryError(BioGitopsError):
    """A registry did not say what an image is, or served another image than the one pinned."""


def ping(api: str, timeout: float = 5) -> tuple[bool, str]:
    """Whether the registry at `api` answers its `/v2/` endpoint (any HTTP status counts), and what it said."""
    host = api.split("://", 1)[1]
    try:
        with urllib.request.urlopen(f"{api}/v2/", timeout=timeout) as resp:
            return True, f"{host} answered (HTTP {resp.status})"
    except urllib.error.HTTPError as err:
        return True, f"{host} answered (HTTP {err.code})"
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        return False, f"{host} did not answer ({str(reason)[:80]})"


def _token(challenge: str, repository: str, timeout: float) -> str:
    """An anonymous pull token from the realm a `WWW-Authenticate: Bearer …` challenge names."""
    fields = dict(_CHALLENGE.findall(challenge))
    if not challenge.lower().startswith("bearer") or "realm" not in fields:
        raise RegistryError(f"registry asks for credentials ({challenge[:80]})", "log in with `docker login`")
    query = {"scope": f"repository:{repository}:pull"}
    if "service" in fields:
        query["service"] = fields["service"]
    with urllib.request.urlopen(f"{fields['realm']}?{urllib.parse.urlencode(query)}", timeout=timeout) as resp:
        body = json.loads(resp.read())
    return body.get("token") or body.get("access_token") or ""


def resolve(ref: ImageRef, timeout: float = 15) -> str:
    """The digest the registry serves for `ref`'s tag now (its Docker-Content-Digest, or the
    sha256 of the manifest it returns); RegistryError naming the image when it will not say."""
    url = f"{ref.api}/v2/{ref.repository}/manifests/{ref.tag or ref.digest}"
    headers = {"Accept": ACCEPT}
    for attempt in (1, 2):
        request = urllib.request.Request(url, headers=headers, method="GET")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as resp:
                body = resp.read()
                return resp.headers.get("Docker-Content-Digest") or f"sha256:{hashlib.sha256(body).hexdigest()}"
        except urllib.error.HTTPError as err:
            challenge = err.headers.get("WWW-Authenticate", "")
            if err.code == 401 and attempt == 1 and challenge:
                headers["Authorization"] = f"Bearer {_token(challenge, ref.repository, timeout)}"
                continue
            raise RegistryError(
                f"{ref.host} answered HTTP {err.code} for {ref.tagged}", "check the reference in pins.yaml `images`"
            ) from None
        except (urllib.error.URLError, OSError) as err:
            raise RegistryError(
                f"{ref.host} did not answer for {ref.tagged}: {str(getattr(err, 'reason', err))[:80]}",
                "build from source instead: `--offline`",
            ) from None
    raise RegistryError(f"{ref.host} refused an anonymous token for {ref.tagged}", "log in with `docker login`")


def mismatch(pin: ImagePin, found: str) -> RegistryError:
    """The one-line refusal of an image whose registry (or engine) holds another digest than the pin."""
    ref = pin.ref
    return RegistryError(
        f"image {pin.name}: {ref.tagged} is {found} at {ref.host}, but pins.yaml pins {ref.digest}",
        f"not pulled; if upstream re-published it on purpose, check that image and put its digest in "
        f"pins.yaml images.{pin.name}; otherwise build from source (`--offline`)",
    )


def check_digest(pin: ImagePin, resolver: Callable[[ImageRef], str] | None = None) -> None:
    """Refuse a pin whose tag the registry now resolves to another digest (`resolver`: resolve)."""
    found = (resolver or resolve)(pin.ref)
    if found != pin.ref.digest:
        raise mismatch(pin, found)


def pull(pin: ImagePin, docker: Docker, progress=lambda _: None) -> str:
    """`docker pull name@digest` (the engine checks the content against the digest), then make
    sure the engine holds exactly that digest; returns the reference to run."""
    ref = pin.ref
    if not ref.digest:
        raise RegistryError(f"image {pin.name}: {pin.upstream} has no digest", "pins.yaml images: pin it by digest")
    progress(f"docker pull {ref.by_digest}")
    docker.run(f"pull {pin.name} by digest", ["pull", ref.by_digest])
    proc = subprocess.run(
        [docker.binary, "image", "inspect", "--format", "{{json .RepoDigests}}", ref.by_digest],
        capture_output=True,
        text=True,
        check=False,
    )
    held = json.loads(proc.stdout or "[]") if proc.returncode == 0 else []
    digests = [d.split("@", 1)[1] for d in held if d.startswith(f"{ref.name}@")]
    if ref.digest not in digests:
        raise mismatch(pin, ", ".join(digests) or "missing")
    return str(ref)
