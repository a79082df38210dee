# Helpers shared by the service scripts (ceph.sh, postgres.sh); source it after setting NAME.
# shellcheck shell=bash

# Messages go to fd 3, a copy of the original stderr: the EXIT trap may run while a command's
# stderr is redirected to a log file in DIR (that it is about to remove). Daemons get 3>&-.
exec 3>&2
say() { echo "${NAME}: $*" >&3; }
die() {
  say "$*"
  exit 1
}
usage() { die "usage: $0 start DIR | stop DIR"; }

now_ms() { echo $(($(date +%s%N) / 1000000)); }
secs_since() {
  local d=$(($(now_ms) - $1))
  printf '%d.%01d' $((d / 1000)) $((d % 1000 / 100))
}

# A TCP port in 20000-31999 (below the kernel's ephemeral range) that no socket on this machine
# has bound, and that is not among the arguments.
free_port() {
  local p hex i f files=()
  for f in /proc/net/tcp /proc/net/tcp6; do [[ -r $f ]] && files+=("$f"); done
  for ((i = 0; i < 500; i++)); do
    p=$((20000 + RANDOM % 12000))
    [[ " $* " == *" $p "* ]] && continue
    printf -v hex ':%04X' "$p"
    if ! awk -v h="$hex" 'substr($2, length($2) - 4) == h { found = 1 } END { exit !found }' "${files[@]}"; then
      echo "$p"
      return 0
    fi
  done
  die "no free loopback port found"
}

