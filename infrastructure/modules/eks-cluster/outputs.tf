output "cluster_name" {
  description = "Name of the EKS cluster."
  value       = module.eks.cluster_name
}

output "cluster_endpoint" {
  description = "URL of the Kubernetes API server (private unless the public endpoint is open)."
  value       = module.eks.cluster_endpoint
}

output "cluster_certificate_authority_data" {
  description = "Base64 CA certificate of the API server, for kubeconfigs."
  value       = module.eks.cluster_certificate_authority_data
}

output "cluster_service_cidr" {
  description = "Service IP range of the cluster (node groups need it for their bootstrap)."
  value       = module.eks.cluster_service_cidr
}

output "cluster_primary_security_group_id" {
  description = "Security group EKS created for the control plane and managed nodes."
  value       = module.eks.cluster_primary_security_group_id
}

output "node_security_group_id" {
  description = "Security group shared by the platform's node groups."
  value       = module.eks.node_security_group_id
}

output "oidc_provider_arn" {
  description = "OIDC provider of the cluster, for IRSA roles."
  value       = module.eks.oidc_provider_arn
}

output "secrets_kms_key_arn" {
  description = "KMS key that encrypts Kubernetes Secrets."
  value       = module.eks.kms_key_arn
}

output "efs_file_system_id" {
  description = "EFS file system for ReadWriteMany volumes (empty without shared storage)."
  value       = var.shared_storage ? aws_efs_file_system.shared[0].id : ""
}

output "argocd_cluster_secret" {
  description = "The Argo CD cluster Secret (YAML) labelled with the environment and enabled add-ons: `tofu output -raw argocd_cluster_secret | kubectl apply -f -`."
  value       = yamlencode(local.argocd_cluster_secret)
}
