variable "admin_role_arns" {
  description = "IAM roles given cluster-admin (the platform team's SSO role); none: the identity that applies is admin."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.admin_role_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", a))])
    error_message = "admin_role_arns must be IAM role ARNs (arn:aws:iam::123456789012:role/NAME)."
  }
}

variable "endpoint_public_access_cidrs" {
  description = "Networks that may reach the dev API server's public endpoint (your office or VPN egress); empty keeps it private."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.endpoint_public_access_cidrs : can(cidrhost(c, 0)) && c != "0.0.0.0/0"])
    error_message = "endpoint_public_access_cidrs must be IPv4 CIDR blocks other than 0.0.0.0/0."
  }
}
