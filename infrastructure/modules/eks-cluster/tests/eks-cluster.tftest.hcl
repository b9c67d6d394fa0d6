# tofu test with a mock AWS provider and the upstream EKS module's outputs overridden: our
# opinions (the Argo CD cluster Secret, encryption, endpoint exposure) without a real cluster.
# Runs in ci/actions/terraform-validate.yml, not on our machines (no AWS provider here).

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_region" {
    defaults = { region = "eu-west-1" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
}

override_module {
  target = module.eks
  outputs = {
    cluster_name                       = "bio-gitops-staging"
    cluster_endpoint                   = "https://EXAMPLE.gr7.eu-west-1.eks.amazonaws.com"
    cluster_certificate_authority_data = "Q0EK"
    cluster_service_cidr               = "172.20.0.0/16"
    cluster_primary_security_group_id  = "sg-0aaaaaaaaaaaaaaa0"
    node_security_group_id             = "sg-0bbbbbbbbbbbbbbb0"
    oidc_provider_arn                  = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE"
    kms_key_arn                        = "arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000"
  }
}

variables {
  name               = "bio-gitops-staging"
  environment        = "staging"
  kubernetes_version = "1.36"
  vpc_id             = "vpc-0123456789abcdef0"
  subnet_ids         = ["subnet-0aaaaaaaaaaaaaaa0", "subnet-0bbbbbbbbbbbbbbb0", "subnet-0ccccccccccccccc0"]
  gitops_addons      = { gatekeeper = true, monitoring = false }
}

run "cluster_secret_names_environment_and_addons" {
  command = apply

  assert {
    condition     = yamldecode(output.argocd_cluster_secret).metadata.labels["argocd.argoproj.io/secret-type"] == "cluster"
    error_message = "the Secret must be an Argo CD cluster Secret"
  }
  assert {
    condition     = yamldecode(output.argocd_cluster_secret).metadata.labels.environment == "staging"
    error_message = "the environment label must name the environment"
  }
  assert {
    condition = (
      yamldecode(output.argocd_cluster_secret).metadata.labels.enable_gatekeeper == "true" &&
      yamldecode(output.argocd_cluster_secret).metadata.labels.enable_monitoring == "false"
    )
    error_message = "every add-on must appear as an enable_NAME label"
  }
  assert {
    condition     = yamldecode(output.argocd_cluster_secret).stringData.server == "https://kubernetes.default.svc"
    error_message = "Argo CD inside the cluster reaches it in-cluster"
  }
}

run "shared_storage_is_encrypted_with_a_rotating_key" {
  command = apply

  assert {
    condition     = aws_efs_file_system.shared[0].encrypted && aws_kms_key.efs[0].enable_key_rotation
    error_message = "EFS must be encrypted with a rotating KMS key"
  }
  assert {
    condition     = length(aws_efs_mount_target.shared) == 3
    error_message = "one mount target per subnet"
  }
}

run "prod_refuses_a_public_endpoint" {
  command = plan

  variables {
    environment            = "prod"
    endpoint_public_access = true
  }

  expect_failures = [var.endpoint_public_access]
}

run "refuses_the_whole_internet" {
  command = plan

  variables {
    endpoint_public_access       = true
    endpoint_public_access_cidrs = ["0.0.0.0/0"]
  }

  expect_failures = [var.endpoint_public_access_cidrs]
}
