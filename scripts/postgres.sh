#!/usr/bin/env bash
# A throwaway PostgreSQL server for the warehouse tests (tests/test_warehouse_postgres.py).
#
#   scripts/postgres.sh install          Debian's `postgresql` package, unless a server is installed
#   scripts/postgres.sh start DIR PORT   a new cluster in DIR, on 127.0.0.1:PORT, time zone America/New_York
#   scripts/postgres.sh stop DIR         stops it (DIR can then be deleted)
#
# The server's own time zone is not UTC on purpose: a loader that writes instants into
# `timestamp without time zone` columns in the session's time zone shifts them there.
# User `postgres`, password $PG_PASSWORD (scram), database `warehouse`.
# Exit status 3: PostgreSQL is missing and cannot be installed here (no apt-get, or no root/sudo).
set -euo pipefail

PG_PASSWORD=${PG_PASSWORD:-warehouse-sandbox-password}
SERVER_TIMEZONE=${SERVER_TIMEZONE:-America/New_York}

say() { echo "postgres.sh: $*" >&2; }

bindir() {  # the newest installed server's bin directory, or nothing
    local found
    found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -n "$found" ] && [ -x "$found/initdb" ]; then echo "$found"; return; fi
    if command -v initdb >/dev/null 2>&1; then dirname "$(command -v initdb)"; fi
}

install() {
    if [ -n "$(bindir)" ]; then return 0; fi
    local sudo=()
    if [ "$(id -u)" != 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            sudo=(sudo -n)
        else
            say "PostgreSQL is not installed and installing it needs root: run 'sudo apt-get install postgresql'"
            exit 3
        fi
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        say "PostgreSQL is not installed and this machine has no apt-get: install a PostgreSQL server (initdb, pg_ctl)"
        exit 3
    fi
    say "installing Debian's postgresql package"
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    [ -n "$(bindir)" ] || { say "apt-get installed postgresql, but no initdb was found"; exit 1; }
}

as_owner() {  # run a server command as the cluster's owner: initdb and postgres refuse root
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
    local dir=$1 port=$2 bin
    install
    bin=$(bindir)
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi
    printf '%s\n' "$PG_PASSWORD" > "$dir/pwfile"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$dir/pwfile"; fi
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --pwfile="$dir/pwfile" --auth=scram-sha-256 \
        -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    rm -f "$dir/pwfile"
    cat >> "$dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = ''
timezone = '$SERVER_TIMEZONE'
log_timezone = '$SERVER_TIMEZONE'
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null \
        || { cat "$dir/server.log" >&2; exit 1; }
    PGPASSWORD=$PG_PASSWORD "$bin/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres \
        -c 'CREATE DATABASE warehouse'
    say "serving on 127.0.0.1:$port (time zone $SERVER_TIMEZONE), data in $dir/data"
}

stop() {
    local dir=$1
    [ -f "$dir/data/postmaster.pid" ] || return 0
    as_owner "$(bindir)/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
}

case "${1:-}" in
    install) install ;;
    start) [ $# = 3 ] || { say "usage: $0 start DIR PORT"; exit 2; }; start "$2" "$3" ;;
    stop) [ $# = 2 ] || { say "usage: $0 stop DIR"; exit 2; }; stop "$2" ;;
    psql-path) echo "$(bindir)/psql" ;;
    *) say "usage: $0 install | start DIR PORT | stop DIR"; exit 2 ;;
esac
