"""Invoke entry point: wires the collections in biogitops/tasks/. Run `invoke --list`."""

from invoke import Collection

from biogitops.tasks import ci, tools

ns = Collection()
ns.add_collection(Collection.from_module(tools), name="tools")
ns.add_collection(Collection.from_module(ci), name="ci")
