"""The `labs` ApplicationSet's generator: one parameter set per lab file, each file read alone.

Argo CD's git files generator parses every matched file before it renders any, so one lab file
that is not YAML stopped every lab (applicationset/generators/git.go, Argo CD 3.5.3). The `labs`
ApplicationSet asks this service instead, as its plugin generator. It lists
`clusters/<env>/labs/*.yaml` at the revision the ApplicationSet names and reads each file with
preflight's own reader (biogitops/config/plainyaml.py). A file that reader refuses still becomes
a lab, with `lab: {}` and the refusal in `refused`: the lab-tenant chart refuses that one
Application naming the file and the rule, `invoke status` lists it, and every other lab syncs.

It needs Python, PyYAML and git only (its image: pins.yaml `images.lab-files-generator`). It runs
beside the ApplicationSet controller (kwok: a process of ours; kind: a container in its pod),
listening on loopback; Argo CD sends the token of the Secret `lab-files-generator`.

    python3 -m biogitops.platform.labgen --listen 127.0.0.1:4355 \\
        --token-file /run/lab-files-generator/token --cache /var/cache/lab-files-generator

    curl -s -H "Authorization: Bearer $(cat token)" -d '{"input": {"parameters":
        {"repoURL": "file:///srv/bio-gitops.git", "revision": "snapshot",
         "labsDir": "clusters/dev/labs", "excludeSuffixes": "nextflow,galaxy,spark"}}}' \\
        http://127.0.0.1:4355/api/v1/getparams.execute
"""

from __future__ import annotations

import argparse
import hmac
import json
import logging
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from biogitops.config.plainyaml import parse_plain_yaml
from biogitops.errors import BioGitopsError, ConfigError

PATH = "/api/v1/getparams.execute"
DEFAULT_PORT = 4355
LABS_DIR = re.compile(r"clusters/[a-z0-9][a-z0-9-]*/labs")
SUFFIX = re.compile(r"[a-z][a-z0-9-]*")
# a fetch answers every request that comes within this many seconds of it (the controller asks
# once per reconcile; a burst of refreshes should not be a burst of fetches)
FETCH_REUSE_S = 2.0
log = logging.getLogger("lab-files-generator")


class RequestError(BioGitopsError):
    """The request names something this generator will not read (HTTP 400)."""


@dataclass(frozen=True)
class Request:
    """What the `labs` ApplicationSet asks for (its generator's `input.parameters`)."""

    repo_url: str
    revision: str
    labs_dir: str
    exclude_suffixes: tuple[str, ...]

    @classmethod
    def parse(cls, body: dict[str, Any]) -> Request:
        params = ((body.get("input") or {}).get("parameters")) or {}
        if not isinstance(params, dict):
            raise RequestError("input.parameters: not a map")
        missing = [k for k in ("repoURL", "revision", "labsDir") if not isinstance(params.get(k), str) or not params[k]]
        if missing:
            raise RequestError(f"input.parameters: {', '.join(missing)} required")
        if not LABS_DIR.fullmatch(params["labsDir"]):
            raise RequestError(f"input.parameters.labsDir: {params['labsDir']!r} is not clusters/<env>/labs")
        if params["revision"].startswith("-") or params["repoURL"].startswith("-"):
            raise RequestError("input.parameters: repoURL and revision may not start with '-'")
        suffixes = tuple(s for s in str(params.get("excludeSuffixes") or "").split(",") if s)
        bad = [s for s in suffixes if not SUFFIX.fullmatch(s)]
        if bad:
            raise RequestError(f"input.parameters.excludeSuffixes: {bad[0]!r} is not an app name")
        return cls(params["repoURL"], params["revision"], params["labsDir"], suffixes)


def lab_params(files: dict[str, bytes], request: Request) -> list[dict[str, Any]]:
    """One parameter set per lab file (name -> content, the files directly in the labs folder):
    `path` as Argo CD's git files generator gives it, `lab` (the file's fields) and `refused`
    (why preflight's reader refuses the file, or "")."""
    out = []
    for name in sorted(files):
        if not name.endswith(".yaml") or any(name.endswith(f"-{s}.yaml") for s in request.exclude_suffixes):
            continue  # `genomics-nextflow.yaml` would be named like lab-genomics' own child Application
        shown = f"{request.labs_dir}/{name}"
        lab: Any = {}
        refused = ""
        try:
            lab = parse_plain_yaml(files[name].decode("utf-8"), shown)
        except UnicodeDecodeError as err:
            refused = f"{shown}: <file>: not UTF-8 text (byte {err.start}) (rule lab-yaml)"
        except ConfigError as err:
            refused = _as_rule(err.message, shown)
        if not refused and not isinstance(lab, dict):
            refused = f"{shown}: <file>: not a map of fields (rule lab-yaml)"
            lab = {}
        out.append(
            {
                "path": {
                    "path": request.labs_dir,
                    "basename": Path(request.labs_dir).name,
                    "filename": name,
                    "filenameNormalized": name.replace("_", "-"),
                },
                "lab": lab if not refused else {},
                "refused": refused,
            }
        )
    return out


def _as_rule(message: str, shown: str) -> str:
    """plainyaml's message as the chart refuses it: `<file>: <where>: <problem> (rule <rule>)`."""
    rest = message[len(shown) :] if message.startswith(shown) else f": {message}"
    match = re.fullmatch(r":(\d+): (.*)", rest, re.S) or re.fullmatch(r": (.*)", rest, re.S)
    where, problem = (f"line {match.group(1)}", match.group(2)) if match and match.lastindex == 2 else ("<file>", "")
    problem = (problem or (match.group(1) if match else rest)).strip().replace("\n", " ")
    if not re.search(r"\(rule [a-z-]+\)$", problem):
        problem = f"{problem} (rule lab-yaml)"
    return f"{shown}: {where}: {problem}"


@dataclass
class GitReader:
    """The lab files at a revision of a repository, fetched into a bare cache of our own."""

    cache: Path
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _fetched: dict[tuple[str, str], tuple[float, str]] = field(default_factory=dict)

    def _git(self, *args: str, stdin: bytes | None = None) -> bytes:
        env = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_CONFIG_NOSYSTEM="1")
        proc = subprocess.run(
            ["git", "-C", str(self.cache), *args], input=stdin, capture_output=True, env=env, check=False, timeout=120
        )
        if proc.returncode != 0:
            lines = proc.stderr.decode(errors="replace").strip().splitlines() or ["no output"]
            first = next((line for line in lines if line.startswith(("fatal:", "error:"))), lines[-1])
            raise BioGitopsError(f"git {args[0]}: {first}")
        return proc.stdout

    def commit(self, repo_url: str, revision: str) -> str:
        """The commit `revision` names in `repo_url` now (fetched, at most every FETCH_REUSE_S)."""
        with self._lock:
            if not (self.cache / "HEAD").is_file():
                self.cache.mkdir(parents=True, exist_ok=True)
                self._git("init", "-q", "--bare")
            seen = self._fetched.get((repo_url, revision))
            if seen and time.monotonic() - seen[0] < FETCH_REUSE_S:
                return seen[1]
            if re.fullmatch(r"[0-9a-f]{40}", revision) and self._has(revision):
                commit = revision  # a commit never changes: nothing to fetch
            else:
                self._git("fetch", "-q", "--no-tags", "--depth=1", "--", repo_url, revision)
                commit = self._git("rev-parse", "FETCH_HEAD^{commit}").decode().strip()
            self._fetched[(repo_url, revision)] = (time.monotonic(), commit)
            return commit

    def _has(self, commit: str) -> bool:
        try:
            self._git("cat-file", "-e", f"{commit}^{{commit}}")
            return True
        except BioGitopsError:
            return False

    def files(self, commit: str, folder: str) -> dict[str, bytes]:
        """name -> content of every file directly in `folder` at `commit` (none: {})."""
        listing = self._git("ls-tree", "-z", commit, f"{folder}/")
        blobs = {}
        for entry in listing.split(b"\0"):
            if not entry:
                continue
            meta, _, path = entry.partition(b"\t")
            _, kind, sha = meta.split()
            if kind == b"blob":
                blobs[path.decode().rsplit("/", 1)[-1]] = sha.decode()
        if not blobs:
            return {}
        out = self._git("cat-file", "--batch", stdin="".join(f"{s}\n" for s in blobs.values()).encode())
        contents: dict[str, bytes] = {}
        by_sha = {sha: name for name, sha in blobs.items()}
        pos = 0
        while pos < len(out):
            header_end = out.index(b"\n", pos)
            sha, _, size = out[pos:header_end].decode().split()
            start = header_end + 1
            contents[by_sha[sha]] = out[start : start + int(size)]
            pos = start + int(size) + 1
        return contents


@dataclass
class Generator:
    """Answers the plugin generator's requests; caches each commit's parameters."""

    reader: GitReader
    token: Callable[[], str]  # read at each request: a new cluster's Secret needs no restart
    _answers: dict[tuple[str, Request], list[dict[str, Any]]] = field(default_factory=dict)

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        request = Request.parse(body)
        commit = self.reader.commit(request.repo_url, request.revision)
        key = (commit, request)
        if key not in self._answers:
            params = lab_params(self.reader.files(commit, request.labs_dir), request)
            self._answers = {key: params}  # the newest commit only: the controller asks for HEAD
            refused = [p["path"]["filename"] for p in params if p["refused"]]
            log.info("%s at %s: %d lab file(s), refused: %s", request.labs_dir, commit[:12], len(params), refused)
        return {"output": {"parameters": self._answers[key]}}

    def authorized(self, header: str | None) -> bool:
        token = self.token()
        return bool(header and token) and hmac.compare_digest(header or "", f"Bearer {token}")


def handler(generator: Generator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "lab-files-generator"

        def _reply(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/healthz":
                self._reply(200, {"status": "ok"})
            else:
                self._reply(404, {"error": f"{self.path}: not found (POST {PATH})"})

        def do_POST(self) -> None:
            if self.path != PATH:
                self._reply(404, {"error": f"{self.path}: not found (POST {PATH})"})
                return
            if not generator.authorized(self.headers.get("Authorization")):
                self._reply(401, {"error": "a bearer token of the Secret lab-files-generator is required"})
                return
            try:
                size = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(min(size, 1 << 20)) or b"{}")
                self._reply(200, generator.answer(body if isinstance(body, dict) else {}))
            except (RequestError, json.JSONDecodeError) as err:
                self._reply(400, {"error": str(err)})
            except BioGitopsError as err:  # the repository could not be read: Argo CD keeps every lab
                log.warning("%s", err)
                self._reply(502, {"error": str(err)})

        def log_message(self, fmt: str, *args: Any) -> None:
            log.debug(fmt, *args)

    return Handler


def serve(listen: str, token: Callable[[], str], cache: Path) -> None:
    """Serve until SIGTERM/SIGINT (the handler is installed before the port opens)."""
    import signal

    host, _, port = listen.rpartition(":")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server = ThreadingHTTPServer((host or "127.0.0.1", int(port)), handler(Generator(GitReader(cache), token)))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    log.info("lab-files-generator ready on %s:%s", host, port)
    stop.wait()
    server.shutdown()
    log.info("stopped")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lab-files-generator", description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default=f"127.0.0.1:{DEFAULT_PORT}", help="host:port (loopback)")
    parser.add_argument("--token-file", type=Path, help="file holding the token (default: $LAB_FILES_TOKEN)")
    parser.add_argument("--cache", type=Path, required=True, help="a writable folder for the bare git cache")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)

    def token() -> str:
        if args.token_file:
            return args.token_file.read_text().strip() if args.token_file.is_file() else ""
        return os.environ.get("LAB_FILES_TOKEN", "").strip()

    if not token():
        print("lab-files-generator: no token (--token-file or LAB_FILES_TOKEN)", file=sys.stderr)
        return 2
    serve(args.listen, token, args.cache)
    return 0


if __name__ == "__main__":
    sys.exit(main())
