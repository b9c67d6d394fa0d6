variable "kind" {
  description = "Which of the platform's node kinds: general (on-demand), spot (pipeline tasks, tainted) or gpu (tainted, labelled). Sets labels, taints, capacity type and AMI."
  type        = string

  validation {
    condition     = contains(["general", "spot", "gpu"], var.kind)
    error_message = "kind must be one of general, spot, gpu (nodeGroups in clusters/ENV/settings.yaml)."
  }
}

variable "cluster_name" {
  description = "EKS cluster the nodes join."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{0,99}$", var.cluster_name))
    error_message = "cluster_name must start with a letter and hold at most 100 letters, digits or dashes."
  }
}

variable "kubernetes_version" {
  description = "Kubernetes minor version of the nodes; the control plane's (e.g. 1.36)."
  type        = string

  validation {
    condition     = can(regex("^1\\.(3[0-9])$", var.kubernetes_version))
    error_message = "kubernetes_version must be a minor version 1.30 to 1.39, written like 1.36."
  }
}

variable "cluster_endpoint" {
  description = "API server URL of the cluster (eks-cluster output cluster_endpoint)."
  type        = string

  validation {
    condition     = startswith(var.cluster_endpoint, "https://")
    error_message = "cluster_endpoint must be an https:// URL."
  }
}

variable "cluster_certificate_authority_data" {
  description = "Base64 CA certificate of the API server (eks-cluster output)."
  type        = string
}

variable "cluster_service_cidr" {
  description = "Service IP range of the cluster (eks-cluster output)."
  type        = string

  validation {
    condition     = can(cidrhost(var.cluster_service_cidr, 0))
    error_message = "cluster_service_cidr must be a CIDR block."
  }
}

variable "cluster_primary_security_group_id" {
  description = "Security group EKS created for the cluster (eks-cluster output)."
  type        = string
}

variable "node_security_group_id" {
  description = "Security group shared by the nodes (eks-cluster output)."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets the nodes run in; one per zone spreads them over zones."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 1
    error_message = "subnet_ids must list at least one subnet."
  }
}

variable "instance_types" {
  description = "EC2 instance types, in order of preference. Spot groups should list several of the same size."
  type        = list(string)

  validation {
    condition     = length(var.instance_types) >= 1 && alltrue([for t in var.instance_types : can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", t))])
    error_message = "instance_types must list at least one EC2 instance type such as m6i.2xlarge."
  }
}

variable "min_size" {
  description = "Fewest nodes the group scales down to."
  type        = number

  validation {
    condition     = var.min_size >= 0 && var.min_size <= 100 && floor(var.min_size) == var.min_size
    error_message = "min_size must be a whole number between 0 and 100."
  }
}

variable "max_size" {
  description = "Most nodes the group scales up to."
  type        = number

  validation {
    condition     = var.max_size >= 1 && var.max_size <= 100 && var.max_size >= var.min_size
    error_message = "max_size must be between 1 and 100 and at least min_size."
  }
}

variable "desired_size" {
  description = "Nodes at creation; the cluster autoscaler moves it between min_size and max_size afterwards."
  type        = number

  validation {
    condition     = var.desired_size >= var.min_size && var.desired_size <= var.max_size
    error_message = "desired_size must be between min_size and max_size."
  }
}

variable "disk_size_gib" {
  description = "Root volume size of each node in GiB (gp3, encrypted): container images and emptyDir scratch space."
  type        = number
  default     = 100

  validation {
    condition     = var.disk_size_gib >= 20 && var.disk_size_gib <= 2000
    error_message = "disk_size_gib must be between 20 and 2000."
  }
}

variable "tags" {
  description = "Tags added to every resource of the node group."
  type        = map(string)
  default     = {}
}
