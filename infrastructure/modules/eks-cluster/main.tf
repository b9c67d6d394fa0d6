# The EKS control plane with the platform's opinions: Kubernetes Secrets encrypted with a KMS
# key of the cluster's own, a private API endpoint (public only outside prod, only from listed
# networks), access through EKS access entries, IRSA and Pod Identity, the storage add-ons
# (EBS CSI for block volumes, EFS CSI plus an encrypted file system for shared ones), and the
# Argo CD cluster Secret that `invoke bootstrap --env ENV --provider existing` builds on.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  partition = data.aws_partition.current.partition
  tags      = merge(var.tags, { "bio-gitops.io/environment" = var.environment })

  # the add-ons that call AWS: each runs with a Pod Identity role of its own (never the node
  # role's credentials: the nodes' metadata hop limit of 1 keeps pods away from those)
  addon_roles = {
    "aws-ebs-csi-driver" = { service_account = "ebs-csi-controller-sa", policy = "service-role/AmazonEBSCSIDriverPolicy" }
    "aws-efs-csi-driver" = { service_account = "efs-csi-controller-sa", policy = "service-role/AmazonEFSCSIDriverPolicy" }
  }
}

data "aws_iam_policy_document" "pod_identity_trust" {
  statement {
    actions = ["sts:AssumeRole", "sts:TagSession"]
    principals {
      type        = "Service"
      identifiers = ["pods.eks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "addon" {
  for_each = local.addon_roles

  name               = "${var.name}-${each.key}"
  description        = "Pod Identity role of the ${each.key} add-on in ${var.name}"
  assume_role_policy = data.aws_iam_policy_document.pod_identity_trust.json
  tags               = local.tags
}

resource "aws_iam_role_policy_attachment" "addon" {
  for_each = local.addon_roles

  role       = aws_iam_role.addon[each.key].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/${each.value.policy}"
}

module "eks" {
  source  = "terraform-aws-modules/eks/aws"
  version = "21.19.0"

  name               = var.name
  kubernetes_version = var.kubernetes_version
  vpc_id             = var.vpc_id
  subnet_ids         = var.subnet_ids

  endpoint_private_access      = true
  endpoint_public_access       = var.endpoint_public_access
  endpoint_public_access_cidrs = var.endpoint_public_access ? var.endpoint_public_access_cidrs : []

  # Kubernetes Secrets encrypted with a customer-managed key, rotated yearly
  create_kms_key                  = true
  enable_kms_key_rotation         = true
  kms_key_deletion_window_in_days = var.kms_key_deletion_window_days
  encryption_config = {
    resources = ["secrets"]
  }

  authentication_mode                      = "API"
  enable_cluster_creator_admin_permissions = length(var.admin_role_arns) == 0
  access_entries = {
    for i, arn in var.admin_role_arns : "admin-${i}" => {
      principal_arn = arn
      policy_associations = {
        admin = {
          policy_arn   = "arn:${local.partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
          access_scope = { type = "cluster" }
        }
      }
    }
  }

  # the organisation's OIDC issuer, trusted as dev's API server trusts its own identity provider
  # (biogitops/cluster/authn.py): usernames and groups prefixed, so no token names a system: group
  identity_providers = var.sso_issuer_url == null ? {} : {
    sso = {
      identity_provider_config_name = "sso"
      issuer_url                    = var.sso_issuer_url
      client_id                     = var.sso_client_id
      username_claim                = "preferred_username"
      username_prefix               = "oidc:"
      groups_claim                  = "groups"
      groups_prefix                 = "oidc:"
    }
  }

  enable_irsa                            = true
  enabled_log_types                      = ["api", "audit", "authenticator"]
  cloudwatch_log_group_retention_in_days = var.log_retention_days
  deletion_protection                    = var.environment == "prod"

  # written out add-on by add-on: tests/terraform (addon-pod-identity, vpc-cni-network-policy)
  # reads these settings here and refuses any module in the tree that undoes them
  addons = {
    vpc-cni = {
      before_compute = true
      most_recent    = false
      addon_version  = lookup(var.addon_versions, "vpc-cni", null)
      # the network policy agent: NetworkPolicies are enforced on the nodes
      configuration_values = jsonencode({ enableNetworkPolicy = "true" })
    }
    eks-pod-identity-agent = {
      before_compute = true
      most_recent    = false
      addon_version  = lookup(var.addon_versions, "eks-pod-identity-agent", null)
    }
    kube-proxy = {
      most_recent   = false
      addon_version = lookup(var.addon_versions, "kube-proxy", null)
    }
    coredns = {
      most_recent   = false
      addon_version = lookup(var.addon_versions, "coredns", null)
    }
    aws-ebs-csi-driver = {
      most_recent   = false
      addon_version = lookup(var.addon_versions, "aws-ebs-csi-driver", null)
      pod_identity_association = [{
        role_arn        = aws_iam_role.addon["aws-ebs-csi-driver"].arn
        service_account = local.addon_roles["aws-ebs-csi-driver"].service_account
      }]
    }
    aws-efs-csi-driver = {
      most_recent   = false
      addon_version = lookup(var.addon_versions, "aws-efs-csi-driver", null)
      pod_identity_association = [{
        role_arn        = aws_iam_role.addon["aws-efs-csi-driver"].arn
        service_account = local.addon_roles["aws-efs-csi-driver"].service_account
      }]
    }
  }

  tags = local.tags
}

# ------------------------------------------------------------------ shared storage (EFS)

data "aws_iam_policy_document" "efs_key" {
  #checkov:skip=CKV_AWS_109:key policy; its Resource "*" is this key alone
  #checkov:skip=CKV_AWS_111:key policy; its Resource "*" is this key alone
  #checkov:skip=CKV_AWS_356:key policy; its Resource "*" is this key alone
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
}

resource "aws_kms_key" "efs" {
  count = var.shared_storage ? 1 : 0

  description             = "EFS shared storage of ${var.name}"
  deletion_window_in_days = var.kms_key_deletion_window_days
  enable_key_rotation     = true
  policy                  = data.aws_iam_policy_document.efs_key.json
  tags                    = local.tags
}

resource "aws_efs_file_system" "shared" {
  count = var.shared_storage ? 1 : 0

  creation_token   = "${var.name}-shared"
  encrypted        = true
  kms_key_id       = aws_kms_key.efs[0].arn
  performance_mode = "generalPurpose"
  throughput_mode  = "elastic"

  lifecycle_policy {
    transition_to_ia = "AFTER_30_DAYS"
  }

  tags = merge(local.tags, { Name = "${var.name}-shared" })
}

resource "aws_efs_backup_policy" "shared" {
  count = var.shared_storage ? 1 : 0

  file_system_id = aws_efs_file_system.shared[0].id
  backup_policy {
    status = "ENABLED"
  }
}

resource "aws_security_group" "efs" {
  count = var.shared_storage ? 1 : 0

  name        = "${var.name}-efs"
  description = "NFS from the nodes of ${var.name} to its EFS mount targets"
  vpc_id      = var.vpc_id
  tags        = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "efs_from_nodes" {
  count = var.shared_storage ? 1 : 0

  description                  = "NFS from the cluster's nodes"
  security_group_id            = aws_security_group.efs[0].id
  referenced_security_group_id = module.eks.node_security_group_id
  ip_protocol                  = "tcp"
  from_port                    = 2049
  to_port                      = 2049
}

resource "aws_efs_mount_target" "shared" {
  count = var.shared_storage ? length(var.subnet_ids) : 0

  file_system_id  = aws_efs_file_system.shared[0].id
  subnet_id       = var.subnet_ids[count.index]
  security_groups = [aws_security_group.efs[0].id]
}

# ------------------------------------------------------------------ Argo CD registration

locals {
  # A cluster Secret the way gitops-bridge writes it: labels say which environment this is and
  # which add-ons are on (ApplicationSet cluster generators select on them), annotations
  # carry the AWS facts add-on values need.
  argocd_cluster_secret = {
    apiVersion = "v1"
    kind       = "Secret"
    metadata = {
      name      = var.name
      namespace = var.argocd_namespace
      labels = merge(
        {
          "argocd.argoproj.io/secret-type" = "cluster"
          "environment"                    = var.environment
          "cluster_name"                   = var.name
        },
        { for addon, enabled in var.gitops_addons : "enable_${addon}" => tostring(enabled) },
      )
      annotations = {
        "aws_cluster_name"        = module.eks.cluster_name
        "aws_region"              = data.aws_region.current.region
        "aws_account_id"          = data.aws_caller_identity.current.account_id
        "aws_vpc_id"              = var.vpc_id
        "efs_file_system_id"      = var.shared_storage ? aws_efs_file_system.shared[0].id : ""
        "kubernetes_version"      = var.kubernetes_version
        "oidc_provider_arn"       = module.eks.oidc_provider_arn
        "ebs_csi_driver_role_arn" = aws_iam_role.addon["aws-ebs-csi-driver"].arn
        "efs_csi_driver_role_arn" = aws_iam_role.addon["aws-efs-csi-driver"].arn
      }
    }
    type = "Opaque"
    stringData = {
      name   = var.name
      server = var.argocd_in_cluster ? "https://kubernetes.default.svc" : module.eks.cluster_endpoint
      config = jsonencode(var.argocd_in_cluster ? {
        tlsClientConfig = { insecure = false }
        } : {
        awsAuthConfig   = { clusterName = module.eks.cluster_name }
        tlsClientConfig = { insecure = false, caData = module.eks.cluster_certificate_authority_data }
      })
    }
  }
}
