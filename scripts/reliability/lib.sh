# Shared by scripts/reliability/{soak,faults,hostile-images}: a real
# livegate-server with the demo's test configuration (every session in the
# medium tier, `actions` challenges, the scripted-challenge hook so that the
# recorded clip's challenge is used; rate limits raised so that one load
# generator on 127.0.0.1 is not throttled), started, sampled and killed by
# pid. Source it; it needs bash 4.
set -euo pipefail

rel_here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
rel_build=${LIVEGATE_BUILD_DIR:-$rel_here/build}
rel_server_bin=$rel_build/apps/livegate-server/livegate-server
rel_admin_bin=$rel_build/apps/livegate-admin/livegate-admin
rel_load_bin=$rel_build/apps/livegate-load/livegate-load
export LIVEGATE_TEST_DATA=${LIVEGATE_TEST_DATA:-$rel_here/../shared/data}
export LIVEGATE_MODELS=${LIVEGATE_MODELS:-$rel_here/models}

rel_die() { echo "${0##*/}: ERROR: $*" >&2; exit 1; }
rel_say() { printf '\n== %s\n' "$*"; }

rel_check_bins() {
  local b
  for b in "$rel_server_bin" "$rel_admin_bin" "$rel_load_bin"; do
    [[ -x $b ]] || rel_die "$b is not built (cmake --build build --target livegate-server livegate-admin livegate-load)"
  done
  [[ -f $LIVEGATE_TEST_DATA/2_face_video/liveportrait/liveportrait_d10.mp4 ]] ||
    rel_die "shared data not found in $LIVEGATE_TEST_DATA (set LIVEGATE_TEST_DATA)"
}

# rel_server_setup DIR DB_URI [MAX_FRAMES]: config, policy, keys in DIR.
rel_server_setup() {
  local dir=$1 db=$2 max_frames=${3:-40}
  mkdir -p "$dir/challenges"
  chmod 700 "$dir"
  REL_MASTER_KEY=$(openssl rand -hex 32)
  export LIVEGATE_ADMIN_TOKEN=$(openssl rand -hex 24)
  local token_sha port
  token_sha=$(printf '%s' "$LIVEGATE_ADMIN_TOKEN" | sha256sum | cut -d' ' -f1)
  port=$(( 20000 + RANDOM % 30000 ))
  sed -e 's/"medium_from": [0-9]*/"medium_from": 1/; s/"high_from": [0-9]*/"high_from": 1000/' \
    "$rel_here/config/policy.default.json" > "$dir/policy.json"
  echo '{"challenge": {"allow_scripted": true}}' > "$dir/judgement.json"
  cat > "$dir/server.json" <<JSON
{
  "listen": {"address": "127.0.0.1", "port": $port},
  "tls": {"generate": true, "generated_dir": "tls"},
  "database": {"uri": "$db"},
  "master_key": {"env": "LIVEGATE_MASTER_KEY"},
  "policy_file": "policy.json",
  "judgement_policy_file": "judgement.json",
  "testing": {"scripted_challenges_dir": "challenges"},
  "limits": {"max_body_bytes": 50331648, "max_frames": $max_frames, "max_frame_bytes": 262144, "max_frame_side": 480,
             "thread_pool_size": 16,
             "rate_per_account_per_minute": 1000, "rate_per_device_per_minute": 1000,
             "rate_per_address_per_minute": 1000000},
  "admin": {"token_sha256": "$token_sha"},
  "log": {"level": "warn", "file": "$dir/server.log", "audit_file": "$dir/audit.log"}
}
JSON
  REL_DIR=$dir
  REL_URL="https://127.0.0.1:$port"
  REL_CERT=$dir/tls/tls_cert.pem
  REL_SERVER_PID=""
}

# rel_server_start [--try]: starts the server of rel_server_setup, waits for
# /healthz. --try: return 1 instead of dying when it does not come up.
rel_server_start() {
  local try=0
  [[ ${1:-} == --try ]] && try=1
  (cd "$REL_DIR" && LIVEGATE_MASTER_KEY=$REL_MASTER_KEY exec "$rel_server_bin" --config "$REL_DIR/server.json") \
    >>"$REL_DIR/server.out" 2>&1 &
  REL_SERVER_PID=$!
  local i
  for i in $(seq 1 300); do
    if [[ -f $REL_CERT ]] && curl -fsS --max-time 2 --cacert "$REL_CERT" "$REL_URL/healthz" >/dev/null 2>&1; then
      return 0
    fi
    if ! kill -0 "$REL_SERVER_PID" 2>/dev/null; then
      REL_SERVER_PID=""
      [[ $try -eq 1 ]] && return 1
      tail -20 "$REL_DIR/server.out" >&2
      rel_die "livegate-server exited"
    fi
    sleep 0.1
  done
  [[ $try -eq 1 ]] && return 1
  rel_die "livegate-server did not become healthy"
}

rel_server_stop() {
  if [[ -n ${REL_SERVER_PID:-} ]] && kill -0 "$REL_SERVER_PID" 2>/dev/null; then
    kill "$REL_SERVER_PID" 2>/dev/null || true
    wait "$REL_SERVER_PID" 2>/dev/null || true
  fi
  REL_SERVER_PID=""
}

rel_server_kill9() {
  if [[ -n ${REL_SERVER_PID:-} ]]; then
    kill -9 "$REL_SERVER_PID" 2>/dev/null || true
    wait "$REL_SERVER_PID" 2>/dev/null || true
  fi
  REL_SERVER_PID=""
}

# rel_rss_kib PID [VmRSS|VmHWM]
rel_rss_kib() { awk -v k="${2:-VmRSS}:" '$1 == k {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# rel_sql QUERY: one query on the server's database (sqlite3 or psql), rows as a|b|c.
rel_sql() {
  local db
  db=$(sed -n 's/.*"uri": "\([^"]*\)".*/\1/p' "$REL_DIR/server.json")
  case $db in
    sqlite:*) sqlite3 -cmd ".timeout 5000" "${db#sqlite:}" "$1" ;;
    postgres*) psql -X -q -A -t -F '|' "$db" -c "$1" ;;
  esac
}

# Torn records (docs/RELIABILITY.md): a device credential without the
# reference of its type, a reference without a device of its type, or a
# reference without the account's data key, or a data key without any
# reference (a deregistration that removed the references and devices but
# not the key). Prints one line per torn account.
rel_torn_accounts() {
  rel_sql "SELECT 'device_without_reference', d.account_id FROM devices d WHERE NOT EXISTS
             (SELECT 1 FROM biometric_references r WHERE r.account_id = d.account_id AND r.device_type = d.device_type)
           UNION ALL
           SELECT 'reference_without_device', r.account_id FROM biometric_references r WHERE NOT EXISTS
             (SELECT 1 FROM devices d WHERE d.account_id = r.account_id AND d.device_type = r.device_type)
           UNION ALL
           SELECT 'reference_without_data_key', r.account_id FROM biometric_references r WHERE NOT EXISTS
             (SELECT 1 FROM user_keys k WHERE k.account_id = r.account_id)
           UNION ALL
           SELECT 'data_key_without_reference', k.account_id FROM user_keys k WHERE NOT EXISTS
             (SELECT 1 FROM biometric_references r WHERE r.account_id = k.account_id)"
}
