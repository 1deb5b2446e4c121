#!/usr/bin/env bash
# IMAP load: Eider against Dovecot's imapd, in one run, same users, same
# seeded mailboxes, same command mix (see bench/imap/main.go).
#
#   bench/imap.sh                       # both; Dovecot is installed if missing (apt)
#   DOVECOT=0 bench/imap.sh             # Eider only
#   CONC=10 SEED=200 DUR=10s bench/imap.sh
#   DCACHE=1 bench/imap.sh              # Dovecot with its auth_cache too (5 min TTL)
#   ESYNC=normal bench/imap.sh          # Eider with store.sync normal (no fsync per commit)
#   EOLD=/tmp/eider-old bench/imap.sh   # also an older Eider binary ("eider-old"), same run
#   PROFILE=1 bench/imap.sh             # CPU profile of Eider in mode open -> $PROFILE_OUT
#
# CONC clients, one user each (user1..userCONC, password "pw"), each INBOX
# seeded with SEED corpus messages. Two modes per server: "open" (one LOGIN
# per client, then the mix over and over) and "login" (connect, LOGIN, the
# mix, LOGOUT every iteration). Both servers verify the same argon2id cost
# (m=64 MiB, t=3, p=1: Dovecot's ARGON2ID scheme, which Eider is configured
# to use here). Eider runs with its defaults otherwise (SQLite,
# synchronous=FULL, its authentication cache on); Dovecot with maildir and its
# defaults (fsync optimized, no auth_cache).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
CONC=${CONC:-10} SEED=${SEED:-200} DUR=${DUR:-10s} DOVECOT=${DOVECOT:-1} DCACHE=${DCACHE:-0} ESYNC=${ESYNC:-full}
EPORT=${EPORT:-21143} DPORT=${DPORT:-21144} OPORT=${OPORT:-21145} EOLD=${EOLD:-}
PROFILE=${PROFILE:-0} PROFILE_OUT=${PROFILE_OUT:-/tmp/eider-imap.pprof} PPROF=${PPROF:-127.0.0.1:21146}
tmp=$(mktemp -d /tmp/eider-imapbench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

tags=(); [ "$PROFILE" = 1 ] && tags=(-tags pprof)
go build "${tags[@]}" -o "$tmp/eider" ./cmd/eider
go build -o "$tmp/bench" ./bench/imap

waitport() { for _ in $(seq 1 300); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 did not open" >&2; return 1; }

# --- Eider ---
export EIDER_DATA_DIR="$tmp/eider-data" EIDER_HTTP_LISTEN= EIDER_LMTP_LISTEN= EIDER_POP3_LISTEN= EIDER_SMTP_LISTEN= \
  EIDER_IMAP_LISTEN=127.0.0.1:$EPORT EIDER_LOG_LEVEL=warn EIDER_PASSWORD_TIME=3 EIDER_PASSWORD_THREADS=1 \
  EIDER_PASSWORD_MEMORY_KIB=65536 EIDER_STORE_SYNC=$ESYNC
for i in $(seq 1 "$CONC"); do "$tmp/eider" user add "user$i" pw "user$i@bench.example" >/dev/null; done
PPROF_LISTEN=$PPROF "$tmp/eider" serve 2>"$tmp/eider.log" & pids+=($!)
waitport "$EPORT" || { cat "$tmp/eider.log" >&2; exit 1; }
if [ -n "$EOLD" ]; then
  for i in $(seq 1 "$CONC"); do EIDER_DATA_DIR="$tmp/old-data" "$EOLD" user add "user$i" pw "user$i@bench.example" >/dev/null; done
  EIDER_DATA_DIR="$tmp/old-data" EIDER_IMAP_LISTEN=127.0.0.1:$OPORT "$EOLD" serve 2>"$tmp/old.log" & pids+=($!)
  waitport "$OPORT"
fi

# --- Dovecot ---
have_dovecot=0
if [ "$DOVECOT" = 1 ]; then
  if [ ! -x /usr/lib/dovecot/imap ]; then
    echo "installing dovecot-imapd ..." >&2
    (apt-get install -y -qq dovecot-imapd >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq dovecot-imapd >/dev/null; }) || true
  fi
  if [ -x /usr/lib/dovecot/imap ]; then
    mkdir -p "$tmp/dc/run" "$tmp/dc/state" "$tmp/dc/mail"
    chmod 755 "$tmp" "$tmp/dc"
    # Dovecot refuses to keep mail as root: the mail belongs to an ordinary
    # user (the package's "dovecot" user when run as root).
    duid=$(id -u) dgid=$(id -g)
    if [ "$duid" = 0 ]; then duid=$(id -u dovecot) dgid=$(id -g dovecot); chown "$duid:$dgid" "$tmp/dc/mail"; fi
    for i in $(seq 1 "$CONC"); do echo "user$i:$(doveadm pw -s ARGON2ID -p pw)"; done >"$tmp/dc/passwd"
    chmod 644 "$tmp/dc/passwd"
    cat >"$tmp/dc/dovecot.conf" <<CONF
base_dir = $tmp/dc/run
state_dir = $tmp/dc/state
log_path = $tmp/dc/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
first_valid_uid = 0
mail_location = maildir:$tmp/dc/mail/%u
passdb {
  driver = passwd-file
  args = $tmp/dc/passwd
}
userdb {
  driver = static
  args = uid=$duid gid=$dgid home=$tmp/dc/mail/%u
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $DPORT
  }
  inet_listener imaps {
    port = 0
  }
}
CONF
    if [ "$DCACHE" = 1 ]; then printf 'auth_cache_size = 10M\nauth_cache_ttl = 5 min\n' >>"$tmp/dc/dovecot.conf"; fi
    /usr/sbin/dovecot -F -c "$tmp/dc/dovecot.conf" 2>>"$tmp/dc/stderr.log" & pids+=($!)
    if waitport "$DPORT"; then have_dovecot=1; else cat "$tmp/dc/stderr.log" "$tmp/dc/dovecot.log" >&2 || true; fi
  else
    echo "dovecot-imapd not available; Eider only" >&2
  fi
fi

servers="eider:$EPORT"
[ -n "$EOLD" ] && servers="eider-old:$OPORT $servers"
[ $have_dovecot = 1 ] && servers="$servers dovecot:$DPORT"
for s in $servers; do
  "$tmp/bench" -addr "127.0.0.1:${s#*:}" -c "$CONC" -seed "$SEED"
done

echo "== IMAP load: $CONC clients, $SEED messages per INBOX, $DUR per run; eider store.sync=$ESYNC, dovecot auth_cache=$DCACHE ($(nproc) CPUs, $(uname -r)) =="
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A R
for mode in open login; do
  for s in $servers; do
    who=${s%%:*}
    echo "-- $who, mode $mode --"
    if [ "$PROFILE" = 1 ] && [ "$who" = eider ] && [ "$mode" = open ]; then
      secs=$(( ${DUR%s} > 2 ? ${DUR%s} - 1 : 1 ))
      curl -s -o "$PROFILE_OUT" "http://$PPROF/debug/pprof/profile?seconds=$secs" & pids+=($!)
    fi
    "$tmp/bench" -addr "127.0.0.1:${s#*:}" -c "$CONC" -mode "$mode" -d "$DUR" -label "$who/$mode " | tee "$tmp/out"
    R[$who-$mode]=$(sed -n 's/.*: \([0-9]*\) cmd\/s$/\1/p' "$tmp/out")
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== summary (commands/s) =="
for mode in open login; do
  if [ $have_dovecot = 1 ]; then
    awk -v m=$mode -v e="${R[eider-$mode]}" -v d="${R[dovecot-$mode]}" 'BEGIN{printf "%-6s eider %6d  dovecot %6d  ratio %.2fx\n", m, e, d, e/d}'
    if [ -n "$EOLD" ]; then
      awk -v m=$mode -v e="${R[eider-$mode]}" -v o="${R[eider-old-$mode]}" -v d="${R[dovecot-$mode]}" 'BEGIN{printf "%-6s eider-old %6d  new/old %.2fx  old/dovecot %.2fx\n", m, o, e/o, o/d}'
    fi
  else
    echo "$mode eider ${R[eider-$mode]}"
  fi
done
