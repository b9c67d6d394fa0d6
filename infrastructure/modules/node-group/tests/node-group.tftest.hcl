# tofu test with a mock AWS provider and the upstream node group overridden: the labels and
# taints of each kind. Runs in ci/actions/terraform-validate.yml, not on our machines.

mock_provider "aws" {}

override_module {
  target = module.node_group
  outputs = {
    node_group_arn = "arn:aws:eks:eu-west-1:123456789012:nodegroup/bio-gitops-dev/bio-gitops-dev-gpu/0"
    node_group_id  = "bio-gitops-dev:bio-gitops-dev-gpu"
    iam_role_arn   = "arn:aws:iam::123456789012:role/bio-gitops-dev-gpu"
  }
}

variables {
  kind                               = "gpu"
  cluster_name                       = "bio-gitops-dev"
  kubernetes_version                 = "1.36"
  cluster_endpoint                   = "https://EXAMPLE.gr7.eu-west-1.eks.amazonaws.com"
  cluster_certificate_authority_data = "Q0EK"
  cluster_service_cidr               = "172.20.0.0/16"
  cluster_primary_security_group_id  = "sg-0aaaaaaaaaaaaaaa0"
  node_security_group_id             = "sg-0bbbbbbbbbbbbbbb0"
  subnet_ids                         = ["subnet-0aaaaaaaaaaaaaaa0"]
  instance_types                     = ["g5.xlarge"]
  min_size                           = 0
  max_size                           = 2
  desired_size                       = 1
}

run "gpu_nodes_are_tainted_and_labelled" {
  command = plan

  assert {
    condition     = output.labels["nvidia.com/gpu.present"] == "true" && output.labels["bio-gitops.io/node-group"] == "gpu"
    error_message = "GPU nodes carry the GPU labels of settings.yaml"
  }
  assert {
    condition     = length(output.taints) == 1 && output.taints[0].key == "nvidia.com/gpu" && output.taints[0].effect == "NoSchedule"
    error_message = "GPU nodes carry the nvidia.com/gpu taint"
  }
}

run "general_nodes_take_any_pod" {
  command = plan

  variables {
    kind           = "general"
    instance_types = ["m6i.xlarge"]
  }

  assert {
    condition     = length(output.taints) == 0
    error_message = "general nodes have no taints"
  }
}

run "refuses_desired_above_max" {
  command = plan

  variables {
    desired_size = 5
  }

  expect_failures = [var.desired_size]
}

run "refuses_an_unknown_kind" {
  command = plan

  variables {
    kind = "arm"
  }

  expect_failures = [var.kind]
}
