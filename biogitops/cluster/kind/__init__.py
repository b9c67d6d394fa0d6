"""kind: the provider, the node image built from pinned sources, and the in-cluster git server bootstrap pushes to."""
