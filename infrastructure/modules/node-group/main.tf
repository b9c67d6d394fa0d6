# One managed node group of one of the platform's three kinds. The labels and taints below are
# the contract with the workloads: they must equal `nodeGroups` in clusters/ENV/settings.yaml
# (kwok simulates the same nodes), and tests/terraform holds them to it.

locals {
  kinds = {
    general = {
      capacity_type = "ON_DEMAND"
      ami_type      = "AL2023_x86_64_STANDARD"
      labels        = { "bio-gitops.io/node-group" = "general" }
      taints        = []
    }
    spot = {
      capacity_type = "SPOT"
      ami_type      = "AL2023_x86_64_STANDARD"
      labels        = { "bio-gitops.io/node-group" = "spot", "bio-gitops.io/lifecycle" = "spot" }
      taints        = [{ key = "bio-gitops.io/spot", value = "true", effect = "NoSchedule" }]
    }
    gpu = {
      capacity_type = "ON_DEMAND"
      ami_type      = "AL2023_x86_64_NVIDIA"
      labels        = { "bio-gitops.io/node-group" = "gpu", "nvidia.com/gpu.present" = "true" }
      taints        = [{ key = "nvidia.com/gpu", value = "present", effect = "NoSchedule" }]
    }
  }
  node = local.kinds[var.kind]

  # Kubernetes effect names as the EKS API spells them
  eks_effects = {
    NoSchedule       = "NO_SCHEDULE"
    NoExecute        = "NO_EXECUTE"
    PreferNoSchedule = "PREFER_NO_SCHEDULE"
  }
  tags = merge(var.tags, { "bio-gitops.io/node-group" = var.kind })
}

module "node_group" {
  source  = "terraform-aws-modules/eks/aws//modules/eks-managed-node-group"
  version = "21.19.0"

  name                 = "${var.cluster_name}-${var.kind}"
  cluster_name         = var.cluster_name
  kubernetes_version   = var.kubernetes_version
  cluster_endpoint     = var.cluster_endpoint
  cluster_auth_base64  = var.cluster_certificate_authority_data
  cluster_service_cidr = var.cluster_service_cidr

  cluster_primary_security_group_id = var.cluster_primary_security_group_id
  vpc_security_group_ids            = [var.node_security_group_id]
  subnet_ids                        = var.subnet_ids

  capacity_type  = local.node.capacity_type
  ami_type       = local.node.ami_type
  instance_types = var.instance_types
  min_size       = var.min_size
  max_size       = var.max_size
  desired_size   = var.desired_size

  labels = local.node.labels
  taints = {
    for t in local.node.taints : t.key => { key = t.key, value = t.value, effect = local.eks_effects[t.effect] }
  }

  block_device_mappings = {
    root = {
      device_name = "/dev/xvda"
      ebs = {
        volume_size           = var.disk_size_gib
        volume_type           = "gp3"
        encrypted             = true
        delete_on_termination = true
      }
    }
  }
  metadata_options = {
    http_endpoint               = "enabled"
    http_tokens                 = "required" # IMDSv2 only
    http_put_response_hop_limit = 1          # pods cannot reach the node role; add-ons use Pod Identity
  }

  tags = local.tags
}
