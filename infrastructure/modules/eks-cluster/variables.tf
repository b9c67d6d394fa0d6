variable "name" {
  description = "Name of the EKS cluster (bio-gitops-ENV); also the Argo CD cluster name."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{0,99}$", var.name))
    error_message = "name must start with a letter and hold at most 100 letters, digits or dashes (EKS naming rules)."
  }
}

variable "environment" {
  description = "Environment of the cluster: dev, staging or prod. Labels the Argo CD cluster Secret; prod forbids a public endpoint."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be one of dev, staging, prod."
  }
}

variable "kubernetes_version" {
  description = "Kubernetes minor version of the control plane (e.g. 1.36): the newest EKS offers that the platform's pins support."
  type        = string

  validation {
    condition     = can(regex("^1\\.(3[0-9])$", var.kubernetes_version))
    error_message = "kubernetes_version must be a minor version 1.30 to 1.39, written like 1.36."
  }
}

variable "vpc_id" {
  description = "VPC of the cluster (output vpc_id of modules/vpc)."
  type        = string

  validation {
    condition     = can(regex("^vpc-[0-9a-f]{8,17}$", var.vpc_id))
    error_message = "vpc_id must look like vpc-0123456789abcdef0."
  }
}

variable "subnet_ids" {
  description = "Private subnets for the control plane's network interfaces and the EFS mount targets, in at least two zones."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2 && alltrue([for s in var.subnet_ids : can(regex("^subnet-[0-9a-f]{8,17}$", s))])
    error_message = "subnet_ids must list at least two subnet IDs (subnet-...), in different zones."
  }
}

variable "endpoint_public_access" {
  description = "Open the API server's public endpoint as well as the private one. Never in prod."
  type        = bool
  default     = false

  validation {
    condition     = !(var.environment == "prod" && var.endpoint_public_access)
    error_message = "endpoint_public_access must be false in prod: reach the API server through the VPC (VPN, bastion, peering)."
  }
}

variable "sso_issuer_url" {
  description = "The organisation's OIDC issuer (sso.issuer in clusters/<env>/settings.yaml): the API server trusts its ID tokens, with usernames and groups prefixed oidc:. Null: no OIDC identity provider."
  type        = string
  default     = null

  validation {
    condition     = var.sso_issuer_url == null || can(regex("^https://[^@/[:space:]]+(/[^[:space:]]*)?$", var.sso_issuer_url))
    error_message = "sso_issuer_url must be an https:// URL, as sso.issuer in settings.yaml."
  }
}

variable "sso_client_id" {
  description = "The audience of the ID tokens the API server accepts (sso.clientID in clusters/<env>/settings.yaml)."
  type        = string
  default     = "bio-gitops"

  validation {
    condition     = length(var.sso_client_id) > 0
    error_message = "sso_client_id must not be empty."
  }
}

variable "endpoint_public_access_cidrs" {
  description = "Networks allowed to reach the public endpoint when it is open. Never the whole internet."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.endpoint_public_access_cidrs : can(cidrhost(c, 0)) && c != "0.0.0.0/0"])
    error_message = "endpoint_public_access_cidrs must be IPv4 CIDR blocks other than 0.0.0.0/0."
  }
}

variable "admin_role_arns" {
  description = "IAM roles given cluster-admin through EKS access entries (the platform team's SSO role)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.admin_role_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", a))])
    error_message = "admin_role_arns must be IAM role ARNs (arn:aws:iam::123456789012:role/NAME)."
  }
}

variable "kms_key_deletion_window_days" {
  description = "Days before a deleted secrets-encryption key is gone for good (a window to undo a mistake)."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_key_deletion_window_days >= 7 && var.kms_key_deletion_window_days <= 30
    error_message = "kms_key_deletion_window_days must be between 7 and 30 (the range KMS accepts)."
  }
}

variable "log_retention_days" {
  description = "Days that control-plane logs (api, audit, authenticator) stay in CloudWatch Logs."
  type        = number
  default     = 90

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention that CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, ... 3653)."
  }
}

variable "shared_storage" {
  description = "Create an encrypted EFS file system with a mount target in each subnet, for ReadWriteMany volumes (Nextflow work directories)."
  type        = bool
  default     = true
}

variable "gitops_addons" {
  description = "Platform add-ons and whether each is enabled, as `addons` in clusters/ENV/settings.yaml; they become enable_NAME labels of the Argo CD cluster Secret."
  type        = map(bool)
  default     = {}

  validation {
    condition     = alltrue([for k, _ in var.gitops_addons : can(regex("^[a-zA-Z][a-zA-Z0-9]*$", k))])
    error_message = "gitops_addons keys must be camelCase add-on names as in settings.yaml (sealedSecrets)."
  }
}

variable "argocd_namespace" {
  description = "Namespace of Argo CD, where the cluster Secret belongs."
  type        = string
  default     = "argocd"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", var.argocd_namespace)) && length(var.argocd_namespace) <= 63
    error_message = "argocd_namespace must be a DNS label."
  }
}

variable "argocd_in_cluster" {
  description = "Argo CD runs inside this cluster (bio-gitops' bootstrap): the Secret points at kubernetes.default.svc. False: at the EKS endpoint, for a hub cluster's Argo CD."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags added to every resource of the cluster."
  type        = map(string)
  default     = {}
}

variable "addon_versions" {
  description = "Exact EKS add-on versions by add-on name (aws-ebs-csi-driver = \"v1.x.y-eksbuild.z\"). An add-on left out gets the version EKS pins as default for the cluster's Kubernetes version, never the latest."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for _, v in var.addon_versions : can(regex("^v[0-9]+\\.[0-9]+\\.[0-9]+-eksbuild\\.[0-9]+$", v))])
    error_message = "addon_versions values must be exact EKS add-on versions like v1.45.0-eksbuild.1."
  }
}
