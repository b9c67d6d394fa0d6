{{/* A quantity in bytes (or cores), as a float: "1Gi" -> 1073741824.0 */}}
{{- define "lab-tenant.quantity" -}}
{{- $q := toString . -}}
{{- $num := regexFind "^[0-9]+(\\.[0-9]+)?" $q -}}
{{- $units := dict "" 1.0 "m" 0.001 "k" 1e3 "M" 1e6 "G" 1e9 "T" 1e12 "P" 1e15 "Ki" 1024.0 "Mi" 1048576.0 "Gi" 1073741824.0 "Ti" 1099511627776.0 "Pi" 1125899906842624.0 -}}
{{- mulf (float64 $num) (index $units (trimPrefix $num $q)) -}}
{{- end -}}

{{/* The lab's fields, checked as preflight checks them (biogitops/config/labs.py): Argo CD renders
lab files that preflight never saw, so a bad one fails here instead of reaching the cluster. */}}
{{- define "lab-tenant.check" -}}
{{- $lab := .Values.lab -}}
{{- $file := printf "clusters/%s/labs/%s.yaml" .Values.env (toString $lab.name) -}}
{{- if not (regexMatch "^[a-z][a-z0-9-]{1,38}[a-z0-9]$" (toString $lab.name)) -}}
{{- fail (printf "lab file: name: %q is not a DNS label of 3 to 40 characters" (toString $lab.name)) -}}
{{- end -}}
{{- if and .Values.labFile (ne .Values.labFile (printf "%s.yaml" (toString $lab.name))) -}}
{{- fail (printf "clusters/%s/labs/%s: name: is %q but the file is %s" .Values.env .Values.labFile (toString $lab.name) .Values.labFile) -}}
{{- end -}}
{{- range $key := list "owners" "members" -}}
{{- $group := toString (index $lab $key) -}}
{{- if or (not $group) (hasPrefix "system:" $group) (regexMatch "\\s" $group) -}}
{{- fail (printf "%s: %s: %q is not an OIDC group of the lab" $file $key $group) -}}
{{- end -}}
{{- end -}}
{{- $quota := $lab.quota | default dict -}}
{{- if not (regexMatch "^[0-9]+(\\.[0-9]+)?m?$" (toString $quota.cpu)) -}}
{{- fail (printf "%s: quota.cpu: %q is not a CPU quantity" $file (toString $quota.cpu)) -}}
{{- end -}}
{{- if le (float64 (include "lab-tenant.quantity" $quota.cpu)) 0.0 -}}
{{- fail (printf "%s: quota.cpu: must be more than 0" $file) -}}
{{- end -}}
{{- range $key := list "memory" "storage" -}}
{{- $q := toString (index $quota $key) -}}
{{- if not (regexMatch "^[0-9]+(\\.[0-9]+)?(k|Ki|Mi|Gi|Ti|Pi|M|G|T|P)?$" $q) -}}
{{- fail (printf "%s: quota.%s: %q is not a byte quantity (no millibytes)" $file $key $q) -}}
{{- end -}}
{{- end -}}
{{- $storage := float64 (include "lab-tenant.quantity" $quota.storage) -}}
{{- if gt $storage (float64 (include "lab-tenant.quantity" .Values.storageCeiling)) -}}
{{- fail (printf "%s: quota.storage: %s is over the platform's ceiling of %s" $file (toString $quota.storage) .Values.storageCeiling) -}}
{{- end -}}
{{- if not (kindIs "map" ($lab.apps | default dict)) -}}
{{- fail (printf "%s: apps: must be a map" $file) -}}
{{- end -}}
{{- range $app, $_ := $lab.apps -}}
{{- if not (has $app (splitList "," $.Values.offeredApps)) -}}
{{- fail (printf "%s: apps.%s: not offered in %s (clusters/%s/settings.yaml apps.%s.enabled)" $file $app $.Values.env $.Values.env $app) -}}
{{- end -}}
{{- end -}}
{{- with (($lab.apps | default dict).nextflow | default dict).workdir -}}
{{- if not (regexMatch "^[0-9]+(\\.[0-9]+)?(k|Ki|Mi|Gi|Ti|Pi|M|G|T|P)?$" (toString .)) -}}
{{- fail (printf "%s: apps.nextflow.workdir: %q is not a byte quantity" $file (toString .)) -}}
{{- end -}}
{{- if gt (float64 (include "lab-tenant.quantity" .)) $storage -}}
{{- fail (printf "%s: apps.nextflow.workdir: %s is larger than quota.storage (%s)" $file (toString .) (toString $quota.storage)) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Egress to the API server's own endpoints only: a pod that labels itself gains nothing else. */}}
{{- define "lab-tenant.apiserver-egress" -}}
{{- $ips := compact (splitList "," (toString .Values.apiServer.ips)) -}}
{{- if not $ips }}{{ fail "values: apiServer.ips is required (set by bootstrap from the kubernetes EndpointSlice)" }}{{ end -}}
egress:
  - to:
      {{- range $ips }}
      - ipBlock: {cidr: {{ printf "%s/%s" . (ternary "128" "32" (contains ":" .)) }}}
      {{- end }}
    ports:
      {{- range compact (splitList "," (toString .Values.apiServer.ports)) }}
      - {protocol: TCP, port: {{ int . }}}
      {{- end }}
{{- end -}}
