"""Where kind's images come from: upstream by digest when their registries answer, else built here.

    from biogitops.cluster.kind.imagesource import choose, check_upstream
    plan = choose(settings, offline=False, pins=load_pins())
    plan.line()            # 'images: source (auto: quay.io did not answer (…), so built here)'
    check_upstream(pins)   # upstream path only, before any cluster: verified pins the registries agree with

The choice, first match wins: `--offline` (bootstrap, cluster.create) builds from source;
`kind: {images: source|upstream}` in settings.yaml says which; `auto` (the default) asks each
registry of pins.yaml `images` whether it answers, and pulls only when every one does. The
upstream path needs no root; the source path builds every image from pins.yaml's recipes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from biogitops.cluster.kind import registry
from biogitops.config.pins import Pins
from biogitops.config.settings import Settings
from biogitops.errors import BioGitopsError

UPSTREAM = "upstream"
SOURCE = "source"


class ImageSourceError(BioGitopsError):
    """The chosen image path cannot be taken as pinned (an unverified digest)."""


@dataclass(frozen=True)
class ImagePlan:
    """The path kind's images take (`upstream` or `source`) and why."""

    path: str
    reason: str

    @property
    def upstream(self) -> bool:
        return self.path == UPSTREAM

    def line(self) -> str:
        """What bootstrap prints under the provider line."""
        return f"images: {self.path} ({self.reason})"


def registries(pins: Pins) -> list[str]:
    """The registry API of every pinned image, each once, in pins.yaml's order."""
    return list(dict.fromkeys(pin.ref.api for pin in upstream_pins(pins)))


def upstream_pins(pins: Pins) -> list:
    """The platform's image pins that have an upstream image: lab workload images are built and
    loaded when a run needs them (workloads.lab_pins), not pulled at bootstrap."""
    return [pin for pin in pins.images.values() if pin.upstream and not pin.lab]


def choose(
    settings: Settings, offline: bool, pins: Pins, ping: Callable[[str], tuple[bool, str]] | None = None
) -> ImagePlan:
    """The image path for this run, and the reason bootstrap prints (`ping`: registry.ping)."""
    ping = ping or registry.ping
    if offline:
        return ImagePlan(SOURCE, "--offline, so built here from pins.yaml's recipes")
    if settings.kind_images != "auto":
        return ImagePlan(
            settings.kind_images, f"clusters/{settings.env}/settings.yaml says kind.images: {settings.kind_images}"
        )
    for api in registries(pins):
        ok, detail = ping(api)
        if not ok:  # one silent registry decides: the others need not be asked
            return ImagePlan(SOURCE, f"auto: {detail}, so built here")
    hosts = ", ".join(api.split("://", 1)[1] for api in registries(pins))
    return ImagePlan(UPSTREAM, f"auto: {hosts} answered, so pulled by digest")


def check_verified(pins: Pins) -> None:
    """Refuse, in one line naming them and the fix, pins whose digest nobody read from upstream."""
    unverified = [pin for pin in upstream_pins(pins) if not pin.verified]
    if not unverified:
        return
    names = ", ".join(f"images.{pin.name} ({pin.upstream})" for pin in unverified)
    first = unverified[0].ref
    raise ImageSourceError(
        f"the upstream image path needs verified digests, and pins.yaml {names} "
        f"{'is' if len(unverified) == 1 else 'are'} verified: false",
        f"on a machine that reaches {first.host}: `docker buildx imagetools inspect {first.tagged}`, write "
        "`<ref>@sha256:…` and verified: true into pins.yaml; or build from source: `--offline` or "
        "`kind: {images: source}` in settings.yaml",
    )


def check_upstream(pins: Pins, resolver: Callable | None = None) -> None:
    """Before any cluster: every pin verified, and every registry serving the pinned digest
    (`resolver`: registry.resolve)."""
    check_verified(pins)
    for pin in upstream_pins(pins):
        registry.check_digest(pin, resolver or registry.resolve)
