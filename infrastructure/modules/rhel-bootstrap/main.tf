# What an on-prem RHEL 9 host needs to join a bio-gitops cluster as a worker: SELinux kept
# enforcing (container-selinux), kernel modules and sysctls, firewalld ports, containerd with
# the systemd cgroup driver, kubelet and kubeadm at exact versions, and the kubeadm join. It
# renders text only (a script and the cloud-init that runs it); the host applies it.

locals {
  kubernetes_minor = join(".", slice(split(".", var.kubernetes_version), 0, 2))

  cni_ports = {
    calico  = ["179/tcp", "4789/udp", "5473/tcp"] # BGP, VXLAN, Typha
    cilium  = ["8472/udp", "4240/tcp"]            # VXLAN, health checks
    flannel = ["8472/udp"]                        # VXLAN
  }
  # kubelet API, NodePort range, then the CNI's overlay
  firewall_ports = concat(["10250/tcp", "30000-32767/tcp", "30000-32767/udp"], local.cni_ports[var.cni], var.extra_firewall_ports)

  join_configuration = yamlencode({
    apiVersion = "kubeadm.k8s.io/v1beta4"
    kind       = "JoinConfiguration"
    discovery = {
      bootstrapToken = {
        apiServerEndpoint = var.control_plane_endpoint
        token             = var.join_token
        caCertHashes      = [var.ca_cert_hash]
      }
    }
    nodeRegistration = {
      criSocket = "unix:///run/containerd/containerd.sock"
      kubeletExtraArgs = length(var.node_labels) == 0 ? [] : [{
        name  = "node-labels"
        value = join(",", [for k in sort(keys(var.node_labels)) : "${k}=${var.node_labels[k]}"])
      }]
      taints = [for t in var.node_taints : { key = t.key, value = t.value, effect = t.effect }]
    }
  })

  script = templatefile("${path.module}/bootstrap.sh.tftpl", {
    kubernetes_version     = var.kubernetes_version
    kubernetes_minor       = local.kubernetes_minor
    containerd_version     = var.containerd_version
    selinux_mode           = var.selinux_mode
    firewall_ports         = local.firewall_ports
    control_plane_endpoint = var.control_plane_endpoint
    join_configuration     = local.join_configuration
  })

  cloud_init = join("\n", ["#cloud-config", yamlencode({
    write_files = [{
      path        = "/usr/local/sbin/bio-gitops-join"
      owner       = "root:root"
      permissions = "0700"
      encoding    = "b64"
      content     = base64encode(local.script)
    }]
    runcmd = [["/usr/local/sbin/bio-gitops-join"]]
  })])
}
