#!/usr/bin/env bash
# The long soak: the same workload as CI's short one (test/soak/soak.test.ts), for as long as asked.
#   scripts/soak.sh SECONDS [embedded|s3-postgres|all]
# Starts its own throwaway Ceph and PostgreSQL for s3-postgres (scripts/test-with-services.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:?usage: scripts/soak.sh SECONDS [embedded|s3-postgres|all]}"
backend="${2:-all}"
case "$backend" in
  embedded) pattern="embedded" ;;
  s3-postgres) pattern="S3" ;;
  all) pattern="." ;;
  *) echo "unknown backend $backend" >&2; exit 2 ;;
esac
npx tsc -p tsconfig.json
BERTH_SOAK_SECONDS="$seconds" bash scripts/test-with-services.sh \
  node --test --test-reporter=spec --test-name-pattern="$pattern" dist/test/soak/soak.test.js
