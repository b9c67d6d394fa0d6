provider "aws" {
  region = "eu-west-1"

  default_tags {
    tags = {
      "bio-gitops.io/environment" = "prod"
      "bio-gitops.io/managed-by"  = "infrastructure/envs/prod"
    }
  }
}
