#!/usr/bin/env bash
# A throwaway single-node Ceph with an S3 gateway (radosgw) for the tests, all state in one dir:
#
#   scripts/ceph.sh start DIR   # mon + memstore osd + radosgw on free loopback ports, an S3 user;
#                               # writes DIR/env (BERTH_TEST_S3_ENDPOINT/ACCESS_KEY/SECRET_KEY/REGION)
#   scripts/ceph.sh stop DIR    # TERM each daemon by its pid file (KILL after 10 s), remove DIR
#
# No systemd, no mgr (radosgw does not need one), data in RAM (memstore). Only the PIDs this
# script recorded in DIR/run/*.pid are ever signalled, and only while their command line names
# DIR/ceph.conf.
# See /work/shared/recipes/s3-ceph-radosgw.md for the measurements behind the settings.
set -euo pipefail

TIMEOUT=${BERTH_CEPH_START_TIMEOUT:-90} # seconds for the whole start
# RAM the osd may fill; BERTH_CEPH_MEMSTORE_BYTES raises it (bench:scale moves several GiB)
MEMSTORE_BYTES=${BERTH_CEPH_MEMSTORE_BYTES:-$((3 * 1024 * 1024 * 1024))}
POOLS=(.rgw.root default.rgw.log default.rgw.control default.rgw.meta
  default.rgw.buckets.index default.rgw.buckets.data default.rgw.buckets.non-ec)

NAME=ceph
# shellcheck source=scripts/service-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/service-lib.sh"

# Whether pid $1 is running. A zombie counts as gone: the daemons are reparented to PID 1, which
# may take a while to reap them (on this machine's init, up to ~2 s), and kill -0 succeeds on one.
alive() {
  local st
  # read, not $(<file): under set -e bash exits when $(<file) cannot open the file, even here
  read -r st 2>/dev/null <"/proc/$1/stat" || return 1
  st=${st##*) }
  [[ ${st%% *} != Z ]]
}

# Prints the pid recorded for daemon $1 if that process is alive and is ours (its command line
# names this DIR's ceph.conf); a stale or reused pid prints nothing.
our_pid() {
  local pidfile="$DIR/run/$1.pid" pid
  [[ -s $pidfile ]] || return 0
  pid=$(<"$pidfile")
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -qF -- "$DIR/ceph.conf" || return 0
  echo "$pid"
}

# stop_daemons NAME...: TERM them, wait up to 10 s, then KILL whatever is left.
stop_daemons() {
  local name pid pids=() left=() i
  for name in "$@"; do
    pid=$(our_pid "$name")
    if [[ -n $pid ]] && kill -TERM "$pid" 2>/dev/null; then pids+=("$pid"); fi
  done
  ((${#pids[@]})) || return 0
  for ((i = 0; i < 150; i++)); do
    left=()
    for pid in "${pids[@]}"; do if alive "$pid"; then left+=("$pid"); fi; done
    ((${#left[@]})) || return 0
    if ((i == 100)); then
      say "$* (pid ${left[*]}) still running 10 s after TERM; sending KILL"
      kill -KILL "${left[@]}" 2>/dev/null || true
    fi
    sleep 0.1
  done
  say "$* (pid ${left[*]}) did not exit after KILL"
  return 1
}

cmd_stop() {
  [[ -d $DIR ]] || return 0
  [[ -e $DIR/.berth-ceph || -z "$(ls -A "$DIR")" ]] || die "$DIR was not made by '$0 start'; not touching it"
  local t0 rc=0
  t0=$(now_ms)
  # One at a time: radosgw waits forever on an osd that went away, and the osd waits 5 s to tell
  # a mon that went away that it is going. Each takes ~0.2 s this way.
  stop_daemons client.rgw.a || rc=1
  stop_daemons osd.0 || rc=1
  stop_daemons mon.a || rc=1
  if ((rc == 0)); then
    rm -rf -- "$DIR"
    say "stopped in $(secs_since "$t0") s"
  else
    say "left $DIR in place because a daemon did not exit"
  fi
  return $rc
}

# --- start ------------------------------------------------------------------------------------

LOG_ON_FAILURE="" # the logs whose tails explain a failure at the current step

fail() {
  say "$*"
  local log
  for log in $LOG_ON_FAILURE; do
    if [[ -s $log ]]; then
      say "last lines of $log:"
      tail -n 30 "$log" | sed 's/^/    /' >&3
    fi
  done
  exit 1
}

# launch NAME CMD...: runs a daemon in the foreground of a session of its own (so a Ctrl-C meant
# for the tests does not reach it), in the background of this script, and records its pid in
# DIR/run/NAME.pid. Not daemon mode: a daemon that dies right away (a port taken) would take its
# pid file with it, and that is what the callers need to notice.
launch() {
  local name=$1 pid
  shift
  setsid "$@" -f -c "$CEPH_CONF" </dev/null >>"$DIR/log/$name.out" 2>&1 3>&- &
  pid=$!
  echo "$pid" >"$DIR/run/$name.pid"
}

# wait_for WHAT NAME CMD...: runs CMD every 0.2 s until it succeeds; fails as soon as daemon
# NAME has exited, or when the start deadline passes.
wait_for() {
  local what=$1 name=$2 pid
  shift 2
  pid=$(<"$DIR/run/$name.pid")
  until "$@" >/dev/null 2>&1; do
    alive "$pid" || fail "$name (pid $pid) exited before $what came up"
    (($(date +%s) < DEADLINE)) || fail "$what did not come up within ${TIMEOUT} s"
    sleep 0.2
  done
}

# The ceph CLI (this cluster's conf comes from CEPH_CONF) with a bound on any one call.
c() { timeout 30 ceph --connect-timeout 20 "$@"; }

osd_up() { [[ $(c osd stat -f json) == *'"num_up_osds":1,'* ]]; }

# Whether http://127.0.0.1:$1/ answers 200 (an anonymous ListBuckets on radosgw).
http_ok() {
  timeout 3 bash -c '
    exec 5<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" >&5
    IFS= read -r status <&5
    [[ $status == "HTTP/1."?" 200"* ]]' _ "$1" 2>/dev/null
}

write_conf() {
  cat >"$CEPH_CONF" <<EOF
[global]
fsid = $FSID
mon host = $MON_ADDR
public network = 127.0.0.0/8
ms bind ipv6 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
keyring = $DIR/\$name.keyring
run dir = $DIR/run
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
mon data avail warn = 2
mon data avail crit = 1

[mon]
mon data = $DIR/mon.\$id
keyring = $DIR/mon.\$id/keyring
paxos propose interval = 0.05
admin socket = $DIR/run/\$name.asok
log file = $DIR/log/\$name.log
log to stderr = false

[osd]
osd data = $DIR/osd.\$id
keyring = $DIR/osd.\$id/keyring
osd objectstore = memstore
memstore device bytes = $MEMSTORE_BYTES
osd memory target = 939524096
osd op num shards = 1
osd op num threads per shard = 2
admin socket = $DIR/run/\$name.asok
log file = $DIR/log/\$name.log
log to stderr = false

[client.rgw.a]
keyring = $DIR/client.rgw.a.keyring
# rgw frontends (beast endpoint=127.0.0.1:PORT tcp_nodelay=1) is on radosgw's command line:
# its port is chosen just before it starts
rgw data = $DIR/rgw.a
rgw dns name = localhost
rgw thread pool size = 64
# deleted objects' bytes are reclaimed within a minute, not after rgw's default two hours: RAM is the disk here
rgw gc obj min wait = 30
rgw gc processor period = 20
admin socket = $DIR/run/\$name.asok
log file = $DIR/log/\$name.log
log to stderr = false
EOF
}

start_mon() {
  LOG_ON_FAILURE="$DIR/log/mon.a.out $DIR/log/mon.a.log"
  {
    ceph-authtool --create-keyring "$DIR/mon..keyring" --gen-key -n mon. --cap mon 'allow *'
    ceph-authtool --create-keyring "$DIR/client.admin.keyring" --gen-key -n client.admin \
      --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *'
    ceph-authtool "$DIR/mon..keyring" --import-keyring "$DIR/client.admin.keyring"
    monmaptool --create --fsid "$FSID" --addv a "$MON_ADDR" "$DIR/monmap"
    ceph-mon -c "$CEPH_CONF" --mkfs -i a --monmap "$DIR/monmap" --keyring "$DIR/mon..keyring"
  } >"$DIR/log/mon.a.out" 2>&1 || fail "creating the mon failed"
  launch mon.a ceph-mon -i a
  wait_for "the mon ($MON_ADDR)" mon.a c mon stat
}

start_osd() {
  LOG_ON_FAILURE="$DIR/log/osd.0.out $DIR/log/osd.0.log $DIR/log/mon.a.log"
  local uuid secret id
  uuid=$(</proc/sys/kernel/random/uuid)
  secret=$(ceph-authtool --gen-print-key)
  # the osd's key must exist before mkfs
  printf '{"cephx_secret": "%s"}\n' "$secret" >"$DIR/osd-new.json"
  id=$(c osd new "$uuid" -i "$DIR/osd-new.json" 2>>"$DIR/log/osd.0.out") || fail "ceph osd new failed"
  [[ $id == 0 ]] || fail "ceph osd new returned id '$id', expected 0"
  {
    ceph-authtool --create-keyring "$DIR/osd.0/keyring" --name osd.0 --add-key "$secret"
    ceph-osd -c "$CEPH_CONF" -i 0 --mkfs --key "$secret" --osd-uuid "$uuid"
  } >>"$DIR/log/osd.0.out" 2>&1 || fail "creating the osd failed"
  launch osd.0 ceph-osd -i 0
  wait_for "the osd" osd.0 osd_up
}

# RGW's pools up front, else the first bucket, put and multipart upload each stall 2-4 s
create_pools() {
  LOG_ON_FAILURE="$DIR/log/pools.out $DIR/log/mon.a.log"
  local pool cmds="" detail
  for pool in "${POOLS[@]}"; do
    cmds+="osd pool create $pool 8 8"$'\n'"osd pool application enable $pool rgw"$'\n'
  done
  # one ceph process reading the commands from stdin: ~1 s instead of ~1.4 s for 14 processes;
  # it does not report failures in its exit status, so the result is checked
  timeout 60 ceph --connect-timeout 20 <<<"$cmds" >"$DIR/log/pools.out" 2>&1 || fail "creating the RGW pools failed"
  detail=$(c osd pool ls detail 2>>"$DIR/log/pools.out") || fail "listing the pools failed"
  for pool in "${POOLS[@]}"; do
    grep -qF "'$pool' " <<<"$detail" || fail "pool $pool was not created"
  done
}

# radosgw, on a port chosen just before it binds; another port if that one was taken meanwhile.
# Sets RGW_PORT.
start_rgw() {
  LOG_ON_FAILURE="$DIR/log/client.rgw.a.out $DIR/log/client.rgw.a.log"
  c auth get-or-create client.rgw.a mon 'allow rw' osd 'allow rwx' mgr 'allow rw' \
    >"$DIR/client.rgw.a.keyring" 2>>"$DIR/log/client.rgw.a.out" || fail "creating the radosgw key failed"
  local attempt pid
  for attempt in 1 2 3; do
    RGW_PORT=$(free_port "$MON_PORT2" "$MON_PORT1")
    launch client.rgw.a radosgw -n client.rgw.a --rgw-frontends "beast endpoint=127.0.0.1:$RGW_PORT tcp_nodelay=1"
    pid=$(<"$DIR/run/client.rgw.a.pid")
    until http_ok "$RGW_PORT"; do
      if ! alive "$pid"; then
        if ((attempt < 3)) && grep -qF "failed to bind address 127.0.0.1:$RGW_PORT" "$DIR/log/client.rgw.a.log"; then
          say "port $RGW_PORT was taken meanwhile; trying another"
          continue 2
        fi
        fail "radosgw (pid $pid) exited before http://127.0.0.1:$RGW_PORT/ answered"
      fi
      (($(date +%s) < DEADLINE)) || fail "radosgw (http://127.0.0.1:$RGW_PORT) did not come up within ${TIMEOUT} s"
      sleep 0.2
    done
    return 0
  done
}

# The S3 user, with generated keys. Sets ACCESS_KEY and SECRET_KEY.
create_user() {
  LOG_ON_FAILURE="$DIR/log/user.out"
  # no `tr </dev/urandom | head`: with SIGPIPE ignored (inherited) tr would complain
  local noise
  noise=$(LC_ALL=C tr -dc 'A-Z0-9' < <(head -c 4096 /dev/urandom))
  ACCESS_KEY=${noise:0:20}
  noise=$(LC_ALL=C tr -dc 'A-Za-z0-9' < <(head -c 4096 /dev/urandom))
  SECRET_KEY=${noise:0:40}
  ((${#ACCESS_KEY} == 20 && ${#SECRET_KEY} == 40)) || fail "could not generate S3 keys"
  timeout 60 radosgw-admin user create --uid=berth --display-name=berth \
    --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" >"$DIR/log/user.out" 2>&1 ||
    fail "radosgw-admin user create failed"
}

cmd_start() {
  local need
  for need in ceph ceph-authtool monmaptool ceph-mon ceph-osd radosgw radosgw-admin; do
    command -v "$need" >/dev/null || die "$need is not installed (apt-get install ceph radosgw, or scripts/install-test-deps.sh)"
  done
  if [[ -e $DIR && -n "$(ls -A "$DIR")" ]]; then die "$DIR exists and is not empty"; fi
  mkdir -p "$DIR"
  DIR=$(cd "$DIR" && pwd -P)
  touch "$DIR/.berth-ceph"
  mkdir -p "$DIR"/{run,log,mon.a,osd.0,rgw.a}
  export CEPH_CONF="$DIR/ceph.conf"
  # whatever happens from here on, a failed or interrupted start leaves nothing running
  trap 'rc=$?; if ((rc != 0)); then cmd_stop || true; fi' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM HUP

  local t0 t t_mon t_osd t_pools t_rgw t_user
  t0=$(now_ms)
  DEADLINE=$(($(date +%s) + TIMEOUT))
  FSID=$(</proc/sys/kernel/random/uuid)
  # the mon's addresses go into ceph.conf and the monmap, so they are chosen first
  MON_PORT2=$(free_port)
  MON_PORT1=$(free_port "$MON_PORT2")
  MON_ADDR="[v2:127.0.0.1:$MON_PORT2,v1:127.0.0.1:$MON_PORT1]"
  write_conf

  t=$(now_ms); start_mon; t_mon=$(secs_since "$t")
  t=$(now_ms); start_osd; t_osd=$(secs_since "$t")
  t=$(now_ms); create_pools; t_pools=$(secs_since "$t")
  t=$(now_ms); start_rgw; t_rgw=$(secs_since "$t")
  t=$(now_ms); create_user; t_user=$(secs_since "$t")

  cat >"$DIR/env.tmp" <<EOF
BERTH_TEST_S3_ENDPOINT=http://127.0.0.1:$RGW_PORT
BERTH_TEST_S3_ACCESS_KEY=$ACCESS_KEY
BERTH_TEST_S3_SECRET_KEY=$SECRET_KEY
BERTH_TEST_S3_REGION=us-east-1
EOF
  mv "$DIR/env.tmp" "$DIR/env"
  say "S3 on http://127.0.0.1:$RGW_PORT in $(secs_since "$t0") s" \
    "(mon $t_mon, osd $t_osd, pools $t_pools, radosgw $t_rgw, user $t_user)"
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
