# State of staging in S3, locked with an S3 lock file (no DynamoDB table). Backend blocks take
# no variables: every value is literal, per environment. The bucket must exist, versioned and
# encrypted, before the first `invoke infra.plan --env staging` (handbook/INFRASTRUCTURE.md).
terraform {
  backend "s3" {
    bucket       = "bio-gitops-tfstate-staging"
    key          = "envs/staging/terraform.tfstate"
    region       = "eu-west-1"
    encrypt      = true
    use_lockfile = true
  }
}
