#!/usr/bin/env bash
# The multi-host proof (docs/deploy.md): builds five private hosts, each a network namespace
# joined to one bridge by a veth pair, inside a fresh network and mount namespace of its own (the
# machine's network is never touched, and everything vanishes with the run):
#   pacs 10.77.0.2 (Orthanc + Lua hook), db 10.77.0.3 (PostgreSQL), gpu1 10.77.0.11 and
#   gpu2 10.77.0.12 (one worker each), web 10.77.0.20 (dashboard); the test itself runs on the
#   bridge, 10.77.0.1, as the hospital network would.
# Then runs scripts/topology/topology.test.ts there. Needs root (or sudo), iproute2, the built
# repository (npm run build), Orthanc and PostgreSQL server binaries, Debian chromium.
#   npm run test:topology
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

if [ "${LASCAR_TOPOLOGY_INNER:-}" != 1 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    exec sudo -E bash "$0" "$@"
  fi
  export LASCAR_TOPOLOGY_INNER=1
  exec unshare --net --mount --propagation private bash "$0" "$@"
fi

# /run/netns only in this mount namespace.
mkdir -p /run/netns
mount -t tmpfs tmpfs /run/netns
ip link set lo up
ip link add br0 type bridge
ip addr add 10.77.0.1/24 dev br0
ip link set br0 up
add_host() {
  local name="$1" address="$2"
  ip netns add "$name"
  ip link add "v-$name" type veth peer name eth0 netns "$name"
  ip link set "v-$name" master br0 up
  ip -n "$name" link set lo up
  ip -n "$name" addr add "$address/24" dev eth0
  ip -n "$name" link set eth0 up
}
add_host pacs 10.77.0.2
add_host db 10.77.0.3
add_host gpu1 10.77.0.11
add_host gpu2 10.77.0.12
add_host web 10.77.0.20

cd "$ROOT"
exec npx vitest run --config vitest.topology.config.ts "$@"
