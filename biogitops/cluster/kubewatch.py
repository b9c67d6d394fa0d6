"""A live view of one kind of object: listed once, then kept current by a watch.

    with ObjectWatch(kubectl, "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications") as apps:
        apps.objects()        # name -> object, as of the last change received

A loop that lists every object every few seconds costs the API server, kubectl and this process
CPU in proportion to objects times looks: at a thousand labs that is most of a core. A watch
costs one event per change. Both the list and the watch go through `kubectl get --raw`, so the
watch starts exactly at the list's resourceVersion and misses nothing; when the watch ends
(the server's timeout, or "410 Gone" after a long pause) the view is listed again.
"""

from __future__ import annotations

import json
import subprocess
import threading
from typing import Any

from biogitops.cluster.kube import Kubectl
from biogitops.errors import BioGitopsError

WATCH_SECONDS = 600  # one watch request at most this long, then a fresh list and watch


def apply_event(objects: dict[str, dict[str, Any]], event: dict[str, Any]) -> str | None:
    """Apply one watch event to `objects` (name -> object). Returns the resourceVersion to
    resume from, or None when the watch must start over from a new list (an ERROR event)."""
    kind, obj = event.get("type"), event.get("object") or {}
    if kind == "ERROR":
        return None
    meta = obj.get("metadata") or {}
    if kind in ("ADDED", "MODIFIED"):
        objects[meta["name"]] = obj
    elif kind == "DELETED":
        objects.pop(meta.get("name", ""), None)
    return meta.get("resourceVersion")


class ObjectWatch:
    """Objects at one API path (a namespaced or cluster-wide collection), kept current in a thread."""

    def __init__(self, kubectl: Kubectl, path: str) -> None:
        self.kubectl = kubectl
        self.path = path
        self._objects: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._proc: subprocess.Popen[str] | None = None
        self._proc_lock = threading.Lock()  # close() and a starting watch: one of them sees the other
        self._error: BioGitopsError | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> ObjectWatch:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def start(self) -> None:
        """List now (errors raise here), then follow the changes in a background thread."""
        version = self._list()
        self._thread = threading.Thread(target=self._follow, args=(version,), daemon=True, name=f"watch {self.path}")
        self._thread.start()

    def objects(self) -> dict[str, dict[str, Any]]:
        """A copy of name -> object; raises the watch's error when it could not go on."""
        if self._error:
            raise self._error
        with self._lock:
            return dict(self._objects)

    def close(self) -> None:
        self._stop.set()
        with self._proc_lock:  # a watch starting now sees the stop; one started before is killed
            if self._proc and self._proc.poll() is None:
                self._proc.kill()
                self._proc.wait()
        if self._thread:
            self._thread.join(timeout=10)

    # ------------------------------------------------------------------ internals
    def _list(self) -> str:
        listing = json.loads(self.kubectl.run("get", "--raw", self.path))
        with self._lock:
            self._objects = {o["metadata"]["name"]: o for o in listing.get("items") or []}
        return listing["metadata"]["resourceVersion"]

    def _follow(self, version: str) -> None:
        try:
            self._follow_from(version)
        except Exception as err:  # a dead watch must not leave a frozen view behind
            self._error = BioGitopsError(f"watching {self.path} stopped: {err}")

    def _follow_from(self, version: str) -> None:
        failures = 0
        while not self._stop.is_set():
            resumed = self._watch_once(version)
            if self._stop.is_set():
                return
            if resumed is not None:  # the server ended the watch on time: go on from there
                version, failures = resumed, 0
                continue
            failures += 1
            if failures > 5:
                self._error = BioGitopsError(f"watching {self.path} failed {failures} times in a row")
                return
            self._stop.wait(min(2 ** (failures - 1) - 1, 30))  # a first failure (410 Gone) is routine: at once
            try:  # list again, so nothing that changed meanwhile is missed
                version = self._list()
            except BioGitopsError:
                continue

    def _watch_once(self, version: str) -> str | None:
        """One watch request from `version`; the version to resume from, or None to list again."""
        query = f"?watch=1&allowWatchBookmarks=true&timeoutSeconds={WATCH_SECONDS}&resourceVersion={version}"
        with self._proc_lock:
            if self._stop.is_set():
                return None
            self._proc = proc = subprocess.Popen(
                self.kubectl.argv("get", "--raw", self.path + query),
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
        assert proc.stdout is not None
        resume: str | None = version
        for line in proc.stdout:
            with self._lock:
                resume = apply_event(self._objects, json.loads(line))
            if resume is None:  # an ERROR event: usually 410 Gone, the version is too old
                proc.kill()
                break
        proc.wait()
        return resume if proc.returncode == 0 else None
