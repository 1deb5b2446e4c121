#!/usr/bin/env bash
# LMTP delivery throughput: Eider against Dovecot's LMTP, in one run.
#
#   bench/lmtp.sh                  # both; Dovecot is installed if missing (apt)
#   DOVECOT=0 bench/lmtp.sh        # Eider only
#   N4K=5000 N200K=2000 GROW=20000 BATCH=1000 CONC=10 bench/lmtp.sh
#   PROFILE=1 bench/lmtp.sh        # CPU profile of Eider in the 200k (prose) phase -> $PROFILE_OUT
#   CLIENT=bdat bench/lmtp.sh      # the client: raw (default), bdat or gosmtp (bench/lmtp/main.go)
#   FTS=1 bench/lmtp.sh            # also 200 KB prose delivered and indexed, Dovecot with fts-lucene
#
# For each server: N4K messages of 4 KB and N200K of 200 KB, 10 concurrent
# senders, then GROW messages of 4 KB into one mailbox, printing the rate of
# every BATCH, to show how the rate holds as the mailbox grows. Eider runs
# with its defaults (SQLite, synchronous=FULL: every message fsynced);
# Dovecot with maildir and its default fsync settings.
#
# Leave five minutes between runs on a file system without a journal (this
# VM's ext4): for up to five minutes after files are deleted (the previous
# run's cleanup) the kernel skips their inodes when it allocates new ones,
# and creating a file costs several times more CPU, for Dovecot (a file per
# message, 4 KB included) more than for Eider.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
N4K=${N4K:-5000} N200K=${N200K:-2000} GROW=${GROW:-20000} BATCH=${BATCH:-1000} CONC=${CONC:-10}
# raw: MAIL, RCPT and DATA pipelined, the body stuffed a block at a time
# (what Postfix's lmtp client does); bdat: the body as one BDAT LAST chunk
# (CHUNKING, RFC 3030, which both servers offer; Exim's way); gosmtp:
# go-smtp's client, one round trip per command and about 3 ms of client CPU
# per 200 KB message, taken from the servers on a two-CPU machine.
CLIENT=${CLIENT:-raw}
# FTS=1 adds a phase: N200K messages of 200 KB prose delivered *and*
# indexed for full-text search, timed from the first message sent until
# the index is complete. Eider indexes in the background (it is done when
# GET /metrics shows eider_index_queue 0, on port EHTTP); Dovecot, with
# full-text search on a second instance (DPORT2), indexes nothing at
# delivery (fts_autoindex = no) and is then indexed in one go by `doveadm
# index`, its cheapest way. DOVECOT_FTS picks the backend (installed if
# missing): lucene (dovecot-lucene: words, as Eider's index; the default)
# or xapian (dovecot-fts-xapian with partial=3: every substring of 3 or
# more letters of every word, hundreds of times slower here).
FTS=${FTS:-0} EHTTP=${EHTTP:-24280} DPORT2=${DPORT2:-24243} DOVECOT_FTS=${DOVECOT_FTS:-lucene}
case $DOVECOT_FTS in lucene|xapian) ;; *) echo "DOVECOT_FTS=$DOVECOT_FTS: lucene or xapian" >&2; exit 1 ;; esac
DOVECOT=${DOVECOT:-1}
PROFILE=${PROFILE:-0} PROFILE_OUT=${PROFILE_OUT:-/tmp/eider-lmtp.pprof} PPROF=${PPROF:-127.0.0.1:21147} PROFILE_SECS=${PROFILE_SECS:-5}
EPORT=${EPORT:-24241} DPORT=${DPORT:-24242}
tmp=$(mktemp -d /tmp/eider-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

tags=(); [ "$PROFILE" = 1 ] && tags=(-tags pprof)
go build "${tags[@]}" -o "$tmp/eider" ./cmd/eider
go build -o "$tmp/bench" ./bench/lmtp

# A server left listening on one of the ports (an earlier run's, or another
# Dovecot) would be measured instead of the one this run starts, with its
# mailboxes from before: refuse to start.
ports="$EPORT $DPORT"; [ "$FTS" = 1 ] && ports="$ports $EHTTP $DPORT2"
for p in $ports; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    echo "port $p is already in use: stop what listens there, or set EPORT/DPORT" >&2; exit 1
  fi
done
waitport() { for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 did not open" >&2; return 1; }

# --- Eider ---
# Every phase gets a fresh Eider (new data directory): full-text indexing
# left queued by one phase (up to the indexer's lag bound, indexer.go) would
# otherwise run during the next one and be counted against it. Dovecot has
# no deferred work; its phases write to users of their own.
export EIDER_HTTP_LISTEN= EIDER_IMAP_LISTEN= EIDER_POP3_LISTEN= EIDER_SMTP_LISTEN= \
  EIDER_LMTP_LISTEN=127.0.0.1:$EPORT EIDER_LOG_LEVEL=warn
[ "$PROFILE" = 1 ] && export PPROF_LISTEN=$PPROF
eider_pid=
start_eider() { # phase [http-listen]
  if [ -n "$eider_pid" ]; then kill "$eider_pid"; wait "$eider_pid" 2>/dev/null || true; fi
  export EIDER_DATA_DIR="$tmp/eider-data-$1"
  for u in b4k b200k grow; do "$tmp/eider" user add "$u" pw "$u@bench.example" >/dev/null; done
  EIDER_HTTP_LISTEN="${2:-}" "$tmp/eider" serve 2>>"$tmp/eider.log" & eider_pid=$!; pids+=($eider_pid)
  waitport "$EPORT"
}

# --- Dovecot ---
# start_dovecot NAME PORT [CONF]: a Dovecot of its own in $tmp/NAME, LMTP
# on PORT, maildir; CONF is added to its configuration.
start_dovecot() {
  local d="$tmp/$1"
  mkdir -p "$d/run" "$d/state" "$d/mail"
  chmod 755 "$tmp" "$d"
  # Dovecot refuses to deliver as root: the mail belongs to an ordinary
  # user (the package's "dovecot" user when run as root).
  local duid=$(id -u) dgid=$(id -g)
  if [ "$duid" = 0 ]; then duid=$(id -u dovecot) dgid=$(id -g dovecot); chown "$duid:$dgid" "$d/mail"; fi
  cat >"$d/dovecot.conf" <<CONF
base_dir = $d/run
state_dir = $d/state
log_path = $d/dovecot.log
protocols = lmtp
listen = 127.0.0.1
ssl = no
first_valid_uid = 0
mail_location = maildir:$d/mail/%u
passdb {
  driver = static
  args = nopassword=y
}
userdb {
  driver = static
  args = uid=$duid gid=$dgid home=$d/mail/%u
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $2
  }
}
${3:-}
CONF
  /usr/sbin/dovecot -F -c "$d/dovecot.conf" 2>>"$d/stderr.log" & pids+=($!)
  waitport "$2" || { cat "$d/stderr.log" "$d/dovecot.log" >&2 || true; return 1; }
}
have_dovecot=0
if [ "$DOVECOT" = 1 ]; then
  if [ ! -x /usr/lib/dovecot/lmtp ]; then
    echo "installing dovecot-lmtpd ..." >&2
    (apt-get install -y -qq dovecot-lmtpd >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq dovecot-lmtpd >/dev/null; }) || true
  fi
  if [ -x /usr/lib/dovecot/lmtp ]; then
    start_dovecot dc "$DPORT" && have_dovecot=1
  else
    echo "dovecot-lmtpd not available; Eider only" >&2
  fi
fi

rate() { sed -n 's/.* \([0-9]*\) msg\/s$/\1/p' | tail -1; }
run() { # label port rcpt n size batch [extra flags]
  "$tmp/bench" -client "$CLIENT" -label "$1 " -addr "127.0.0.1:$2" -rcpt "$3" -n "$4" -c "$CONC" -size "$5" -batch "$6" ${7:-} | tee "$tmp/out.$1"
}

echo "== LMTP delivery, $CONC concurrent senders, client $CLIENT ($(nproc) CPUs, $(uname -r)) =="
declare -A R
# 200k: all prose text (every byte goes to the full-text index);
# 200k-att: 2 KB text + a base64 attachment (the usual large message).
for spec in "4k 4096 $N4K b4k" "200k 204800 $N200K b200k" "200k-att 204800 $N200K b200k -attach"; do
  set -- $spec
  start_eider "$1"
  if [ "$PROFILE" = 1 ] && [ "$1" = 200k ]; then # profile (the first PROFILE_SECS of) this phase
    curl -s -o "$PROFILE_OUT" "http://$PPROF/debug/pprof/profile?seconds=$PROFILE_SECS" & pids+=($!); prof=$!
  fi
  run "eider-$1" "$EPORT" "$4@bench.example" "$3" "$2" 0 "${5:-}"; R[eider-$1]=$(rate <"$tmp/out.eider-$1")
  if [ $have_dovecot = 1 ]; then
    run "dovecot-$1" "$DPORT" "$4" "$3" "$2" 0 "${5:-}"; R[dovecot-$1]=$(rate <"$tmp/out.dovecot-$1")
  fi
done
if [ -n "${prof:-}" ]; then wait "$prof" && echo "CPU profile of the 200k phase: $PROFILE_OUT"; fi
echo "== growth: $GROW messages of 4 KB into one mailbox, rate per $BATCH =="
start_eider grow
run eider-grow "$EPORT" "grow@bench.example" "$GROW" 4096 "$BATCH"
[ $have_dovecot = 1 ] && run dovecot-grow "$DPORT" "grow" "$GROW" 4096 "$BATCH"

if [ "$FTS" = 1 ]; then
  echo "== 200 KB prose, delivered and indexed =="
  now() { date +%s.%N; }
  # fts RUN N T0 T1 T2: the line for one server, its rate from T0 to T2.
  fts() { awk -v w="$1" -v n="$2" -v a="$3" -v b="$4" -v c="$5" 'BEGIN{printf "%s-fts: %d messages delivered in %.1fs, indexed %.1fs later: %.1f msg/s\n", w, n, b-a, c-b, n/(c-a)}'; }
  start_eider fts "127.0.0.1:$EHTTP"; waitport "$EHTTP"
  t0=$(now); run eider-fts "$EPORT" "b200k@bench.example" "$N200K" 204800 0; t1=$(now)
  # Polls the other process until its indexer queue is empty.
  until curl -sf "http://127.0.0.1:$EHTTP/metrics" | grep -qx 'eider_index_queue 0'; do sleep 0.2; done
  t2=$(now); fts eider "$N200K" "$t0" "$t1" "$t2" | tee "$tmp/fts.eider"
  R[eider-fts]=$(awk '{print $(NF-1)}' "$tmp/fts.eider")
  if [ $have_dovecot = 1 ]; then
    case $DOVECOT_FTS in
    lucene) pkg=dovecot-lucene so=lib21_fts_lucene_plugin.so conf='mail_plugins = $mail_plugins fts fts_lucene
plugin {
  fts = lucene
  fts_lucene = whitespace_chars=@.
  fts_autoindex = no
}' ;;
    xapian) pkg=dovecot-fts-xapian so=lib21_fts_xapian_plugin.so conf='mail_plugins = $mail_plugins fts fts_xapian
plugin {
  fts = xapian
  fts_xapian = partial=3 full=20 verbose=0
  fts_autoindex = no
}' ;;
    esac
    so=/usr/lib/dovecot/modules/$so
    [ -f $so ] || apt-get install -y -qq $pkg >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq $pkg >/dev/null; } || true
    if [ -f $so ] && start_dovecot dcfts "$DPORT2" "$conf"; then
      t0=$(now); run dovecot-fts "$DPORT2" b200k "$N200K" 204800 0; t1=$(now)
      doveadm -c "$tmp/dcfts/dovecot.conf" index -u b200k INBOX
      t2=$(now); fts dovecot "$N200K" "$t0" "$t1" "$t2" | tee "$tmp/fts.dovecot"
      R[dovecot-fts]=$(awk '{print $(NF-1)}' "$tmp/fts.dovecot")
    else
      echo "dovecot-fts-xapian not available: Eider only" >&2
    fi
  fi
fi

echo "== summary (msg/s) =="
phases="4k 200k 200k-att"; [ "$FTS" = 1 ] && phases="$phases fts"
for s in $phases; do
  if [ -n "${R[dovecot-$s]:-}" ]; then
    awk -v s=$s -v e="${R[eider-$s]}" -v d="${R[dovecot-$s]}" 'BEGIN{printf "%-5s eider %6.1f  dovecot %6.1f  ratio %.2fx\n", s, e, d, e/d}'
  else
    echo "$s eider ${R[eider-$s]}"
  fi
done
for who in eider dovecot; do
  f="$tmp/out.$who-grow"; [ -f "$f" ] || continue
  # The mean of the first third of the batches against the last third:
  # one batch against one swings by +-15% here with the disk's fsync times.
  awk -v who=$who '/batch/{r[++n]=$(NF-1)} END{if(n<2) exit; k=int(n/3); if(k<1) k=1; for(i=1;i<=k;i++){a+=r[i]; b+=r[n-k+i]}; a/=k; b/=k
    printf "%-7s growth: first %d batches %d msg/s, last %d batches %d msg/s (%+.0f%%)\n", who, k, a, k, b, (b-a)*100/a}' "$f"
done
