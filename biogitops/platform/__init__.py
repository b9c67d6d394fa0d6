"""The platform on a cluster: Argo CD, bootstrap, the git source it reads, pipelines, Sealed Secrets, offboarding."""
