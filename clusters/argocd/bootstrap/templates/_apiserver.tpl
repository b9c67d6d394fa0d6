{{- /*
The JSON patch that puts the API server's endpoints (apiServer.ips, apiServer.ports, set by
bootstrap from the kubernetes EndpointSlice) into the platform namespaces' egress policy
allow-apiserver-endpoints. An address gets /32 (IPv4) or /128 (IPv6), as in lab-tenant.
*/ -}}
{{- define "bootstrap.apiserver-endpoints-patch" -}}
{{- $ips := compact (splitList "," (toString .Values.apiServer.ips)) -}}
{{- if not $ips }}{{ fail "values: apiServer.ips is required (set by bootstrap from the kubernetes EndpointSlice)" }}{{ end -}}
{{- $to := list -}}
{{- range $ips }}{{ $to = append $to (dict "ipBlock" (dict "cidr" (printf "%s/%s" . (ternary "128" "32" (contains ":" .))))) }}{{ end -}}
{{- $ports := list -}}
{{- range compact (splitList "," (toString .Values.apiServer.ports)) }}{{ $ports = append $ports (dict "protocol" "TCP" "port" (int .)) }}{{ end -}}
{{- toJson (list (dict "op" "replace" "path" "/spec/egress/0/to" "value" $to) (dict "op" "replace" "path" "/spec/egress/0/ports" "value" $ports)) -}}
{{- end -}}
