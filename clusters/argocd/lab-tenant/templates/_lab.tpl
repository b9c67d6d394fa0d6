{{/* A quantity in bytes (or cores), as a float: "1Gi" -> 1073741824.0 */}}
{{- define "lab-tenant.quantity" -}}
{{- $q := toString . -}}
{{- $num := regexFind "^[0-9]+(\\.[0-9]+)?" $q -}}
{{- $units := dict "" 1.0 "m" 0.001 "k" 1e3 "M" 1e6 "G" 1e9 "T" 1e12 "P" 1e15 "Ki" 1024.0 "Mi" 1048576.0 "Gi" 1073741824.0 "Ti" 1099511627776.0 "Pi" 1125899906842624.0 -}}
{{- mulf (float64 $num) (index $units (trimPrefix $num $q)) -}}
{{- end -}}

{{/* The lab file, checked rule by rule in the order preflight checks it (biogitops/config/labs.py
check_lab_data): Argo CD renders lab files that preflight never saw, so a bad one fails here, in its
own Application only, naming the rule it breaks (every template starts with this check, so
whichever Helm renders first names the rule). Both are tested against one table of rules
(tests/fixtures/labs/rules.yaml). Values arrive as Argo CD's Go YAML read the file: numbers,
strings, maps and lists of any size, so every field's kind is checked before its value. */}}
{{- define "lab-tenant.refuse" -}}
{{- fail (printf "%s: %s: %s (rule %s)" (index . 0) (index . 1) (index . 2) (index . 3)) -}}
{{- end -}}
{{- define "lab-tenant.check" -}}
{{- $lab := .Values.lab | default dict -}}
{{- $file := printf "clusters/%s/labs/%s" .Values.env (.Values.labFile | default (printf "%v.yaml" $lab.name)) -}}
{{- $bytes := "^[0-9]+(\\.[0-9]+)?(k|Ki|Mi|Gi|Ti|Pi|M|G|T|P)?$" -}}
{{- range $key := keys $lab | sortAlpha -}}
{{- if not (has $key (list "name" "description" "owners" "members" "quota" "apps")) -}}
{{- include "lab-tenant.refuse" (list $file $key "is not a field of a lab file" "lab-fields") -}}
{{- end -}}
{{- end -}}
{{- $name := $lab.name -}}
{{- if not (and (kindIs "string" $name) (regexMatch "^[a-z][a-z0-9-]{1,38}[a-z0-9]$" (toString $name))) -}}
{{- include "lab-tenant.refuse" (list $file "name" (printf "%q is not a DNS label of 3 to 40 characters" (toString $name)) "lab-name") -}}
{{- end -}}
{{- if or (has $name .Values.reservedNames) (hasPrefix "kube-" $name) (hasPrefix "lab-" $name) -}}
{{- include "lab-tenant.refuse" (list $file "name" (printf "%q is reserved for the platform" $name) "lab-name-reserved") -}}
{{- end -}}
{{- range $app := .Values.labApps -}}
{{- if hasSuffix (printf "-%s" $app) $name -}}
{{- include "lab-tenant.refuse" (list $file "name" (printf "%q ends like an app name" $name) "lab-name-app-suffix") -}}
{{- end -}}
{{- end -}}
{{- if and .Values.labFile (ne .Values.labFile (printf "%s.yaml" $name)) -}}
{{- include "lab-tenant.refuse" (list $file "name" (printf "is %q but the file is %s" $name .Values.labFile) "lab-file-name") -}}
{{- end -}}
{{- if hasKey $lab "description" -}}
{{- if not (and (kindIs "string" $lab.description) (le (len (splitList "" (toString $lab.description))) 200)) -}}
{{- include "lab-tenant.refuse" (list $file "description" "must be text of at most 200 characters" "lab-description") -}}
{{- end -}}
{{- end -}}
{{- range $key := list "owners" "members" -}}
{{- $group := index $lab $key -}}
{{- if not (and (kindIs "string" $group) (regexMatch "^[!-~]{1,128}$" (toString $group)) (not (hasPrefix "system:" (toString $group)))) -}}
{{- include "lab-tenant.refuse" (list $file $key (printf "%q is not an OIDC group of the lab" (toString $group)) "lab-group") -}}
{{- end -}}
{{- end -}}
{{- $quota := $lab.quota -}}
{{- $quotaOk := kindIs "map" $quota -}}
{{- if $quotaOk -}}
{{- range $key := keys $quota -}}
{{- if not (has $key (list "cpu" "memory" "storage" "gpu")) }}{{ $quotaOk = false }}{{ end -}}
{{- end -}}
{{- range $key := list "cpu" "memory" "storage" -}}
{{- if not (hasKey $quota $key) }}{{ $quotaOk = false }}{{ end -}}
{{- end -}}
{{- end -}}
{{- if not $quotaOk -}}
{{- include "lab-tenant.refuse" (list $file "quota" "must be a map of cpu, memory, storage and an optional gpu" "lab-quota-fields") -}}
{{- end -}}
{{- $cpu := $quota.cpu -}}
{{- if not (and (kindIs "string" $cpu) (regexMatch "^[0-9]+(\\.[0-9]+)?m?$" (toString $cpu))) -}}
{{- include "lab-tenant.refuse" (list $file "quota.cpu" (printf "%q is not a CPU quantity above 0 and at most %s" (toString $cpu) .Values.cpuCeiling) "lab-quota-cpu") -}}
{{- end -}}
{{- $cores := float64 (include "lab-tenant.quantity" $cpu) -}}
{{- if or (le $cores 0.0) (gt $cores (float64 (include "lab-tenant.quantity" .Values.cpuCeiling))) -}}
{{- include "lab-tenant.refuse" (list $file "quota.cpu" (printf "%q is not a CPU quantity above 0 and at most %s" $cpu .Values.cpuCeiling) "lab-quota-cpu") -}}
{{- end -}}
{{- range $key, $ceiling := dict "memory" .Values.memoryCeiling "storage" .Values.storageCeiling -}}
{{- $q := index $quota $key -}}
{{- $ok := and (kindIs "string" $q) (regexMatch $bytes (toString $q)) -}}
{{- if $ok -}}
{{- $size := float64 (include "lab-tenant.quantity" $q) -}}
{{- $ok = and (gt $size 0.0) (le $size (float64 (include "lab-tenant.quantity" $ceiling))) -}}
{{- end -}}
{{- if not $ok -}}
{{- include "lab-tenant.refuse" (list $file (printf "quota.%s" $key) (printf "%q is not a byte quantity above 0 and at most the platform's ceiling of %s" (toString $q) $ceiling) "lab-quota-bytes") -}}
{{- end -}}
{{- end -}}
{{- if hasKey $quota "gpu" -}}
{{- $gpu := $quota.gpu -}}
{{- $ok := or (kindIs "float64" $gpu) (kindIs "int64" $gpu) (kindIs "int" $gpu) -}}
{{- if $ok -}}
{{- $ok = and (eq (float64 $gpu) (floor $gpu)) (ge (float64 $gpu) 0.0) (le (float64 $gpu) (float64 .Values.gpuMax)) -}}
{{- end -}}
{{- if not $ok -}}
{{- include "lab-tenant.refuse" (list $file "quota.gpu" (printf "%v is not a whole number from 0 to %v" $gpu .Values.gpuMax) "lab-quota-gpu") -}}
{{- end -}}
{{- end -}}
{{- $apps := $lab.apps -}}
{{- $appsOk := kindIs "map" $apps -}}
{{- if $appsOk -}}
{{- range $app := keys $apps -}}
{{- if not (has $app $.Values.labApps) }}{{ $appsOk = false }}{{ end -}}
{{- end -}}
{{- end -}}
{{- if not $appsOk -}}
{{- include "lab-tenant.refuse" (list $file "apps" "must be a map of the platform's apps" "lab-apps") -}}
{{- end -}}
{{- range $app := keys $apps | sortAlpha -}}
{{- if not (has $app (splitList "," $.Values.offeredApps)) -}}
{{- include "lab-tenant.refuse" (list $file (printf "apps.%s" $app) (printf "not offered in %s (clusters/%s/settings.yaml apps.%s.enabled)" $.Values.env $.Values.env $app) "lab-apps") -}}
{{- end -}}
{{- end -}}
{{- range $app := keys $apps | sortAlpha -}}
{{- $settings := index $apps $app -}}
{{- $allowed := index $.Values.labAppSettings $app | default list -}}
{{- $ok := kindIs "map" $settings -}}
{{- if $ok -}}
{{- range $key := keys $settings -}}
{{- if not (has $key $allowed) }}{{ $ok = false }}{{ end -}}
{{- end -}}
{{- end -}}
{{- if not $ok -}}
{{- include "lab-tenant.refuse" (list $file (printf "apps.%s" $app) (printf "must be a map of its settings (%s)" (join ", " $allowed | default "none")) "lab-app-settings") -}}
{{- end -}}
{{- end -}}
{{- if hasKey (index $apps "nextflow" | default dict) "workdir" -}}
{{- $workdir := $apps.nextflow.workdir -}}
{{- $ok := and (kindIs "string" $workdir) (regexMatch $bytes (toString $workdir)) -}}
{{- if $ok -}}
{{- $size := float64 (include "lab-tenant.quantity" $workdir) -}}
{{- $ok = and (gt $size 0.0) (le $size (float64 (include "lab-tenant.quantity" $quota.storage))) -}}
{{- end -}}
{{- if not $ok -}}
{{- include "lab-tenant.refuse" (list $file "apps.nextflow.workdir" (printf "%q is not a byte quantity above 0 and at most quota.storage (%s)" (toString $workdir) $quota.storage) "lab-workdir") -}}
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
