"""The generic image recipe (`build: debian` in pins.yaml `images`): Debian packages, pinned
artifacts and our files on the Debian root filesystem, one image per pin.

    from biogitops.cluster.kind import recipe
    context = recipe.prepare(pin, pins, debian, context_dir, progress)   # downloads, checked
    recipe.dockerfile(pin, debian)                                      # what `docker build` runs

What a recipe may hold (see pins.yaml, `images.nextflow` and `images.nf-tasks`):
  packages  Debian packages, `name` or `name=version`, installed with apt from nodeImage.debian's
            mirror; every installed version is written to /usr/share/bio-gitops/image-packages
  maven     `group:artifact:version[:classifier] sha256` jars from `repository`, into `dest`
  pypi      `name==version sha256` wheels (CPython `python`, `platforms`), into a virtual
            environment at `venv`; `bin` entries linked into /usr/local/bin
  archives  `url`, `sha256` and `extract` (archive member -> image path): a tar archive fetched,
            checked and unpacked here, only the listed members going into the image (pyspark's
            sdist: Spark's jars and scripts, no wheel on PyPI)
  go        image path -> a Go binary pinned like a tool (`module`, `package`, `version`, ...),
            built with the project's Go tool build (biogitops/toolchain/tools.py) and cached there
  files     image path -> repository path of our own files (scripts, entrypoints)
  dists     image path -> a Java distribution pinned under pins.yaml `tools` (`source: maven`,
            also named in the recipe's `tools`, so its version is part of the image's key), as
            `invoke tools.install` fetched and checked it; copied without its `data/`
  run       shell commands run last, as root (e.g. a distribution's build step)
  env, user, entrypoint
Downloads are checked against their sha256 (pip checks the wheels with --require-hashes) and
kept under ~/.cache/bio-gitops/images/artifacts, so a second build of a changed recipe fetches
only what changed. The image's key (workloads.key) hashes the recipe, the Debian base, our
files and the Dockerfile below, so any change rebuilds that image alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import urllib.request
from pathlib import Path, PurePosixPath

from biogitops.cluster.kind.nodeimage.docker import ImageBuildError
from biogitops.config.pins import ImagePin, Pins, ToolPin, tool_pins
from biogitops.paths import REPO_ROOT

PACKAGE_RECORD = "/usr/share/bio-gitops/image-packages"


def _quiet(_: str) -> None:
    pass


def artifacts_cache(root: Path) -> Path:
    return root / "artifacts"


def maven_files(pin: ImagePin) -> list[tuple[str, str, str]]:
    """(url, file name, sha256) of every pinned jar."""
    maven = pin.recipe.get("maven") or {}
    out = []
    for line in maven.get("artifacts", ()):
        coords, sha = line.split()
        group, artifact, version, *classifier = coords.split(":")
        name = f"{artifact}-{version}{'-' + classifier[0] if classifier else ''}.jar"
        url = f"{maven['repository']}/{group.replace('.', '/')}/{artifact}/{version}/{name}"
        out.append((url, name, sha))
    return out


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(url: str, sha: str, dest: Path) -> Path:
    """Download `url` into `dest` unless a file with that sha256 is there; refuse another content."""
    if dest.is_file() and _sha256(dest) == sha:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_suffix(dest.suffix + ".part")
    try:
        with urllib.request.urlopen(url, timeout=120) as resp, partial.open("wb") as out:
            shutil.copyfileobj(resp, out)
    except OSError as err:
        raise ImageBuildError(f"download of {url} failed: {err}", "check the network to that repository") from None
    found = _sha256(partial)
    if found != sha:
        partial.unlink()
        raise ImageBuildError(
            f"{url} has sha256 {found}, pins.yaml pins {sha}",
            "not used; if upstream re-published it on purpose, check it and update the pin",
        )
    os.replace(partial, dest)
    return dest


def requirements(pin: ImagePin) -> str:
    """pins.yaml's wheels as a pip requirements file with hashes."""
    pypi = pin.recipe.get("pypi") or {}
    lines = []
    for line in pypi.get("requirements", ()):
        spec, sha = line.split()
        lines.append(f"{spec} --hash=sha256:{sha}")
    return "\n".join(lines) + "\n"


def fetch_wheels(pin: ImagePin, cache: Path, log: Path) -> Path:
    """pip download every pinned wheel (hashes required) into the cache; returns that directory."""
    pypi = pin.recipe["pypi"]
    wheels = cache / "pypi"
    wheels.mkdir(parents=True, exist_ok=True)
    req = cache / f"{pin.name}-requirements.txt"
    req.write_text(requirements(pin))
    argv = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--disable-pip-version-check",
        "--require-hashes",
        "--no-deps",
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        pypi["python"],
        *(arg for platform in pypi["platforms"] for arg in ("--platform", platform)),
        "--platform",
        "any",
        "-d",
        str(wheels),
        "-r",
        str(req),
    ]
    with log.open("ab") as out:
        out.write(f"\n== pip download: {' '.join(argv)}\n".encode())
        out.flush()
        proc = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0:
        raise ImageBuildError(f"image {pin.name}: pip download of its pinned wheels failed", f"log: {log}")
    return wheels


def _wheel_names(pin: ImagePin, wheels: Path) -> list[Path]:
    """The downloaded wheel of each pinned requirement (matched by sha256)."""
    by_sha = {}
    for path in wheels.glob("*.whl"):
        by_sha.setdefault(_sha256(path), path)
    found = []
    for line in pin.recipe["pypi"]["requirements"]:
        spec, sha = line.split()
        if sha not in by_sha:
            raise ImageBuildError(f"image {pin.name}: no wheel with the pinned sha256 of {spec}", f"cache: {wheels}")
        found.append(by_sha[sha])
    return found


def archive_path(cache: Path, url: str, sha: str) -> Path:
    """Where a pinned archive is kept: its sha256's start and its file name."""
    return cache / "archives" / f"{sha[:16]}-{url.rsplit('/', 1)[-1]}"


def _member_dest(name: str, extract: dict[str, str]) -> tuple[int, str] | None:
    """(index of the `extract` entry, path below it) of an archive member, or None when unlisted."""
    path = PurePosixPath(name)
    for index, member in enumerate(sorted(extract)):
        prefix = PurePosixPath(member)
        if path == prefix:
            return index, ""
        if prefix in path.parents:
            return index, str(path.relative_to(prefix))
    return None


def unpack(archive: Path, extract: dict[str, str], out: Path, what: str) -> None:
    """Unpack the listed members of a tar archive to out/<index of the entry> (a directory
    member's files below it, a file member as that file); regular files and directories only."""
    found: set[int] = set()
    with tarfile.open(archive) as tar:
        for member in tar:
            hit = _member_dest(member.name, extract)
            if hit is None or not (member.isfile() or member.isdir()):
                continue
            index, below = hit
            if ".." in PurePosixPath(below).parts:
                raise ImageBuildError(f"{what}: archive member {member.name} leaves its directory", "not unpacked")
            found.add(index)
            dest = out / str(index) / below if below else out / str(index)
            if member.isdir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            with tar.extractfile(member) as src, dest.open("wb") as dst:  # type: ignore[union-attr]
                shutil.copyfileobj(src, dst)
            dest.chmod(0o755 if member.mode & 0o111 else 0o644)
    missing = [m for i, m in enumerate(sorted(extract)) if i not in found]
    if missing:
        raise ImageBuildError(f"{what}: {archive.name} holds no {', '.join(missing)}", "fix recipe.archives extract")


def go_pins(pin: ImagePin) -> dict[str, ToolPin]:
    """Image path -> the pinned Go binary built for it (recipe.go), named after its file."""
    specs = pin.recipe.get("go") or {}
    return {dest: tool_pins({PurePosixPath(dest).name: spec})[PurePosixPath(dest).name] for dest, spec in specs.items()}


def prepare(
    pin: ImagePin,
    root: Path,
    context: Path,
    progress=_quiet,
    pins: Pins | None = None,
    tools: dict[str, Path] | None = None,
) -> None:
    """Fill a build context: maven/ (jars), pypi/ (wheels + requirements.txt), a<N>/ (archive
    members), g<N> (Go binaries), f<N> (our files), d<N>/ (distributions; `tools` maps each
    pinned tool to its installed launcher)."""
    cache = artifacts_cache(root)
    jars = maven_files(pin)
    if jars:
        progress(f"image {pin.name}: {len(jars)} jars from Maven Central, each checked by sha256")
        (context / "maven").mkdir()
        for url, name, sha in jars:
            cached = fetch(url, sha, cache / "maven" / f"{sha[:16]}-{name}")
            shutil.copy2(cached, context / "maven" / name)
    if pin.recipe.get("pypi"):
        progress(f"image {pin.name}: {len(pin.recipe['pypi']['requirements'])} wheels from PyPI, hashes required")
        wheels = fetch_wheels(pin, cache, root / f"{pin.name}.log")
        (context / "pypi").mkdir()
        for wheel in _wheel_names(pin, wheels):
            shutil.copy2(wheel, context / "pypi" / wheel.name)
        (context / "pypi" / "requirements.txt").write_text(requirements(pin))
    for index, item in enumerate(pin.recipe.get("archives", ())):
        name = item["url"].rsplit("/", 1)[-1]
        progress(f"image {pin.name}: {name}, checked by sha256, {len(item['extract'])} members unpacked")
        archive = fetch(item["url"], item["sha256"], archive_path(cache, item["url"], item["sha256"]))
        unpack(archive, item["extract"], context / f"a{index}", f"image {pin.name}")
    if pin.recipe.get("go"):
        from biogitops.config.pins import load_pins
        from biogitops.toolchain import tools

        for index, (_dest, tool) in enumerate(sorted(go_pins(pin).items())):
            progress(f"image {pin.name}: {tool.module}@v{tool.version} ({tool.package}), built with the pinned Go")
            built = tools.install_one(tool, pins or load_pins(), progress, use_path=False).path
            shutil.copy2(built, context / f"g{index}")
            (context / f"g{index}").chmod(0o755)
    for index, dest in enumerate(sorted(pin.recipe.get("files", {}))):
        source = REPO_ROOT / pin.recipe["files"][dest]
        shutil.copy2(source, context / f"f{index}")
        (context / f"f{index}").chmod(0o755)
    for index, dest in enumerate(sorted(pin.recipe.get("dists", {}))):
        name = pin.recipe["dists"][dest]
        if name not in pin.tools or not tools or name not in tools:
            raise ImageBuildError(
                f"image {pin.name}: recipe.dists {dest}: {name} is not in its recipe.tools", "fix pins.yaml"
            )
        dist = tools[name].parent / "dist"  # biogitops/toolchain/tools.py maven_install's layout
        progress(f"image {pin.name}: {name} from the pinned tool ({dist})")
        shutil.copytree(dist, context / f"d{index}", ignore=shutil.ignore_patterns("data"), symlinks=True)


def file_digests(pin: ImagePin) -> dict[str, str]:
    """sha256 of each of our files the recipe copies in (part of the image's key)."""
    files = pin.recipe.get("files", {})
    out = {}
    for dest, source in sorted(files.items()):
        path = REPO_ROOT / source
        if not path.is_file():
            raise ImageBuildError(f"image {pin.name}: recipe.files {dest}: {source} is missing", "fix pins.yaml")
        out[dest] = _sha256(path)
    return out


def _apt(packages: list[str]) -> str:
    return (
        "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "
        + " ".join(packages)
        + f" && mkdir -p {os.path.dirname(PACKAGE_RECORD)}"
        + f" && dpkg-query -W -f '${{Package}} ${{Version}}\\n' > {PACKAGE_RECORD}"
        + " && apt-get clean && rm -rf /var/lib/apt/lists/*"
    )


def dockerfile(pin: ImagePin, base: str) -> str:
    """The Dockerfile of a `debian` recipe. Wheels are installed in a first stage whose apt step
    is the same instruction as the final one (the builder's cache runs it once), so the wheels
    themselves never become a layer of the image."""
    recipe = pin.recipe
    packages = list(recipe.get("packages", ()))
    lines: list[str] = []
    pypi = recipe.get("pypi")
    if pypi:
        lines += [f"FROM {base} AS wheels"]
        if packages:
            lines.append(f"RUN {_apt(packages)}")
        lines += [
            "COPY pypi /tmp/pypi",
            f"RUN python3 -m venv {pypi['venv']} && {pypi['venv']}/bin/pip install -q --disable-pip-version-check "
            "--no-index --no-deps --require-hashes --find-links /tmp/pypi -r /tmp/pypi/requirements.txt",
        ]
    lines.append(f"FROM {base}")
    if packages:
        lines.append(f"RUN {_apt(packages)}")
    for index, item in enumerate(recipe.get("archives", ())):
        for member_index, member in enumerate(sorted(item["extract"])):
            dest = item["extract"][member]
            lines.append(f"COPY a{index}/{member_index} {dest}")
    if recipe.get("maven"):
        lines.append(f"COPY maven {recipe['maven']['dest']}")
    if pypi:
        lines.append(f"COPY --from=wheels {pypi['venv']} {pypi['venv']}")
        if pypi.get("bin"):
            links = " && ".join(f"ln -s {pypi['venv']}/bin/{b} /usr/local/bin/{b}" for b in pypi["bin"])
            lines.append(f"RUN {links}")
    for index, dest in enumerate(sorted(recipe.get("files", {}))):
        lines.append(f"COPY f{index} {dest}")
    for index, dest in enumerate(sorted(recipe.get("go", {}))):
        lines.append(f"COPY g{index} {dest}")
    for index, dest in enumerate(sorted(recipe.get("dists", {}))):
        lines.append(f"COPY d{index} {dest}")
    if recipe.get("run"):
        lines.append("RUN " + " && ".join(recipe["run"]))
    for key, value in sorted(recipe.get("env", {}).items()):
        lines.append(f"ENV {key}={json.dumps(value)}")
    if recipe.get("user"):
        lines.append(f"USER {recipe['user']}")
    if recipe.get("entrypoint"):
        lines.append(f"ENTRYPOINT {json.dumps(list(recipe['entrypoint']))}")
    return "\n".join(lines) + "\n"


def key_inputs(pin: ImagePin) -> dict:
    """What decides a `debian` recipe's image besides the Debian base: the recipe, our files, the
    Dockerfile this module writes (so a change to how it is laid out rebuilds it)."""
    return {
        "recipe": json.dumps(pin.recipe, sort_keys=True),
        "files": file_digests(pin),
        "dockerfile": dockerfile(pin, "BASE"),
    }
