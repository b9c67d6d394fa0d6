variable "name" {
  description = "Name of the VPC and prefix of everything in it, usually the cluster name (bio-gitops-dev)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be 3-32 lowercase letters, digits or dashes, starting with a letter."
  }
}

variable "environment" {
  description = "Environment the VPC belongs to: dev, staging or prod (a folder under clusters/)."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be one of dev, staging, prod."
  }
}

variable "cluster_name" {
  description = "EKS cluster that runs in this VPC; its subnets are tagged for it."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{0,99}$", var.cluster_name))
    error_message = "cluster_name must start with a letter and hold at most 100 letters, digits or dashes (EKS naming rules)."
  }
}

variable "cidr" {
  description = "IPv4 range of the VPC, between /16 and /20. Private subnets take a /4 slice each, public ones a /8 slice each."
  type        = string

  validation {
    condition     = can(cidrhost(var.cidr, 0)) && tonumber(split("/", var.cidr)[1]) >= 16 && tonumber(split("/", var.cidr)[1]) <= 20
    error_message = "cidr must be an IPv4 CIDR block with a prefix length between /16 and /20 (e.g. 10.40.0.0/16)."
  }
}

variable "azs" {
  description = "Availability zones to spread subnets over: one private and one public subnet in each. EKS needs at least two."
  type        = list(string)

  validation {
    condition     = length(var.azs) >= 2 && length(var.azs) <= 6 && length(distinct(var.azs)) == length(var.azs)
    error_message = "azs must list 2 to 6 distinct availability zones."
  }
}

variable "nat_gateway_per_az" {
  description = "One NAT gateway per zone (a zone outage keeps egress in the others) instead of one shared gateway (cheaper, for dev)."
  type        = bool
  default     = true
}

variable "flow_log_retention_days" {
  description = "Days that VPC flow logs stay in CloudWatch Logs."
  type        = number
  default     = 90

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.flow_log_retention_days)
    error_message = "flow_log_retention_days must be a retention that CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, ... 3653)."
  }
}

variable "tags" {
  description = "Tags added to every resource of the VPC."
  type        = map(string)
  default     = {}
}
