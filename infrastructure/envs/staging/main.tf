# staging: prod's shape at a smaller size, so a change is proven where it will run: three
# zones, a NAT gateway per zone, a private API endpoint only.

locals {
  cluster_name       = "bio-gitops-staging"
  kubernetes_version = "1.36"

  # one node group per entry of nodeGroups in clusters/staging/settings.yaml (tests/terraform checks it)
  node_groups = {
    general = { instance_types = ["m6i.2xlarge"], min_size = 3, max_size = 6, desired_size = 3 }
    spot    = { instance_types = ["m6i.4xlarge", "m6a.4xlarge", "m5.4xlarge"], min_size = 0, max_size = 10, desired_size = 2 }
    gpu     = { instance_types = ["g5.2xlarge"], min_size = 0, max_size = 2, desired_size = 1 }
  }
}

module "vpc" {
  source = "../../modules/vpc"

  name                    = local.cluster_name
  environment             = "staging"
  cluster_name            = local.cluster_name
  cidr                    = "10.41.0.0/16"
  azs                     = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
  nat_gateway_per_az      = true
  flow_log_retention_days = 90
}

module "eks_cluster" {
  source = "../../modules/eks-cluster"

  name               = local.cluster_name
  environment        = "staging"
  kubernetes_version = local.kubernetes_version
  vpc_id             = module.vpc.vpc_id
  subnet_ids         = module.vpc.private_subnet_ids
  admin_role_arns    = var.admin_role_arns
  log_retention_days = 90

  endpoint_public_access = false

  # as sso: in clusters/staging/settings.yaml (rule env-sso-issuer)
  sso_issuer_url = "https://login.example.org/realms/bio-gitops"
  sso_client_id  = "argocd-staging"

  # as `addons` in clusters/staging/settings.yaml: labels of the Argo CD cluster Secret
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
  disk_size_gib  = 100

  cluster_name                       = module.eks_cluster.cluster_name
  kubernetes_version                 = local.kubernetes_version
  cluster_endpoint                   = module.eks_cluster.cluster_endpoint
  cluster_certificate_authority_data = module.eks_cluster.cluster_certificate_authority_data
  cluster_service_cidr               = module.eks_cluster.cluster_service_cidr
  cluster_primary_security_group_id  = module.eks_cluster.cluster_primary_security_group_id
  node_security_group_id             = module.eks_cluster.node_security_group_id
  subnet_ids                         = module.vpc.private_subnet_ids
}
