# tofu test of the rendered script and cloud-init. This module needs no provider, so these run
# everywhere: in `nox -s terraform` here and in ci/actions/terraform-validate.yml.

variables {
  kubernetes_version     = "1.36.3"
  containerd_version     = "2.1.5"
  control_plane_endpoint = "k8s.lab.example.org:6443"
  join_token             = "abcdef.0123456789abcdef"
  ca_cert_hash           = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
  node_labels            = { "bio-gitops.io/node-group" = "gpu", "nvidia.com/gpu.present" = "true" }
  node_taints            = [{ key = "nvidia.com/gpu", value = "present", effect = "NoSchedule" }]
}

run "script_installs_pinned_versions_and_joins" {
  command = plan

  assert {
    condition     = strcontains(nonsensitive(output.script), "\"kubelet-$kubernetes_version\"") && strcontains(nonsensitive(output.script), "kubernetes_version=\"1.36.3\"")
    error_message = "kubelet must be installed at the pinned version"
  }
  assert {
    condition     = strcontains(nonsensitive(output.script), "kubeadm join --config")
    error_message = "the script must join the cluster"
  }
  assert {
    condition     = strcontains(nonsensitive(output.script), "node-labels") && strcontains(nonsensitive(output.script), "bio-gitops.io/node-group=gpu,nvidia.com/gpu.present=true")
    error_message = "the node registers with its labels"
  }
  assert {
    condition     = strcontains(nonsensitive(output.script), "firewall-cmd --permanent --add-port=10250/tcp")
    error_message = "the kubelet port must be opened"
  }
}

run "cloud_init_runs_the_script" {
  command = plan

  assert {
    condition     = startswith(nonsensitive(output.cloud_init), "#cloud-config\n")
    error_message = "cloud-init user data starts with #cloud-config"
  }
  assert {
    condition     = base64decode(yamldecode(nonsensitive(output.cloud_init)).write_files[0].content) == nonsensitive(output.script)
    error_message = "cloud-init writes exactly the script"
  }
}

run "cilium_opens_its_overlay_port" {
  command = plan

  variables {
    cni = "cilium"
  }

  assert {
    condition     = contains(output.firewall_ports, "8472/udp") && !contains(output.firewall_ports, "179/tcp")
    error_message = "cilium needs VXLAN 8472/udp and no BGP"
  }
}

run "refuses_a_malformed_token" {
  command = plan

  variables {
    join_token = "not-a-token"
  }

  expect_failures = [var.join_token]
}

run "refuses_containerd_1" {
  command = plan

  variables {
    containerd_version = "1.7.28"
  }

  expect_failures = [var.containerd_version]
}
