#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests, all state in one dir:
#
#   scripts/postgres.sh start DIR   # initdb + server on a free loopback port, role and database
#                                   # berth; writes DIR/env (BERTH_TEST_DATABASE_URL)
#   scripts/postgres.sh stop DIR    # pg_ctl stop -m fast, remove DIR
#
# Trust authentication on 127.0.0.1 only, unix socket in DIR, fsync off: for tests only.
# As root the server runs as the postgres user (initdb refuses root), so DIR is chowned to it.
# See /work/shared/recipes/postgresql.md.
set -euo pipefail

TIMEOUT=${BERTH_POSTGRES_START_TIMEOUT:-90} # seconds for the whole start

NAME=postgres
# shellcheck source=scripts/service-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/service-lib.sh"

# The newest installed server's bin dir (postgresql-NN puts it under /usr/lib/postgresql/NN/bin).
find_bin() {
  local initdb
  initdb=$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)
  [[ -n $initdb ]] || die "PostgreSQL is not installed (apt-get install postgresql, or scripts/install-test-deps.sh)"
  BIN=${initdb%/initdb}
}

# Runs a server program as the postgres user when we are root, as ourselves otherwise.
as_pg() {
  if ((EUID == 0)); then runuser -u postgres -- "$@"; else "$@"; fi
}

tail_log() {
  local log
  for log in "$@"; do
    if [[ -s $log ]]; then
      say "last lines of $log:"
      tail -n 30 "$log" | sed 's/^/    /' >&3
    fi
  done
}

cmd_stop() {
  [[ -d $DIR ]] || return 0
  [[ -e $DIR/.berth-postgres || -z "$(ls -A "$DIR")" ]] || die "$DIR was not made by '$0 start'; not touching it"
  local t0
  t0=$(now_ms)
  if [[ -f $DIR/data/postmaster.pid ]]; then
    find_bin
    if ! as_pg "$BIN/pg_ctl" -D "$DIR/data" -m fast -w -t 10 stop >>"$DIR/pg_ctl.log" 2>&1; then
      # pg_ctl signals the pid in postmaster.pid; if the fast stop did not finish, kill that
      # postmaster (only if it is still the one running from this DIR) and wait for it
      local pid i
      pid=$(head -n 1 "$DIR/data/postmaster.pid" 2>/dev/null || true)
      if [[ $pid =~ ^[0-9]+$ ]] && { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -qF -- "$DIR/data"; then
        say "pg_ctl stop did not finish in 10 s; sending KILL to postmaster $pid"
        kill -KILL "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
          [[ -e /proc/$pid ]] || break
          sleep 0.1
        done
      fi
      tail_log "$DIR/pg_ctl.log"
    fi
  fi
  rm -rf -- "$DIR"
  say "stopped in $(secs_since "$t0") s"
}

cmd_start() {
  find_bin
  if [[ -e $DIR && -n "$(ls -A "$DIR")" ]]; then die "$DIR exists and is not empty"; fi
  mkdir -p "$DIR"
  DIR=$(cd "$DIR" && pwd -P)
  touch "$DIR/.berth-postgres"
  if ((EUID == 0)); then
    chown postgres:postgres "$DIR"
    runuser -u postgres -- test -w "$DIR" -a -x "$DIR" ||
      die "the postgres user cannot write $DIR (is a parent directory closed to it?)"
  fi
  # whatever happens from here on, a failed or interrupted start leaves nothing running
  trap 'rc=$?; if ((rc != 0)); then cmd_stop || true; fi' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM HUP

  local t0 t_init t_up t_db port attempt
  t0=$(now_ms)
  as_pg "$BIN/initdb" -D "$DIR/data" -U postgres --auth=trust --no-sync -E UTF8 --locale=C.UTF-8 \
    >"$DIR/initdb.log" 2>&1 || {
    say "initdb failed"
    tail_log "$DIR/initdb.log"
    exit 1
  }
  cat >>"$DIR/data/postgresql.conf" <<EOF

# scripts/postgres.sh: a throwaway server for the tests (never for real data: fsync is off)
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DIR'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
  t_init=$(secs_since "$t0")

  # the port is chosen just before the server binds; another one if it was taken meanwhile
  local t
  t=$(now_ms)
  for attempt in 1 2 3; do
    port=$(free_port)
    : >"$DIR/server.log"
    chown --reference="$DIR" "$DIR/server.log"
    if as_pg "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t "$TIMEOUT" -o "-p $port" start \
      >"$DIR/pg_ctl.log" 2>&1 3>&-; then
      break
    fi
    if ((attempt < 3)) && grep -q 'could not bind' "$DIR/server.log"; then
      say "port $port was taken meanwhile; trying another"
      continue
    fi
    say "the server did not start"
    tail_log "$DIR/pg_ctl.log" "$DIR/server.log"
    exit 1
  done
  t_up=$(secs_since "$t")

  t=$(now_ms)
  timeout 30 "$BIN/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
    -c "CREATE ROLE berth LOGIN PASSWORD 'berth' CREATEDB" -c "CREATE DATABASE berth OWNER berth" \
    >"$DIR/psql.log" 2>&1 || {
    say "creating role and database berth failed"
    tail_log "$DIR/psql.log" "$DIR/server.log"
    exit 1
  }
  t_db=$(secs_since "$t")

  echo "BERTH_TEST_DATABASE_URL=postgres://berth:berth@127.0.0.1:$port/berth" >"$DIR/env.tmp"
  mv "$DIR/env.tmp" "$DIR/env"
  say "PostgreSQL $(basename "$(dirname "$BIN")") on 127.0.0.1:$port in $(secs_since "$t0") s" \
    "(initdb $t_init, server $t_up, role+db $t_db)"
}

(($# == 2)) || usage
DIR=$2
[[ -n $DIR && $DIR != / ]] || usage
case $1 in
  start) cmd_start ;;
  stop)
    if [[ -d $DIR ]]; then DIR=$(cd "$DIR" && pwd -P); fi
    cmd_stop
    ;;
  *) usage ;;
esac
