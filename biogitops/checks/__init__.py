"""What each Nox session runs: conformance of rendered objects, repository rules, alert rules, policy suites,
runbooks, Terraform checks."""
