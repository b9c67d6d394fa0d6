{{/* metadata and destination shared by a lab's Applications; call with (dict "root" $ "app" "nextflow") */}}
{{- define "lab-tenant.app-meta" -}}
metadata:
  name: lab-{{ .root.Values.name }}-{{ .app }}
  namespace: argocd
  labels:
    app.kubernetes.io/part-of: bio-gitops
    bio-gitops.io/lab: {{ .root.Values.name }}
    bio-gitops.io/layer: lab-apps
  finalizers:
    - resources-finalizer.argocd.argoproj.io
{{- end }}
{{- define "lab-tenant.app-spec" -}}
project: lab-{{ .root.Values.name }}
destination:
  server: https://kubernetes.default.svc
  namespace: lab-{{ .root.Values.name }}
syncPolicy:
  automated: {prune: true, selfHeal: true}
  retry: {limit: 5, backoff: {duration: 10s, factor: 2, maxDuration: 3m}}
{{- end }}
