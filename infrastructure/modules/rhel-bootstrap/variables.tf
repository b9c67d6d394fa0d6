variable "kubernetes_version" {
  description = "Exact kubelet and kubeadm version to install, the cluster's (e.g. 1.36.3)."
  type        = string

  validation {
    condition     = can(regex("^1\\.3[0-9]\\.[0-9]+$", var.kubernetes_version))
    error_message = "kubernetes_version must be an exact version 1.30.0 to 1.39.x, like 1.36.3."
  }
}

variable "containerd_version" {
  description = "Exact containerd.io package version (Docker's RHEL 9 repository); Kubernetes 1.36 needs containerd 2.x."
  type        = string

  validation {
    condition     = can(regex("^2\\.[0-9]+\\.[0-9]+$", var.containerd_version))
    error_message = "containerd_version must be an exact 2.x version like 2.1.5 (Kubernetes 1.36 refuses containerd 1.x)."
  }
}

variable "control_plane_endpoint" {
  description = "host:port of the cluster's API server that the node joins through (a load balancer in front of the control plane)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9.-]+:[0-9]{2,5}$", var.control_plane_endpoint))
    error_message = "control_plane_endpoint must be host:port, like k8s.lab.example.org:6443."
  }
}

variable "join_token" {
  description = "kubeadm bootstrap token (`kubeadm token create`), valid for a day by default."
  type        = string
  sensitive   = true

  validation {
    condition     = can(regex("^[a-z0-9]{6}\\.[a-z0-9]{16}$", var.join_token))
    error_message = "join_token must be a kubeadm token: 6 and 16 lowercase letters or digits joined by a dot."
  }
}

variable "ca_cert_hash" {
  description = "sha256 of the cluster CA's public key (kubeadm's --discovery-token-ca-cert-hash), so the node trusts only this cluster."
  type        = string

  validation {
    condition     = can(regex("^sha256:[0-9a-f]{64}$", var.ca_cert_hash))
    error_message = "ca_cert_hash must be sha256: followed by 64 hex digits."
  }
}

variable "node_labels" {
  description = "Kubernetes labels the kubelet registers the node with (use the node-group labels of settings.yaml, e.g. bio-gitops.io/node-group = gpu)."
  type        = map(string)
  default     = {}

  validation {
    condition = alltrue([
      for k, v in var.node_labels :
      can(regex("^([a-z0-9.-]+/)?[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$", k)) && !can(regex("(^|\\.)(kubernetes|k8s)\\.io/", k)) && can(regex("^([A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?$", v))
    ])
    error_message = "node_labels must be valid Kubernetes labels outside the kubernetes.io and k8s.io namespaces (the kubelet may not set those)."
  }
}

variable "node_taints" {
  description = "Taints the node registers with, as in settings.yaml (gpu hosts: nvidia.com/gpu=present:NoSchedule)."
  type = list(object({
    key    = string
    value  = optional(string, "")
    effect = string
  }))
  default = []

  validation {
    condition     = alltrue([for t in var.node_taints : contains(["NoSchedule", "PreferNoSchedule", "NoExecute"], t.effect)])
    error_message = "node_taints effects must be NoSchedule, PreferNoSchedule or NoExecute."
  }
}

variable "selinux_mode" {
  description = "SELinux mode of the host: enforcing (the default, with container-selinux) or permissive for debugging."
  type        = string
  default     = "enforcing"

  validation {
    condition     = contains(["enforcing", "permissive"], var.selinux_mode)
    error_message = "selinux_mode must be enforcing or permissive (disabled is not supported)."
  }
}

variable "cni" {
  description = "The cluster's network plugin; decides which overlay ports the firewall opens."
  type        = string
  default     = "calico"

  validation {
    condition     = contains(["calico", "cilium", "flannel"], var.cni)
    error_message = "cni must be calico, cilium or flannel."
  }
}

variable "extra_firewall_ports" {
  description = "More ports to open on the host, as PORT/PROTO or FROM-TO/PROTO (e.g. 9100/tcp for node-exporter)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for p in var.extra_firewall_ports : can(regex("^[0-9]{1,5}(-[0-9]{1,5})?/(tcp|udp)$", p))])
    error_message = "extra_firewall_ports entries must look like 9100/tcp or 30000-32767/tcp."
  }
}
