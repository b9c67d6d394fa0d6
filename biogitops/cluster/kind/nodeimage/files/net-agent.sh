#!/bin/sh
# bio-gitops node network agent, one per kind node (DaemonSet in default-cni.yaml).
# Writes this node's CNI config (ptp veths, host-local addresses from the node's podCIDR),
# routes every other node's podCIDR through that node, and masquerades traffic leaving the
# pod network. kindnetd does this in kind's own images; its module is not on the Go proxy.
set -eu
: "${NODE_NAME:?set from spec.nodeName}" "${POD_SUBNET:?the pod subnet of the cluster}"
endpoint=${CONTROL_PLANE_ENDPOINT:-$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT}
sa=/var/run/secrets/kubernetes.io/serviceaccount
conf=/etc/cni/net.d/10-bio-gitops.conflist

kc() {
  kubectl --server="https://$endpoint" --token="$(cat "$sa/token")" \
    --certificate-authority="$sa/ca.crt" --request-timeout=10s "$@"
}

write_conf() {
  cat > "$conf.new" <<JSON
{
  "cniVersion": "0.4.0",
  "name": "bio-gitops",
  "plugins": [
    {"type": "ptp", "ipMasq": false, "mtu": 1500,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$1"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
JSON
  if cmp -s "$conf.new" "$conf"; then rm -f "$conf.new"; else mv "$conf.new" "$conf"; echo "wrote $conf for $1"; fi
}

sysctl -qw net.ipv4.ip_forward=1
rule="-s $POD_SUBNET ! -d $POD_SUBNET -m comment --comment bio-gitops-masquerade -j MASQUERADE"
# shellcheck disable=SC2086
iptables -t nat -C POSTROUTING $rule 2>/dev/null || iptables -t nat -A POSTROUTING $rule

# one line per node: name, podCIDR, InternalIP
template='{range .items[*]}{.metadata.name} {.spec.podCIDR} {.status.addresses[?(@.type=="InternalIP")].address}{"\n"}{end}'

while true; do
  if nodes=$(kc get nodes -o "jsonpath=$template"); then
    echo "$nodes" | while read -r name cidr ip; do
      [ -n "$cidr" ] && [ -n "$ip" ] || continue
      if [ "$name" = "$NODE_NAME" ]; then
        write_conf "$cidr"
      else
        ip route replace "$cidr" via "$ip"
      fi
    done
  else
    echo "cannot list nodes from https://$endpoint; retrying" >&2
  fi
  sleep 10
done
