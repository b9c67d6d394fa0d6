"""The pin file (`pins.yaml`): every tool version the project drives, parsed and validated.

from biogitops.config.pins import load_pins
pins = load_pins()            # reads pins.yaml at the repository root
pins.tools["helm"].version    # '4.3.1'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from biogitops.config.imageref import ImageRef, parse_ref
from biogitops.config.yamlschema import load_yaml, validate
from biogitops.errors import ConfigError, ToolError
from biogitops.paths import REPO_ROOT

PINS_FILE = REPO_ROOT / "pins.yaml"

_VERSION = {"type": "string", "pattern": r"^\d+\.\d+\.\d+$"}
_SHA256 = {"type": "string", "pattern": r"^[0-9a-f]{64}$"}

TOOL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["version", "source", "version_args"],
    "additionalProperties": False,
    "properties": {
        "version": _VERSION,
        "source": {"enum": ["go", "download", "pypi", "maven"]},
        "module": {"type": "string", "minLength": 1},
        "module_version": _VERSION,
        "package": {"type": "string", "minLength": 1},
        # a main package kept in this repository (one .go file, path from the repository root), built
        # inside the wrapper module that requires `module`: our own command on a pinned library
        "main": {"type": "string", "pattern": r"^\w[\w.-]*(/\w[\w.-]*)*\.go$"},
        "local_replace_version": {"type": "string", "pattern": r"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$"},
        "ldflags": {"type": "string"},
        "version_args": {"type": "array", "items": {"type": "string"}},
        "url": {"type": "string", "pattern": "^https?://"},
        "sha256": _SHA256,
        # source: maven: Maven Central publishes sha512 (and sha1) beside each artifact
        "sha512": {"type": "string", "pattern": r"^[0-9a-f]{128}$"},
        # source: maven: `kc.sh build`-style options baked into the distribution at install time
        "build_args": {"type": "array", "items": {"type": "string"}},
        "archive_member": {"type": "string"},
        # Go build tags (e.g. containerd without the cgo-only btrfs snapshotter)
        "tags": {"type": "array", "items": {"type": "string", "pattern": r"^[\w.]+$"}},
    },
    "allOf": [
        {
            "if": {"properties": {"source": {"const": "go"}}},
            "then": {"required": ["module"], "oneOf": [{"required": ["package"]}, {"required": ["main"]}]},
        },
        {
            "if": {"properties": {"source": {"const": "download"}}},
            "then": {"required": ["url", "sha256"]},
        },
        {
            "if": {"properties": {"source": {"const": "maven"}}},
            "then": {"required": ["url", "sha512"]},
        },
    ],
}

NODE_IMAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["debian", "components"],
    "additionalProperties": False,
    "properties": {
        "debian": {
            "type": "object",
            "required": ["suite", "mirror"],
            "additionalProperties": False,
            "properties": {
                "suite": {"type": "string", "pattern": "^[a-z]+$"},
                "mirror": {"type": "string", "pattern": "^https?://"},
            },
        },
        "components": {"type": "object", "minProperties": 1, "additionalProperties": TOOL_SCHEMA},
    },
}

# `group:artifact:version[:classifier] sha256` (recipe.maven.artifacts)
MAVEN_ARTIFACT = r"^[\w.-]+:[\w.-]+:[\w.+-]+(:[\w.-]+)? [0-9a-f]{64}$"
# every image the platform runs in kind: the upstream reference with its digest, and the
# recipe that builds an equivalent here (biogitops/cluster/kind/imagesource.py chooses between them)
IMAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    # a first-party image (a lab's task image) has no upstream: it is always built here
    "required": ["recipe"],
    "dependentRequired": {"upstream": ["verified"], "verified": ["upstream"]},
    "additionalProperties": False,
    "properties": {
        "upstream": {"type": "string", "pattern": r"^[a-z0-9][^@\s]*(@sha256:[0-9a-f]{64})?$"},
        # true: the digest was read from what upstream publishes; false: a machine that reaches the
        # registry must fill it in and check it (the upstream path refuses the pin until then)
        "verified": {"type": "boolean"},
        "recipe": {
            "type": "object",
            "required": ["build"],
            "additionalProperties": False,
            "properties": {
                # nodeimage/ (node), workloads.py (argocd, redis), recipe.py (debian: the generic one)
                "build": {"enum": ["node", "argocd", "redis", "debian"]},
                "base": {"const": "debian"},  # the Debian root filesystem of nodeImage.debian
                "tools": {"type": "array", "items": {"type": "string"}},  # pinned binaries it holds
                "lab": {"type": "boolean"},  # a lab workload image: loaded when a run needs it
                "beside": {"type": "boolean"},  # runs beside the cluster: never loaded into it
                "packages": {"type": "array", "items": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9.+-]*(=\S+)?$"}},
                "maven": {
                    "type": "object",
                    "required": ["repository", "dest", "artifacts"],
                    "additionalProperties": False,
                    "properties": {
                        "repository": {"type": "string", "pattern": "^https://"},
                        "dest": {"type": "string", "pattern": "^/"},
                        "artifacts": {
                            "type": "array",
                            "items": {"type": "string", "pattern": MAVEN_ARTIFACT},
                        },
                    },
                },
                "pypi": {
                    "type": "object",
                    "required": ["venv", "python", "platforms", "requirements"],
                    "additionalProperties": False,
                    "properties": {
                        "venv": {"type": "string", "pattern": "^/"},
                        "python": {"type": "string", "pattern": r"^3\.\d+$"},
                        "platforms": {"type": "array", "items": {"type": "string"}},
                        "bin": {"type": "array", "items": {"type": "string"}},
                        "requirements": {
                            "type": "array",
                            "items": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9._-]*==\S+ [0-9a-f]{64}$"},
                        },
                    },
                },
                "files": {"type": "object", "additionalProperties": {"type": "string"}},
                # image path -> a pinned Java distribution of `tools` (recipe.py)
                "dists": {"type": "object", "additionalProperties": {"type": "string"}},
                "run": {"type": "array", "items": {"type": "string"}},
                "env": {"type": "object", "additionalProperties": {"type": "string"}},
                "user": {"type": "string"},
                "entrypoint": {"type": "array", "items": {"type": "string"}},
                # tar archives (an sdist without a wheel): listed members unpacked into the image
                "archives": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["url", "sha256", "extract"],
                        "additionalProperties": False,
                        "properties": {
                            "url": {"type": "string", "pattern": "^https://"},
                            "sha256": _SHA256,
                            "extract": {
                                "type": "object",
                                "minProperties": 1,
                                "propertyNames": {"pattern": r"^[\w.+-]+(/[\w.+-]+)*$"},
                                "additionalProperties": {"type": "string", "pattern": "^/"},
                            },
                        },
                    },
                },
                # image path -> a Go binary pinned like a tool (source: go), built by tools.py
                "go": {
                    "type": "object",
                    "propertyNames": {"pattern": "^/"},
                    "additionalProperties": TOOL_SCHEMA,
                },
            },
            "if": {"properties": {"build": {"const": "debian"}}},
            "then": {"required": ["base"]},
        },
    },
    # a verified pin carries its digest
    "if": {"properties": {"verified": {"const": True}}},
    "then": {"properties": {"upstream": {"pattern": r"@sha256:[0-9a-f]{64}$"}}},
}
IMAGES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["node"],
    "propertyNames": {"pattern": "^[a-z][a-z0-9-]*$"},
    "additionalProperties": IMAGE_SCHEMA,
}

PINS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["go", "kubernetes", "tools"],
    "properties": {
        "go": {"type": "object", "required": ["version"], "properties": {"version": _VERSION}},
        "kubernetes": {"type": "object", "required": ["version"], "properties": {"version": _VERSION}},
        "images": IMAGES_SCHEMA,
        "charts": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["repoURL", "chart", "version"],
                "additionalProperties": False,
                "properties": {
                    "repoURL": {"type": "string", "pattern": "^(https://|oci://)"},
                    "chart": {"type": "string"},
                    "version": _VERSION,
                    # sha256 of the chart archive, as the repository's index.yaml lists it
                    "digest": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                    # a chart that ships inside a Go module (at tag v<version>): rendered from there,
                    # verified by the Go checksum database, when the chart repository is unreachable
                    "goModule": {"type": "string", "pattern": r"^[a-z0-9.-]+\.[a-z]+/[\w./-]+$"},
                    "goModulePath": {"type": "string", "pattern": r"^[\w.-]+(/[\w.-]+)*$"},
                    # the chart ships in the Go module of this pinned tool, at its version: rendered
                    # from there offline (verified by the Go checksum database)
                    "module_of": {"type": "string", "minLength": 1},
                    "path": {"type": "string", "minLength": 1},
                },
            },
        },
        "nodeImage": NODE_IMAGE_SCHEMA,
        "tools": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"pattern": "^[a-z0-9][a-z0-9-]*$"},
            "additionalProperties": TOOL_SCHEMA,
        },
    },
}


@dataclass(frozen=True)
class ToolPin:
    """One pinned CLI: what version, and how to get it."""

    name: str
    version: str
    source: str
    version_args: tuple[str, ...]
    module: str = ""
    module_version: str = ""
    package: str = ""
    local_replace_version: str = ""
    ldflags: str = ""
    url: str = ""
    sha256: str = ""
    sha512: str = ""
    build_args: tuple[str, ...] = ()
    archive_member: str = ""
    tags: tuple[str, ...] = ()
    main: str = ""  # source: go, our own main package file (repository-relative), instead of `package`

    @property
    def go_module_version(self) -> str:
        """The module tag to fetch from the Go proxy, e.g. 'v0.3MM.P' for Prometheus 3.MM.P."""
        return "v" + (self.module_version or self.version)

    @property
    def main_package(self) -> str:
        """The import path of the main package, e.g. 'helm.sh/helm/v4/cmd/helm'."""
        if self.main:
            return self.main
        return self.module if self.package in ("", ".") else f"{self.module}/{self.package}"

    def render_ldflags(self) -> str:
        return " ".join(self.ldflags.format(version=self.version).split())

    def render_url(self) -> str:
        return self.url.format(version=self.version)


@dataclass(frozen=True)
class ImagePin:
    """One image the platform runs in kind: upstream by digest, or built here by `recipe`."""

    name: str
    upstream: str  # "" for a first-party image, always built here
    verified: bool
    build: str
    base: str = ""
    tools: tuple[str, ...] = ()
    # the whole recipe as pins.yaml writes it (packages, maven, pypi, files, ...: recipe.py)
    recipe: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def lab(self) -> bool:
        """A lab workload image, loaded into kind when a run needs it (not at bootstrap)."""
        return bool(self.recipe.get("lab"))

    @property
    def beside(self) -> bool:
        """An image run beside the cluster on the engine's network (dev's identity provider),
        never loaded into the nodes."""
        return bool(self.recipe.get("beside"))

    @property
    def ref(self) -> ImageRef:
        return parse_ref(self.upstream)


@dataclass(frozen=True)
class Pins:
    """The whole pin file."""

    go_version: str
    kubernetes_version: str
    tools: dict[str, ToolPin] = field(default_factory=dict)
    images: dict[str, ImagePin] = field(default_factory=dict)
    charts: dict[str, dict[str, str]] = field(default_factory=dict)
    # the kind node image built here (biogitops/cluster/kind/nodeimage): Debian release and the Go-built parts
    debian: dict[str, str] = field(default_factory=dict)
    node_components: dict[str, ToolPin] = field(default_factory=dict)

    def tool(self, name: str) -> ToolPin:
        """The pin for `name`, or a ToolError that lists the known names."""
        try:
            return self.tools[name]
        except KeyError:
            known = ", ".join(sorted(self.tools))
            raise ToolError(f"unknown tool {name!r}", f"pinned tools are: {known}") from None


def tool_pins(specs: dict[str, dict[str, Any]]) -> dict[str, ToolPin]:
    pins = {}
    for name, spec in specs.items():
        spec = dict(spec)
        spec["version_args"] = tuple(spec["version_args"])
        spec["tags"] = tuple(spec.get("tags", ()))
        spec["build_args"] = tuple(spec.get("build_args", ()))
        pins[name] = ToolPin(name=name, **spec)
    return pins


def _image_pins(specs: dict[str, dict[str, Any]], tools: dict[str, ToolPin], source: Path | str) -> dict[str, ImagePin]:
    pins = {}
    for name, spec in specs.items():
        recipe = spec["recipe"]
        unknown = [t for t in recipe.get("tools", ()) if t not in tools]
        if unknown:
            raise ConfigError(f"{source}: images.{name}.recipe.tools: {', '.join(unknown)} not under tools:")
        pin = ImagePin(
            name=name,
            upstream=spec.get("upstream", ""),
            verified=spec.get("verified", False),
            build=recipe["build"],
            base=recipe.get("base", ""),
            tools=tuple(recipe.get("tools", ())),
            recipe=dict(recipe),
        )
        try:
            if pin.upstream:
                pin.ref  # noqa: B018 - parsing is the check
        except ConfigError as err:
            raise ConfigError(f"{source}: images.{name}.upstream: {err.message}") from None
        pins[name] = pin
    return pins


def parse_pins(data: Any, source: Path | str = PINS_FILE) -> Pins:
    """Validate the parsed YAML of a pin file and build `Pins` from it."""
    validate(data, PINS_SCHEMA, source)
    node_image = data.get("nodeImage") or {}
    tools = tool_pins(data["tools"])
    return Pins(
        go_version=data["go"]["version"],
        kubernetes_version=data["kubernetes"]["version"],
        tools=tools,
        debian=dict(node_image.get("debian") or {}),
        node_components=tool_pins(node_image.get("components") or {}),
        images=_image_pins(data.get("images") or {}, tools, source),
        charts={k: dict(v) for k, v in (data.get("charts") or {}).items()},
    )


def load_pins(path: Path = PINS_FILE) -> Pins:
    """Read and validate `pins.yaml`; a ConfigError names the file and field that is wrong."""
    data = load_yaml(path)
    if data is None:
        raise ConfigError(f"{path}: empty pin file")
    return parse_pins(data, path)
