"""What Argo CD will apply, rendered offline: the bootstrap chart and root, lab tenancy, app charts, upstream charts,
CRDs, policies, the graph."""
