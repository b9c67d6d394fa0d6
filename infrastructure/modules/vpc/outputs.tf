output "vpc_id" {
  description = "ID of the VPC."
  value       = module.vpc.vpc_id
}

output "vpc_cidr_block" {
  description = "IPv4 range of the VPC."
  value       = module.vpc.vpc_cidr_block
}

output "private_subnet_ids" {
  description = "Private subnets, one per availability zone, in the order of `azs`: where nodes run."
  value       = module.vpc.private_subnets
}

output "public_subnet_ids" {
  description = "Public subnets, one per availability zone: internet-facing load balancers and NAT gateways."
  value       = module.vpc.public_subnets
}

output "azs" {
  description = "Availability zones the subnets span."
  value       = module.vpc.azs
}

output "nat_gateway_ids" {
  description = "NAT gateways: one per zone, or a single one when `nat_gateway_per_az` is false."
  value       = module.vpc.natgw_ids
}

output "flow_logs_kms_key_arn" {
  description = "KMS key that encrypts the flow log group."
  value       = aws_kms_key.flow_logs.arn
}
