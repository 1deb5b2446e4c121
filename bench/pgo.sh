#!/usr/bin/env bash
# Regenerates cmd/eider/default.pgo, the CPU profile that `go build
# ./cmd/eider` optimizes with (profile-guided optimization, -pgo=auto).
#
#   bench/pgo.sh            # then review and commit cmd/eider/default.pgo
#
# The profile is Eider's delivery path, its hottest loop: bench/lmtp (raw
# client, 10 connections) delivers 4 KB messages, 200 KB prose and 200 KB
# messages with an attachment to a fresh store each, while a profiling
# build (-tags pprof) is sampled for SECS seconds; the three profiles are
# merged. With it, go-smtp's DATA reader gets bufio.Reader.ReadByte inlined
# (docs/benchmarks.md, session 5).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
SECS=${SECS:-8} PORT=${PORT:-24251} PPROF=${PPROF:-127.0.0.1:21151}
tmp=$(mktemp -d /tmp/eider-pgo.XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
go build -tags pprof -o "$tmp/eider" ./cmd/eider
go build -o "$tmp/bench" ./bench/lmtp
export EIDER_HTTP_LISTEN= EIDER_IMAP_LISTEN= EIDER_POP3_LISTEN= EIDER_SMTP_LISTEN= \
  EIDER_LMTP_LISTEN=127.0.0.1:$PORT EIDER_LOG_LEVEL=warn PPROF_LISTEN=$PPROF
profiles=()
for spec in "4k 4096 20000" "prose 204800 3000" "att 204800 3000 -attach"; do
  set -- $spec
  export EIDER_DATA_DIR="$tmp/data-$1"
  "$tmp/eider" user add p pw p@pgo.example >/dev/null
  "$tmp/eider" serve 2>>"$tmp/eider.log" & pid=$!
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
  curl -sf -o "$tmp/$1.pprof" "http://$PPROF/debug/pprof/profile?seconds=$SECS" & prof=$!
  # Sends until the profile is taken (n is more than SECS seconds' worth).
  "$tmp/bench" -addr "127.0.0.1:$PORT" -rcpt p@pgo.example -n "$3" -size "$2" ${4:-} >/dev/null & b=$!
  wait "$prof"
  kill "$b" 2>/dev/null || true; wait "$b" 2>/dev/null || true
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
  profiles+=("$tmp/$1.pprof")
done
go tool pprof -proto "${profiles[@]}" >cmd/eider/default.pgo 2>/dev/null
echo "wrote cmd/eider/default.pgo ($(stat -c %s cmd/eider/default.pgo) bytes) from ${#profiles[@]} profiles of ${SECS}s"
