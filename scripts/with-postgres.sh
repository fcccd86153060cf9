#!/usr/bin/env bash
# Runs a command with IOTDM_TEST_POSTGRES naming a PostgreSQL server: the one
# already named, or a throwaway server (scripts/postgres-server.sh) started
# for the command and removed after it. IOTDM_REQUIRE_POSTGRES makes the
# PostgreSQL tests fail rather than skip if the server is missing.
set -euo pipefail
export IOTDM_REQUIRE_POSTGRES=1
if [ -n "${IOTDM_TEST_POSTGRES:-}" ]; then
	exec "$@"
fi
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d "${TMPDIR:-/tmp}/iotdm-pg.XXXXXX")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cleanup() {
	"$here/postgres-server.sh" stop "$dir/data" || true
	rm -rf "$dir"
}
trap cleanup EXIT
chmod 755 "$dir"
IOTDM_TEST_POSTGRES=$("$here/postgres-server.sh" start "$dir/data" "$port")
export IOTDM_TEST_POSTGRES
echo "PostgreSQL test server on 127.0.0.1:$port" >&2
"$@"
