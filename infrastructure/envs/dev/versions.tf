terraform {
  required_version = ">= 1.10.0, < 2.0.0" # S3 lock files (use_lockfile)

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "6.28.0"
    }
  }
}
