#!/usr/bin/env bash
# REST API latency with wrk (Debian's, installed if missing) as the load
# generator: a C client spends far less CPU per request than the Go one in
# bench/api, so on this 2-CPU machine more of the CPU goes to the server.
#
#   bench/api-wrk.sh                      # uses the store bench/api filled
#   DIR=/tmp/eider-apibench CONC=50 DUR=10s bench/api-wrk.sh
#   SERVER_BIN=/tmp/eider-old bench/api-wrk.sh   # a binary built elsewhere
#
# The store must hold user "bench" (password "bench") with its mailbox:
# run `go run ./bench/api -dir $DIR -n 100000` once to fill it. Phases:
# list (first page, 20 newest) and get (a parsed message, picked at random
# among 250 of the mailbox), CONC connections each, wrk's latency
# distribution printed (p50/p99 over all requests).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
DIR=${DIR:-/tmp/eider-apibench} CONC=${CONC:-50} DUR=${DUR:-10s} PORT=${PORT:-18480}
command -v wrk >/dev/null || { sudo -n true 2>/dev/null && S=sudo || S=; $S apt-get install -y wrk >/dev/null; }
command -v jq >/dev/null || { sudo -n true 2>/dev/null && S=sudo || S=; $S apt-get install -y jq >/dev/null; }
[ -f "$DIR/eider.db" ] || { echo "no store in $DIR: run go run ./bench/api -dir $DIR first" >&2; exit 1; }
tmp=$(mktemp -d /tmp/eider-wrk.XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
# SERVER_BIN=/path/to/eider runs that binary instead of building the
# working tree (before/after comparisons against an older build).
if [ -n "${SERVER_BIN:-}" ]; then cp "$SERVER_BIN" "$tmp/eider"; else go build -o "$tmp/eider" ./cmd/eider; fi
EIDER_DATA_DIR="$DIR" EIDER_HTTP_LISTEN=127.0.0.1:$PORT EIDER_IMAP_LISTEN= EIDER_POP3_LISTEN= \
  EIDER_LMTP_LISTEN= EIDER_SMTP_LISTEN= EIDER_LOG_LEVEL=warn "$tmp/eider" serve 2>"$tmp/log" & pid=$!
base=http://127.0.0.1:$PORT
for _ in $(seq 1 100); do curl -sf "$base/health" >/dev/null && break; sleep 0.1; done
tok=$(curl -sf -H 'Content-Type: application/json' -d '{"username":"bench","password":"bench"}' "$base/authenticate" | jq -r .token)
mb=$(curl -sf -H "Authorization: Bearer $tok" "$base/users/me/mailboxes" | jq -r '.mailboxes[] | select(.path=="INBOX") | .id')
ids=$(curl -sf -H "Authorization: Bearer $tok" "$base/users/me/mailboxes/$mb/messages?limit=250" | jq -r '[.messages[].id] | map("\"" + . + "\"") | join(",")')
cat > "$tmp/get.lua" <<LUA
local ids = {$ids}
math.randomseed(os.time())
request = function()
  return wrk.format("GET", "/users/me/mailboxes/$mb/messages/" .. ids[math.random(#ids)])
end
done = function(summary, latency, requests)
  io.write(string.format("  p50 %.2f ms, p99 %.2f ms, %d errors\n", latency:percentile(50)/1000, latency:percentile(99)/1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
LUA
cat > "$tmp/list.lua" <<LUA
done = function(summary, latency, requests)
  io.write(string.format("  p50 %.2f ms, p99 %.2f ms, %d errors\n", latency:percentile(50)/1000, latency:percentile(99)/1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
LUA
echo "== REST API with wrk: $CONC connections, $DUR per phase, load average: $(cut -d' ' -f1-3 /proc/loadavg) =="
# Server CPU (user+system, from /proc) per request is printed beside wrk's
# figures: unlike req/s and latency it hardly depends on what else the
# machine runs, so before/after runs on a busy machine stay comparable.
tck=$(getconf CLK_TCK)
phase() { # name url [script]
  local c0 c1
  echo "-- $1 --"
  c0=$(awk '{print $14+$15}' "/proc/$pid/stat")
  wrk -t2 -c"$CONC" -d"$DUR" -H "Authorization: Bearer $tok" -s "$3" "$2" >"$tmp/wrk.out"
  c1=$(awk '{print $14+$15}' "/proc/$pid/stat")
  grep -E "Requests/sec|p50" "$tmp/wrk.out"
  awk -v d=$((c1 - c0)) -v t="$tck" '/requests in/ {printf "  server CPU %.0f µs per request\n", d / t * 1e6 / $1}' "$tmp/wrk.out"
}
phase "list (first page of 20)" "$base/users/me/mailboxes/$mb/messages" "$tmp/list.lua"
phase "get (random among 250)" "$base" "$tmp/get.lua"
echo "server RSS: $(grep VmRSS /proc/$pid/status | tr -s ' '), load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
