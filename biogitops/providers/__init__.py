"""Cluster providers behind one interface (`base.Provider`): kind, kwok, existing."""

from __future__ import annotations

from biogitops.errors import ConfigError
from biogitops.providers.base import ClusterStatus, Provider, ProviderError
from biogitops.providers.existing import ExistingProvider
from biogitops.providers.kind import KindProvider
from biogitops.providers.kwok import KwokProvider
from biogitops.settings import PROVIDERS, Settings

_REGISTRY: dict[str, type[Provider]] = {
    "kind": KindProvider,
    "kwok": KwokProvider,
    "existing": ExistingProvider,
}

__all__ = ["ClusterStatus", "Provider", "ProviderError", "get_provider"]


def get_provider(settings: Settings, override: str | None = None, instance: str = "", port_offset: int = 0) -> Provider:
    """The provider named on the command line, else the one in the environment's settings."""
    name = override or settings.provider
    if name not in _REGISTRY:
        raise ConfigError(f"unknown provider {name!r}", f"choose one of: {', '.join(PROVIDERS)}")
    return _REGISTRY[name](settings, instance=instance, port_offset=port_offset)
