output "region" {
  description = "AWS region of the environment."
  value       = "eu-west-1"
}

output "cluster_name" {
  description = "Name of the EKS cluster."
  value       = module.eks_cluster.cluster_name
}

output "cluster_endpoint" {
  description = "API server URL (`invoke infra.kubeconfig --env staging` writes a kubeconfig context for it)."
  value       = module.eks_cluster.cluster_endpoint
}

output "cluster_certificate_authority_data" {
  description = "Base64 CA certificate of the API server."
  value       = module.eks_cluster.cluster_certificate_authority_data
}

output "argocd_cluster_secret" {
  description = "Argo CD cluster Secret (YAML) labelled with the environment and its enabled add-ons."
  value       = module.eks_cluster.argocd_cluster_secret
}

output "efs_file_system_id" {
  description = "EFS file system for shared (ReadWriteMany) volumes."
  value       = module.eks_cluster.efs_file_system_id
}
