{{/* metadata and destination shared by a lab's Applications; call with (dict "root" $ "app" "nextflow") */}}
{{/* No resources finalizer: when an app leaves the lab file's `apps:`, its Application goes
and its objects (the work-dir volume, Galaxy's database) stay until `invoke lab.offboard`. */}}
{{- define "lab-tenant.app-meta" -}}
metadata:
  name: lab-{{ .root.Values.lab.name }}-{{ .app }}
  namespace: argocd
  labels:
    app.kubernetes.io/part-of: bio-gitops
    bio-gitops.io/lab: {{ .root.Values.lab.name }}
    bio-gitops.io/layer: lab-apps
  {{- if ne .app "galaxy" }}
  annotations:
    {{- /* the app's chart folder holds everything it renders (its values files included); Galaxy
    reads values through a ref source, whose changes this annotation would not see */}}
    argocd.argoproj.io/manifest-generate-paths: .
  {{- end }}
{{- end }}
{{- define "lab-tenant.app-spec" -}}
project: lab-{{ .root.Values.lab.name }}
destination:
  server: https://kubernetes.default.svc
  namespace: lab-{{ .root.Values.lab.name }}
syncPolicy:
  {{- /* Galaxy's database is a CloudNativePG Cluster from the upstream chart: never pruned automatically */}}
  automated: {prune: {{ ne .app "galaxy" }}, selfHeal: true}
  retry: {limit: 5, backoff: {duration: 10s, factor: 2, maxDuration: 3m}}
  {{- /* first-party charts are validated strictly by `nox -s render`, as the tenancy (applicationset-labs.yaml);
  Galaxy's upstream chart is not rendered offline, so the apply validates it */}}
  {{- if ne .app "galaxy" }}
  syncOptions: [Validate=false]
  {{- end }}
{{- end }}
