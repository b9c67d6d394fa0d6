"""Lab files Argo CD could not turn into a lab, and why: what `invoke status` prints under
"broken lab files". One broken file stops only its own Application (the lab-tenant chart refuses
it naming the rule) or, when it is not YAML at all, the `labs` ApplicationSet's generator.

    from biogitops.platform.labfiles import live_broken_lab_files
    live_broken_lab_files(Target("dev", "kwok"))
    # [("clusters/dev/labs/x.yaml", "quota.gpu: 64000 is not ... (rule lab-quota-gpu)")]
"""

from __future__ import annotations

import re
from typing import Any

from biogitops.cluster.target import Target

# what the lab-tenant chart's refusal looks like inside Argo CD's condition message
_REFUSAL = re.compile(r"(clusters/[a-z0-9-]+/labs/[^\s:]+): (.+?\(rule [a-z-]+\))")
# what the git files generator says when a file does not parse (applicationset/generators/git.go)
_UNPARSED = re.compile(r"unable to process file '([^']+)' from repository '[^']*': (.+)")
LAB_LAYER = "labs"


def broken_lab_files(
    applications: list[dict[str, Any]], applicationset: dict[str, Any] | None
) -> list[tuple[str, str]]:
    """(lab file, reason) for every lab file refused: from the conditions and last sync of the
    `labs` ApplicationSet's Applications, and from the ApplicationSet's own error condition."""
    found: dict[str, str] = {}
    for app in applications:
        if (app.get("metadata", {}).get("labels") or {}).get("bio-gitops.io/layer") != LAB_LAYER:
            continue
        status = app.get("status") or {}
        messages = [c.get("message", "") for c in status.get("conditions") or []]
        messages.append(((status.get("operationState") or {}).get("message")) or "")
        for message in messages:
            match = _REFUSAL.search(message)
            if match:
                found.setdefault(match.group(1), match.group(2))
    for cond in ((applicationset or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == "ErrorOccurred" and cond.get("status") == "True":
            match = _UNPARSED.search(cond.get("message", ""))
            if match:
                found.setdefault(match.group(1), f"{match.group(2)} (every lab waits until it is fixed)")
    return sorted(found.items())


def live_broken_lab_files(target: Target) -> list[tuple[str, str]]:
    """`broken_lab_files` of the target's cluster, now."""
    kubectl = target.kubectl
    apps = kubectl.json("-n", "argocd", "get", "applications.argoproj.io", "-l", f"bio-gitops.io/layer={LAB_LAYER}")
    appset = None
    if kubectl.ok("-n", "argocd", "get", "applicationsets.argoproj.io", "labs"):
        appset = kubectl.json("-n", "argocd", "get", "applicationsets.argoproj.io", "labs")
    return broken_lab_files(apps["items"], appset)
