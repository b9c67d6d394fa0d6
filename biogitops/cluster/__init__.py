"""Cluster providers behind one interface (`base.Provider`): kind, kwok, existing."""

from __future__ import annotations

import os
import re

from biogitops.cluster.base import ClusterStatus, Provider, ProviderError
from biogitops.cluster.existing import ExistingProvider
from biogitops.cluster.kind.provider import KindProvider, engine_answer
from biogitops.cluster.kwok.provider import KwokProvider
from biogitops.config.settings import PROVIDERS, Settings
from biogitops.errors import ConfigError

_REGISTRY: dict[str, type[Provider]] = {
    "kind": KindProvider,
    "kwok": KwokProvider,
    "existing": ExistingProvider,
}

__all__ = ["ClusterStatus", "Provider", "ProviderError", "get_provider"]


def get_provider(settings: Settings, override: str | None = None, instance: str = "", port_offset: int = 0) -> Provider:
    """The provider named on the command line, else the one in the environment's settings.

    BIOGITOPS_INSTANCE and BIOGITOPS_PORT_OFFSET move every cluster this process makes aside,
    throw-away ones included, so that a second checkout can run its own beside a running one:
        BIOGITOPS_INSTANCE=b BIOGITOPS_PORT_OFFSET=1000 invoke bootstrap --env dev --provider kwok
    """
    name = override or settings.provider
    reason = f"--provider {name}" if override else f"clusters/{settings.env}/settings.yaml says {name}"
    if name == "auto":
        name, why = choose_auto()
        reason = f"auto: {why}"
    if name not in _REGISTRY:
        raise ConfigError(f"unknown provider {name!r}", f"choose one of: {', '.join(PROVIDERS)}")
    aside = os.environ.get("BIOGITOPS_INSTANCE", "")
    if aside and not re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,18}[a-z0-9])?", aside):
        raise ConfigError(f"BIOGITOPS_INSTANCE={aside!r}: not a short DNS label", "e.g. BIOGITOPS_INSTANCE=b")
    offset = os.environ.get("BIOGITOPS_PORT_OFFSET", "0") or "0"
    if not offset.isdigit():
        raise ConfigError(f"BIOGITOPS_PORT_OFFSET={offset!r}: not a number of ports", "e.g. BIOGITOPS_PORT_OFFSET=1000")
    instance = "-".join(part for part in (aside, instance) if part)
    provider = _REGISTRY[name](settings, instance=instance, port_offset=port_offset + int(offset))
    provider.reason = reason
    return provider


def choose_auto() -> tuple[str, str]:
    """`provider: auto`: kind when a container engine answers, kwok otherwise; and why."""
    answers, detail = engine_answer()
    if answers:
        return "kind", f"{detail} answered, so kind"
    return "kwok", f"no container engine ({detail}), so kwok"
