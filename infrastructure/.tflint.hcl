# tflint for every module and environment (nox -s terraform runs it in each directory).
# Core with its bundled terraform ruleset only: the AWS ruleset is not on the Go module proxy,
# so AWS-specific checks (instance types, ...) are left to checkov and the GitHub workflow.
config {
  # local modules are followed; registry modules would need `tofu init`, which needs the network
  call_module_type = "local"
}

plugin "terraform" {
  enabled = true
  preset  = "recommended"
}
