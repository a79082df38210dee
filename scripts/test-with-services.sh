#!/usr/bin/env bash
# Runs a command (the test suite) with the real engines the tests need:
#
#   scripts/test-with-services.sh node --test --test-reporter=spec dist/test/
#
# Starts, in parallel and in temp dirs under /tmp, a single-node Ceph radosgw (scripts/ceph.sh)
# and a PostgreSQL server (scripts/postgres.sh), exports what they write to DIR/env
# (BERTH_TEST_S3_ENDPOINT, BERTH_TEST_S3_ACCESS_KEY, BERTH_TEST_S3_SECRET_KEY, BERTH_TEST_S3_REGION,
# BERTH_TEST_DATABASE_URL, and BERTH_TEST_CEPH_DIR), runs the command, stops both whatever happens (failure, Ctrl-C) and
# exits with the command's status.
#
# An engine that is not installed: under CI=true this fails at once; otherwise one line says
# which tests will skip and what to install, and the command runs anyway. An engine that is
# installed but does not start is always a failure. An engine whose variables are already set
# (e.g. BERTH_TEST_DATABASE_URL pointing at a server of your own) is not started.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
say() { echo "test-with-services: $*" >&2; }

(($# > 0)) || {
  say "usage: $0 CMD [ARG...]"
  exit 2
}

ceph_installed() {
  local tool
  for tool in ceph ceph-authtool monmaptool ceph-mon ceph-osd radosgw radosgw-admin; do
    command -v "$tool" >/dev/null || return 1
  done
}
postgres_installed() { compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; }

want_ceph=0 want_pg=0 skips=() installs=()
if [[ -n ${BERTH_TEST_S3_ENDPOINT:-} ]]; then
  say "using the S3 engine at $BERTH_TEST_S3_ENDPOINT from the environment"
elif ceph_installed; then
  want_ceph=1
else
  skips+=("S3 (Ceph radosgw)") installs+=("ceph radosgw")
fi
if [[ -n ${BERTH_TEST_DATABASE_URL:-} ]]; then
  say "using the PostgreSQL server in BERTH_TEST_DATABASE_URL from the environment"
elif postgres_installed; then
  want_pg=1
else
  skips+=("PostgreSQL") installs+=("postgresql")
fi
if ((${#skips[@]})); then
  what=$(IFS=/; echo "${skips[*]}")
  if [[ ${CI:-} == true ]]; then
    say "CI=true and not installed: $what; run scripts/install-test-deps.sh (apt-get install ${installs[*]})"
    exit 1
  fi
  say "$what not installed: the tests that need it will skip (sudo bash scripts/install-test-deps.sh, or apt-get install ${installs[*]})"
fi

ceph_dir="" pg_dir="" ceph_starter="" pg_starter="" cleaned=0

cleanup() {
  ((cleaned)) && return
  cleaned=1
  trap '' INT TERM HUP # a second Ctrl-C must not cut the clean-up short
  local pid
  # a start still running (interrupted early) stops what it started when it is TERMed
  for pid in $ceph_starter $pg_starter; do
    kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null
  done
  for pid in $ceph_starter $pg_starter; do wait "$pid" 2>/dev/null; done
  local stoppers=()
  if [[ -n $ceph_dir ]]; then
    bash "$here/ceph.sh" stop "$ceph_dir" &
    stoppers+=($!)
  fi
  if [[ -n $pg_dir ]]; then
    bash "$here/postgres.sh" stop "$pg_dir" &
    stoppers+=($!)
  fi
  for pid in "${stoppers[@]}"; do
    wait "$pid" || say "WARNING: stopping a test engine failed; see above (its dir is left in /tmp)"
  done
}
trap 'status=$?; cleanup; exit "$status"' EXIT
trap 'say "interrupted; stopping the test engines"; exit 130' INT
trap 'say "terminated; stopping the test engines"; exit 143' TERM
trap 'say "hung up; stopping the test engines"; exit 129' HUP

# /tmp rather than $TMPDIR: short unix socket paths, and a dir the postgres user can reach
if ((want_ceph)); then
  ceph_dir=$(mktemp -d /tmp/berth-ceph.XXXXXX) || exit 1
  bash "$here/ceph.sh" start "$ceph_dir" &
  ceph_starter=$!
fi
if ((want_pg)); then
  pg_dir=$(mktemp -d /tmp/berth-pg.XXXXXX) || exit 1
  bash "$here/postgres.sh" start "$pg_dir" &
  pg_starter=$!
fi
if [[ -n $ceph_starter ]]; then
  wait "$ceph_starter" || {
    ceph_starter=""
    say "Ceph is installed but did not start (see above); not running the tests"
    exit 1
  }
  ceph_starter=""
  set -a
  . "$ceph_dir/env"
  set +a
  # for suites that start a gateway of their own on this cluster (test/helpers/outage.ts)
  export BERTH_TEST_CEPH_DIR=$ceph_dir
fi
if [[ -n $pg_starter ]]; then
  wait "$pg_starter" || {
    pg_starter=""
    say "PostgreSQL is installed but did not start (see above); not running the tests"
    exit 1
  }
  pg_starter=""
  set -a
  . "$pg_dir/env"
  set +a
fi

"$@"
exit
