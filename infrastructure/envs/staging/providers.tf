provider "aws" {
  region = "eu-west-1"

  default_tags {
    tags = {
      "bio-gitops.io/environment" = "staging"
      "bio-gitops.io/managed-by"  = "infrastructure/envs/staging"
    }
  }
}
