output "node_group_arn" {
  description = "ARN of the managed node group."
  value       = module.node_group.node_group_arn
}

output "node_group_id" {
  description = "ID of the managed node group (CLUSTER:NAME)."
  value       = module.node_group.node_group_id
}

output "labels" {
  description = "Kubernetes labels every node of the group carries."
  value       = local.node.labels
}

output "taints" {
  description = "Kubernetes taints of the group's nodes, as in settings.yaml (effect NoSchedule, ...)."
  value       = local.node.taints
}

output "iam_role_arn" {
  description = "IAM role of the group's nodes."
  value       = module.node_group.iam_role_arn
}
