#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests: its own cluster in a directory,
# trust authentication, listening on loopback only.
#
#   scripts/postgres-server.sh start DIR [PORT]   prints the DSN on stdout
#   scripts/postgres-server.sh stop DIR
#
# Run as root (as CI does), the server runs as the postgres user, which
# PostgreSQL requires. The tests find the server through IOTDM_TEST_POSTGRES;
# `make test` starts one when that is not set.
set -euo pipefail

bindir() {
	if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
		pg_config --bindir
		return
	fi
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
	if [ -n "$d" ] && [ -x "$d/initdb" ]; then
		echo "$d"
		return
	fi
	if command -v initdb >/dev/null 2>&1; then
		dirname "$(command -v initdb)"
		return
	fi
	echo "postgres-server.sh: no PostgreSQL server binaries (install Debian's postgresql package)" >&2
	exit 1
}

as_owner() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR [PORT]" >&2; exit 2; }
bin=$(bindir)

case "$cmd" in
start)
	port=${3:-54329}
	mkdir -p "$dir"
	if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi
	chmod 700 "$dir"
	if [ ! -f "$dir/PG_VERSION" ]; then
		as_owner "$bin/initdb" -D "$dir" -U postgres -A trust -E UTF8 --locale=C >/dev/null
	fi
	# Sockets in the data directory: the default one may not exist or be
	# writable. Enough connections for three nodes and the parallel tests.
	as_owner "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
		-o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
		start >/dev/null
	echo "postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
	;;
stop)
	if [ -f "$dir/postmaster.pid" ]; then
		as_owner "$bin/pg_ctl" -D "$dir" -m fast -w stop >/dev/null
	fi
	;;
*)
	echo "usage: $0 start|stop DIR [PORT]" >&2
	exit 2
	;;
esac
