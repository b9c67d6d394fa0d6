"""biogitops/cluster/kubewatch.py: one list, then only changes; a broken watch lists again and misses nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from biogitops.cluster.kube import Kubectl
from biogitops.cluster.kubewatch import ObjectWatch, apply_event

PATH = "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications"


def app(name: str, rv: str, state: str = "OutOfSync") -> dict[str, Any]:
    return {"metadata": {"name": name, "resourceVersion": rv}, "status": {"sync": {"status": state}}}


@pytest.mark.parametrize(
    ("event", "after", "resume"),
    [
        ({"type": "ADDED", "object": app("c", "7")}, {"a", "b", "c"}, "7"),
        ({"type": "MODIFIED", "object": app("a", "8", "Synced")}, {"a", "b"}, "8"),
        ({"type": "DELETED", "object": app("b", "9")}, {"a"}, "9"),
        ({"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "10"}}}, {"a", "b"}, "10"),
        ({"type": "ERROR", "object": {"code": 410, "reason": "Expired"}}, {"a", "b"}, None),
    ],
    ids=["added", "modified-replaces", "deleted-drops", "bookmark-only-moves-the-version", "gone-asks-for-a-new-list"],
)
def test_apply_event(event: dict[str, Any], after: set[str], resume: str | None) -> None:
    objects = {"a": app("a", "1"), "b": app("b", "2")}
    assert apply_event(objects, event) == resume
    assert set(objects) == after
    if event["type"] == "MODIFIED":
        assert objects["a"]["status"]["sync"]["status"] == "Synced"


FAKE = """
import json, sys, time
from pathlib import Path
state = Path(sys.argv[1])
path = sys.argv[-1]
kind = "watch" if "watch=1" in path else "list"
with state.open("a") as log:  # append-only: a list and a watch may run at the same time
    log.write(f"{kind} {path}\\n")
n = sum(1 for c in state.read_text().splitlines() if c.startswith(kind)) - 1
script = json.loads((state.parent / "script.json").read_text())[kind]
out = script[min(n, len(script) - 1)]
if kind == "list":
    print(json.dumps(out))
    sys.exit(0)
for event in out["events"]:
    print(json.dumps(event), flush=True)
time.sleep(out.get("hold", 0))
sys.exit(out.get("exit", 0))
"""


class FakeKubectl(Kubectl):
    """`kubectl get --raw` played from a script: lists, and watches that print events."""

    def __init__(self, tmp: Path, script: dict[str, Any]) -> None:
        self.state = tmp / "calls.json"
        self.state.write_text("")
        (tmp / "script.json").write_text(json.dumps(script))
        (tmp / "fake.py").write_text(FAKE)
        self.fake = tmp / "fake.py"
        self.kubeconfig, self.context, self.binary = None, None, sys.executable

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, str(self.fake), str(self.state), *args]

    def calls(self) -> list[str]:
        return self.state.read_text().splitlines()


def listing(rv: str, *items: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"resourceVersion": rv}, "items": list(items)}


def eventually(check, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the watch never caught up"
        time.sleep(0.05)


def test_changes_after_the_list_arrive_without_another_list(tmp_path: Path) -> None:
    kubectl = FakeKubectl(
        tmp_path,
        {
            "list": [listing("5", app("a", "3"), app("b", "4"))],
            "watch": [
                {
                    "events": [
                        {"type": "MODIFIED", "object": app("a", "6", "Synced")},
                        {"type": "DELETED", "object": app("b", "7")},
                    ],
                    "hold": 60,
                }
            ],
        },
    )
    with ObjectWatch(kubectl, PATH) as watch:
        eventually(lambda: set(watch.objects()) == {"a"})
        assert watch.objects()["a"]["status"]["sync"]["status"] == "Synced"
    calls = kubectl.calls()
    assert [c.split()[0] for c in calls] == ["list", "watch"]
    assert "resourceVersion=5" in calls[1], "the watch must start where the list ended"


def test_an_expired_watch_lists_again(tmp_path: Path) -> None:
    kubectl = FakeKubectl(
        tmp_path,
        {
            "list": [listing("5", app("a", "3")), listing("20", app("a", "3"), app("late", "19"))],
            "watch": [{"events": [{"type": "ERROR", "object": {"code": 410}}], "hold": 60}, {"events": [], "hold": 60}],
        },
    )
    with ObjectWatch(kubectl, PATH) as watch:
        eventually(lambda: "late" in watch.objects() and len(kubectl.calls()) >= 4)
    calls = kubectl.calls()
    assert [c.split()[0] for c in calls][:4] == ["list", "watch", "list", "watch"]
    assert "resourceVersion=20" in calls[3]


def test_a_watch_the_server_ends_resumes_from_the_last_version(tmp_path: Path) -> None:
    kubectl = FakeKubectl(
        tmp_path,
        {
            "list": [listing("5", app("a", "3"))],
            "watch": [
                {"events": [{"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "11"}}}], "exit": 0},
                {"events": [{"type": "ADDED", "object": app("b", "12")}], "hold": 60},
            ],
        },
    )
    with ObjectWatch(kubectl, PATH) as watch:
        eventually(lambda: "b" in watch.objects())
    calls = kubectl.calls()
    assert [c.split()[0] for c in calls][:3] == ["list", "watch", "watch"]
    assert "resourceVersion=11" in calls[2]


def test_close_while_a_watch_is_starting_leaves_no_watch_running(tmp_path: Path, monkeypatch) -> None:
    kubectl = FakeKubectl(tmp_path, {"list": [listing("5", app("a", "3"))], "watch": [{"events": [], "hold": 60}]})
    watch = ObjectWatch(kubectl, PATH)
    real_popen, started, closer = subprocess.Popen, [], []

    def popen_after_close_began(argv, *args, **kwargs):  # close() runs between "go on?" and the start
        if not any("watch=1" in a for a in argv):
            return real_popen(argv, *args, **kwargs)
        thread = threading.Thread(target=watch.close)
        thread.start()
        closer.append(thread)
        eventually(watch._stop.is_set)
        started.append(real_popen(argv, *args, **kwargs))
        return started[-1]

    monkeypatch.setattr(subprocess, "Popen", popen_after_close_began)
    watch.start()
    eventually(lambda: bool(closer))
    closer[0].join(timeout=30)
    try:
        assert not closer[0].is_alive()
        assert [p.poll() is not None for p in started] == [True] * len(started)
    finally:
        for proc in started:
            proc.kill()
