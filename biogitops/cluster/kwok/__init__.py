"""kwok: the provider (a real control plane with simulated nodes), the storage stand-in, and every controller run
as a local process beside it."""
