# tofu test with a mock AWS provider: runs in ci/actions/terraform-validate.yml (GitHub runners
# download the provider and the registry modules; our machines cannot, see handbook/INFRASTRUCTURE.md).

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

variables {
  name         = "bio-gitops-test"
  environment  = "prod"
  cluster_name = "bio-gitops-test"
  cidr         = "10.42.0.0/16"
  azs          = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
}

run "a_nat_gateway_and_two_subnets_per_zone" {
  command = apply

  assert {
    condition     = length(output.private_subnet_ids) == 3 && length(output.public_subnet_ids) == 3
    error_message = "expected one private and one public subnet in each of the three zones"
  }
  assert {
    condition     = length(output.nat_gateway_ids) == 3
    error_message = "nat_gateway_per_az defaults to one NAT gateway per zone"
  }
  assert {
    condition     = aws_kms_key.flow_logs.enable_key_rotation
    error_message = "the flow log key must rotate"
  }
}

run "one_shared_nat_gateway_when_asked" {
  command = apply

  variables {
    environment        = "dev"
    azs                = ["eu-west-1a", "eu-west-1b"]
    nat_gateway_per_az = false
  }

  assert {
    condition     = length(output.nat_gateway_ids) == 1
    error_message = "nat_gateway_per_az = false must give a single NAT gateway"
  }
}

run "refuses_one_zone" {
  command = plan

  variables {
    azs = ["eu-west-1a"]
  }

  expect_failures = [var.azs]
}

run "refuses_a_range_too_small_for_the_subnets" {
  command = plan

  variables {
    cidr = "10.42.0.0/24"
  }

  expect_failures = [var.cidr]
}
