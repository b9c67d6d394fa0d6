provider "aws" {
  region = "eu-west-1"

  default_tags {
    tags = {
      "bio-gitops.io/environment" = "dev"
      "bio-gitops.io/managed-by"  = "infrastructure/envs/dev"
    }
  }
}
