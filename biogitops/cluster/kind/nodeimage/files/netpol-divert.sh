#!/bin/sh
# bio-gitops: hands new pod connections to kube-network-policies (the engine beside this
# container, files/network-policy.yaml) on kernels whose nftables lacks the `queue` statement.
#
# The engine programs its own nftables table that queues the first packet of each connection
# to NFQUEUE_ID and rules on it in user space. A kernel built without CONFIG_NFT_QUEUE refuses
# that table, and then nothing reaches the engine: no NetworkPolicy holds. This script asks
# the kernel (a checked, never committed nft transaction); when `queue` is missing it installs
# the same diversion through iptables' NFQUEUE target (xt_NFQUEUE via nft_compat): in mangle
# POSTROUTING, after DNAT and before SNAT like the engine's chain, skipping the node's root
# sockets and established connections, for packets from or to the pod subnet. The engine then
# gives every verdict, as it does with its own table. Fail closed: no engine, no new connection.
set -eu
: "${NFQUEUE_ID:?the --nfqueue-id of the engine}" "${POD_SUBNET:?the pod subnet of the cluster}"
chain=BIO-GITOPS-NETPOL

native_queue() {
  nft -c -f - <<NFT >/dev/null 2>&1
table inet bio-gitops-probe {
  chain probe { type filter hook postrouting priority 95; policy accept; }
}
add rule inet bio-gitops-probe probe queue num $NFQUEUE_ID
NFT
}

cleanup() {
  iptables -t mangle -D POSTROUTING -j "$chain" 2>/dev/null || true
  iptables -t mangle -F "$chain" 2>/dev/null || true
  iptables -t mangle -X "$chain" 2>/dev/null || true
  exit 0
}

if native_queue; then
  echo "nftables has the queue statement: the engine's own table diverts packets; nothing to do"
  trap 'exit 0' TERM INT
  while true; do sleep 3600 & wait $!; done
fi

echo "nftables lacks the queue statement (CONFIG_NFT_QUEUE): diverting $POD_SUBNET to NFQUEUE $NFQUEUE_ID through iptables"
trap cleanup TERM INT
iptables -t mangle -N "$chain" 2>/dev/null || iptables -t mangle -F "$chain"
iptables -t mangle -A "$chain" -m owner --uid-owner 0 -j RETURN
iptables -t mangle -A "$chain" -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN
iptables -t mangle -A "$chain" -s "$POD_SUBNET" -j NFQUEUE --queue-num "$NFQUEUE_ID"
iptables -t mangle -A "$chain" -d "$POD_SUBNET" -j NFQUEUE --queue-num "$NFQUEUE_ID"
iptables -t mangle -C POSTROUTING -j "$chain" 2>/dev/null || iptables -t mangle -A POSTROUTING -j "$chain"
while true; do sleep 3600 & wait $!; done
