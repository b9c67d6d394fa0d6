"""Terraform (OpenTofu) for AWS: `invoke infra.*`, the HCL reader, the modules' invariants, their generated docs,
and the pre-destroy teardown."""
