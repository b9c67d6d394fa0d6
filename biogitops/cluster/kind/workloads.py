"""The platform's images for kind built here from source, one by one (pins.yaml `images`, `recipe`).

    from biogitops.cluster.kind import workloads
    workloads.build(pins.images["argocd"], pins, progress)   # 'bio-gitops/argocd:v3.5.3-<key>'
    workloads.build_all(pins, progress)                      # every pin but the node's

Each image is its own cache entry: tagged with the hash of its inputs (its recipe's pinned
tools, the Debian base, the recipe below), kept in the engine, built only when that tag is
missing; a changed input rebuilds that image alone and drops its earlier tags. Each has its own
build log, ~/.cache/bio-gitops/images/<name>.log. The node image (nodeimage/) is the `node` pin.
A `build: debian` recipe (lab workload images: Debian packages, jars, wheels, our files) is laid
out by recipe.py; `lab: true` images are built and loaded when a lab's run needs them
(`workloads.build_lab`, `load.load_images`), not at bootstrap.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from biogitops.cluster.kind import nodeimage, recipe
from biogitops.cluster.kind.nodeimage.docker import Docker, ImageBuildError
from biogitops.cluster.kind.nodeimage.images import ImageSpec
from biogitops.cluster.kind.nodeimage.rootfs import ensure_rootfs, rootfs_key
from biogitops.config.pins import ImagePin, Pins
from biogitops.paths import cache_dir
from biogitops.toolchain import tools
from biogitops.toolchain.gomodules import module_dir

ARGOCD_LINKS = (
    "argocd-server",
    "argocd-repo-server",
    "argocd-cmp-server",
    "argocd-application-controller",
    "argocd-applicationset-controller",
    "argocd-notifications",
    "argocd-commit-server",
    "argocd-k8s-auth",
    "argocd-dex",
)
# the recipes: what each image holds beyond its tools (a change here rebuilds that image)
ARGOCD_RUN = (
    # uid 999 as upstream's image (the manifests run as 999); Debian has gid 999 already
    "useradd -u 999 -U -m -d /home/argocd -s /bin/bash argocd",
    *(f"ln -s argocd /usr/local/bin/{link}" for link in ARGOCD_LINKS),
    # where the install manifests mount known hosts, TLS and GnuPG keys
    "mkdir -p /app/config/ssh /app/config/tls /app/config/gpg/source /app/config/gpg/keys",
    "touch /app/config/ssh/ssh_known_hosts",
    "ln -sf /app/config/ssh/ssh_known_hosts /etc/ssh/ssh_known_hosts",
    "chown argocd /app/config/gpg/keys",
    "chmod 0700 /app/config/gpg/keys",
)
# Argo CD's repo-server runs its gpg and git wrapper scripts, as upstream's image does
ARGOCD_SCRIPTS = ("gpg-wrapper.sh", "git-verify-wrapper.sh")


def _quiet(_: str) -> None:
    pass


def cache() -> Path:
    return cache_dir() / "images"


def key(pin: ImagePin, pins: Pins) -> str:
    """The hash of the image's inputs: its recipe, the pins of its tools, its Debian base."""
    inputs = {
        "recipe": [pin.build, pin.base, *pin.tools],
        "tools": {name: f"{pins.tools[name].module}@{pins.tools[name].version}" for name in pin.tools},
        "debian": rootfs_key(pins) if pin.base == "debian" else "",
        "run": list(ARGOCD_RUN) if pin.build == "argocd" else [],
    }
    if pin.build == "debian":
        inputs["debian-recipe"] = recipe.key_inputs(pin)
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:12]


def image_ref(pin: ImagePin, pins: Pins) -> str:
    """`bio-gitops/<name>:<version of its first tool>-<key>`, `:<upstream tag>-<key>` for a
    `debian` recipe with an upstream, or `:<key>`."""
    version = f"v{pins.tools[pin.tools[0]].version}-" if pin.tools else ""
    if pin.build == "debian" and pin.upstream and pin.ref.tag:
        version = f"{pin.ref.tag}-"
    return f"bio-gitops/{pin.name}:{version}{key(pin, pins)}"


def spec(pin: ImagePin, pins: Pins, bins: dict[str, Path], debian: str) -> ImageSpec:
    """The Dockerfile of one recipe (`recipe.build` in pins.yaml)."""
    ref = image_ref(pin, pins)
    if pin.build == "redis":
        return ImageSpec(ref, debian, {}, ("/usr/bin/redis-server",))
    if pin.build == "argocd":
        argocd = pins.tools["argocd"]
        scripts = module_dir(argocd.module, argocd.go_module_version) / "hack"
        files = {f"/usr/local/bin/{name}": bins[name] for name in pin.tools}
        files |= {f"/usr/local/bin/{name}": scripts / name for name in ARGOCD_SCRIPTS}
        return ImageSpec(
            ref,
            debian,
            files,
            ("/usr/bin/tini", "--"),
            run=ARGOCD_RUN,
            user="999",
            env={"HOME": "/home/argocd", "USER": "argocd"},
        )
    raise ImageBuildError(f"image {pin.name}: no recipe {pin.build!r} here", "pins.yaml images: recipe.build")


def build(pin: ImagePin, pins: Pins, progress=_quiet) -> str:
    """Build one image unless its tag is there already; returns its reference.

    A build that ends without its tag (half-built) is refused, naming the image's log."""
    root = cache()
    root.mkdir(parents=True, exist_ok=True)
    docker = Docker(root / f"{pin.name}.log", what=f"image {pin.name}")
    ref = image_ref(pin, pins)
    if docker.image_exists(ref):
        return ref
    bins = {name: tools.install_one(pins.tools[name], pins, progress, use_path=False).path for name in pin.tools}
    # the node image's Debian base, from its cache (one debootstrap for every image)
    debian = ensure_rootfs(pins, docker, nodeimage.cache(), progress) if pin.base == "debian" else "scratch"
    progress(f"image {ref}")
    with tempfile.TemporaryDirectory(prefix=f"{pin.name}-", dir=root) as tmp:
        context = Path(tmp)
        if pin.build == "debian":
            recipe.prepare(pin, root, context, progress, pins, bins)
            (context / "Dockerfile").write_text(recipe.dockerfile(pin, debian))
        else:
            image = spec(pin, pins, bins, debian)
            for index, dest in enumerate(sorted(image.files)):
                shutil.copy2(image.files[dest], context / f"f{index}")
                (context / f"f{index}").chmod(0o755)
            (context / "Dockerfile").write_text(image.dockerfile())
        docker.run(f"build {ref}", ["build", "-q", "-t", ref, str(context)])
    require_built(docker, ref, pin.name)
    prune(docker, ref)
    return ref


def require_built(docker: Docker, ref: str, name: str) -> None:
    """Refuse an image whose tag is missing (a build cut short, a pruned engine), naming its log."""
    if not docker.image_exists(ref):
        raise ImageBuildError(
            f"image {name}: {ref} is half-built: its build step ended without the tag",
            f"log: {docker.log}; run again to rebuild it",
        )


def prune(docker: Docker, ref: str) -> None:
    """Drop the earlier tags of this image (a running cluster keeps its copy in the nodes)."""
    repository = ref.rsplit(":", 1)[0]
    listing = docker.run("list its earlier tags", ["image", "ls", repository, "--format", "{{.Repository}}:{{.Tag}}"])
    stale = [tag for tag in listing.split() if tag != ref]
    if stale:
        subprocess.run([docker.binary, "image", "rm", *stale], capture_output=True, check=False)


def source_pins(pins: Pins) -> list[ImagePin]:
    """Every platform image loaded into kind at bootstrap: all pins but the node's, the labs'
    and those run beside the cluster."""
    return [pin for pin in pins.images.values() if pin.build != "node" and not pin.lab and not pin.beside]


def lab_pins(pins: Pins) -> list[ImagePin]:
    """The lab workload images (recipe.lab): built and loaded when a lab's run needs them."""
    return [pin for pin in pins.images.values() if pin.lab]


def lab_refs(pins: Pins) -> dict[str, str]:
    """Pin name -> reference of each lab workload image built here."""
    return {pin.name: image_ref(pin, pins) for pin in lab_pins(pins)}


def build_lab(pins: Pins, names: list[str], progress=_quiet) -> dict[str, str]:
    """Build (or find) the named lab images; pin name -> reference."""
    return {name: build(pins.images[name], pins, progress) for name in names}


def build_all(pins: Pins, progress=_quiet) -> dict[str, str]:
    """Build (or find) every image but the node's; pin name -> reference."""
    return {pin.name: build(pin, pins, progress) for pin in source_pins(pins)}


def refs(pins: Pins) -> dict[str, str]:
    """Pin name -> the reference each source build has (whether built yet or not)."""
    return {pin.name: image_ref(pin, pins) for pin in source_pins(pins)}
