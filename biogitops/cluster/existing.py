"""existing provider: any cluster reachable through a kubeconfig context (EKS, on-prem RHEL).

bio-gitops never creates or deletes such a cluster; `create` checks that it answers.

    invoke cluster.create --env prod        # context from clusters/prod/settings.yaml
"""

from __future__ import annotations

import os
from pathlib import Path

from biogitops.cluster.base import ClusterStatus, Provider, ProviderError
from biogitops.cluster.kube import Kubectl


def _quiet(_: str) -> None:
    pass


class ExistingProvider(Provider):
    name = "existing"

    def kubeconfig(self) -> Path | None:
        env = os.environ.get("KUBECONFIG")
        return Path(env.split(os.pathsep)[0]) if env else None

    @property
    def context(self) -> str | None:
        return self.settings.context

    def status(self) -> ClusterStatus:
        ok = Kubectl(self.kubeconfig(), self.context).reachable()
        return ClusterStatus(
            self.name, self.context or "current-context", ok, ok, "reachable" if ok else "not reachable"
        )

    def create(self, progress=_quiet) -> ClusterStatus:
        progress(f"checking kubeconfig context {self.context}")
        current = self.status()
        if not current.ready:
            raise ProviderError(
                f"cluster behind kubeconfig context {self.context!r} is unreachable",
                "check `kubectl --context <ctx> get --raw /readyz`, VPN and credentials",
            )
        return current

    def delete(self, progress=_quiet) -> None:
        progress(f"an existing cluster ({self.context}) is never deleted by bio-gitops; nothing to do")
