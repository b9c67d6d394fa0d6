"""Benchmarks written to out/bench.json (`nox -s bench`): kwok startup, bootstrap and the scale curve; kind image
and cluster timings."""
