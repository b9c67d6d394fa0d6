"""The one way a task reaches a cluster: an environment's settings, its provider and a kubectl.

    from biogitops.cluster.target import Target
    target = Target("dev", "kwok")          # `--env dev --provider kwok`; provider None: settings.yaml's
    target.settings, target.provider        # read and chosen once, here
    target.kubectl.json("get", "nodes")     # made on first use (it needs the pinned kubectl)

An unknown environment or provider is a ConfigError whose one line names the fix. Benchmarks
and tests that need a second cluster beside the environment's pass `instance` and `port_offset`
(BIOGITOPS_INSTANCE / BIOGITOPS_PORT_OFFSET still move every cluster of the process aside), or
wrap a provider they already made with `Target.of(provider)`.
"""

from __future__ import annotations

from functools import cached_property

from biogitops.cluster import Provider, get_provider
from biogitops.cluster.kube import Kubectl
from biogitops.config.settings import Settings, load_settings


class Target:
    """One environment's cluster as a task sees it: `settings`, `provider`, `kubectl`."""

    provider: Provider

    def __init__(
        self, env: str, provider: str | None = None, *, instance: str = "", port_offset: int = 0, offline: bool = False
    ) -> None:
        """Read clusters/ENV/settings.yaml and choose the provider (`provider` overrides the file's);
        `offline` (`--offline`): ask no registry, build kind's images from source."""
        self.provider = get_provider(load_settings(env), provider, instance=instance, port_offset=port_offset)
        self.provider.offline = offline

    @classmethod
    def of(cls, provider: Provider) -> Target:
        """The target of a provider already made (its settings are the provider's)."""
        target = cls.__new__(cls)
        target.provider = provider
        return target

    @property
    def settings(self) -> Settings:
        return self.provider.settings

    @property
    def env(self) -> str:
        return self.provider.settings.env

    @cached_property
    def kubectl(self) -> Kubectl:
        """A kubectl for the provider's kubeconfig and context (ToolError naming the install when missing)."""
        return self.provider.kubectl()

    def __repr__(self) -> str:
        return f"Target({self.env!r}, {self.provider.name!r}, cluster={self.provider.cluster_name!r})"
