# dev: small and cheap. Two zones (the fewest EKS accepts), one shared NAT gateway, small
# instances, no GPU node until one is asked for; the public endpoint opens only for listed networks.

locals {
  cluster_name       = "bio-gitops-dev"
  kubernetes_version = "1.36"

  # one node group per entry of nodeGroups in clusters/dev/settings.yaml (tests/terraform checks it)
  node_groups = {
    general = { instance_types = ["m6i.xlarge"], min_size = 1, max_size = 3, desired_size = 2 }
    spot    = { instance_types = ["m6i.2xlarge", "m6a.2xlarge", "m5.2xlarge"], min_size = 0, max_size = 4, desired_size = 1 }
    gpu     = { instance_types = ["g5.xlarge"], min_size = 0, max_size = 1, desired_size = 0 }
  }
}

module "vpc" {
  source = "../../modules/vpc"

  name                    = local.cluster_name
  environment             = "dev"
  cluster_name            = local.cluster_name
  cidr                    = "10.40.0.0/16"
  azs                     = ["eu-west-1a", "eu-west-1b"]
  nat_gateway_per_az      = false
  flow_log_retention_days = 30
}

module "eks_cluster" {
  source = "../../modules/eks-cluster"

  name               = local.cluster_name
  environment        = "dev"
  kubernetes_version = local.kubernetes_version
  vpc_id             = module.vpc.vpc_id
  subnet_ids         = module.vpc.private_subnet_ids
  admin_role_arns    = var.admin_role_arns
  log_retention_days = 30

  endpoint_public_access       = length(var.endpoint_public_access_cidrs) > 0
  endpoint_public_access_cidrs = var.endpoint_public_access_cidrs

  # as `addons` in clusters/dev/settings.yaml: labels of the Argo CD cluster Secret
  gitops_addons = {
    gatekeeper    = true
    sealedSecrets = true
    monitoring    = true
    sparkOperator = true
    galaxyDeps    = true
  }
}

module "node_group" {
  source   = "../../modules/node-group"
  for_each = local.node_groups

  kind           = each.key
  instance_types = each.value.instance_types
  min_size       = each.value.min_size
  max_size       = each.value.max_size
  desired_size   = each.value.desired_size
  disk_size_gib  = 50

  cluster_name                       = module.eks_cluster.cluster_name
  kubernetes_version                 = local.kubernetes_version
  cluster_endpoint                   = module.eks_cluster.cluster_endpoint
  cluster_certificate_authority_data = module.eks_cluster.cluster_certificate_authority_data
  cluster_service_cidr               = module.eks_cluster.cluster_service_cidr
  cluster_primary_security_group_id  = module.eks_cluster.cluster_primary_security_group_id
  node_security_group_id             = module.eks_cluster.node_security_group_id
  subnet_ids                         = module.vpc.private_subnet_ids
}
