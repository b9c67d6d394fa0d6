"""The pinned tools: CLIs built or downloaded into the cache (`invoke tools.install`), upstream Go
modules, chart archives."""
