#!/usr/bin/env bash
# Runs a command inside a new network namespace that has only the loopback interface.
# Orthanc 1.10 has no bind-address option (its HTTP port listens on every interface), so it and
# the tests or quick start that talk to it must run where nothing outside can reach it.
# Note: services on the host (e.g. PostgreSQL on 127.0.0.1:5432) are NOT reachable from inside.
#
#   bash scripts/orthanc/in-private-network.sh npx vitest run --config vitest.integration.config.ts
set -euo pipefail

if [ "$#" -eq 0 ]; then
  echo "usage: $0 <command> [args...]" >&2
  exit 2
fi
if ! command -v unshare >/dev/null 2>&1 || ! command -v ip >/dev/null 2>&1; then
  echo "in-private-network: needs unshare (util-linux) and ip (iproute2)" >&2
  exit 1
fi

INNER='ip link set lo up && exec "$@"'
if [ "$(id -u)" -eq 0 ]; then
  exec unshare --net bash -c "$INNER" bash "$@"
fi
# Unprivileged: a user namespace maps us to root inside, which may create the network namespace.
if unshare --net --map-root-user true 2>/dev/null; then
  exec unshare --net --map-root-user bash -c "$INNER" bash "$@"
fi
if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  exec sudo -E unshare --net bash -c "$INNER" bash "$@"
fi
echo "in-private-network: cannot create a network namespace (unprivileged user namespaces are" >&2
echo "disabled and sudo is not available); run as root or enable kernel.unprivileged_userns_clone" >&2
exit 1
