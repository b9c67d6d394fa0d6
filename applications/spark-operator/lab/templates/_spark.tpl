{{/* The securityContext of every Spark pod of a lab (Pod Security: restricted); the operator's
webhook puts it on the driver and executor containers. */}}
{{- define "spark-lab.restricted" -}}
runAsNonRoot: true
runAsUser: 185
allowPrivilegeEscalation: false
capabilities: {drop: [ALL]}
seccompProfile: {type: RuntimeDefault}
{{- end }}
