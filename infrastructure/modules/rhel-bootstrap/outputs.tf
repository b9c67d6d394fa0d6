output "script" {
  description = "The bootstrap script (bash): run it as root on the host, or let cloud-init run it. Holds the join token."
  value       = local.script
  sensitive   = true
}

output "cloud_init" {
  description = "cloud-init user data (#cloud-config) that installs and runs the script at first boot. Holds the join token."
  value       = local.cloud_init
  sensitive   = true
}

output "firewall_ports" {
  description = "Ports the script opens in firewalld."
  value       = local.firewall_ports
}
