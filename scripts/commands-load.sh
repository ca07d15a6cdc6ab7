#!/usr/bin/env bash
# commands-load.sh — what a server spends on commands: starts a server
# binary on a fresh copy of a data dir and sends HTTP commands (visits)
# open-loop at each rate for 10 s (scripts/loadgen), then prints loadgen's
# row and, from the server, the CPU it used (/proc/PID/stat), the garbage
# collections it ran (GODEBUG=gctrace=1) and the bytes it allocated per
# command (go_memstats_alloc_bytes_total on /metrics), and its peak RSS.
#
#   bash scripts/commands-load.sh DATA_DIR BINARY [RATE...]   # rates default to 1000 2000
#
# To compare two builds, alternate them on the same data dir (a rebuilt
# one: `actionledger projections rebuild --data-dir DATA_DIR` first, or the
# server spends its first seconds catching up):
#
#   for i in 1 2; do for b in ./old ./new; do bash scripts/commands-load.sh DIR $b; done; done
#
# SERVER_GOMEMLIMIT (default 400MiB, as scripts/bench.sh) and PORT (default
# 18610) may be set. SLOW=8ms also lists, for each rate, the commands slower
# than that by the tenth of a second they were due in, and the server's
# collections in the same run (when each started, its mark phase's wall
# time), on one time line: that is how the tail at 2,000/s was traced to
# the collector (README, Benchmarks). TRACE=DIR also takes a Go execution
# trace of the server from the 2nd to the 8th second of each rate
# (DIR/commands-RATE.trace, through --debug-addr) and prints what
# scripts/tailtrace finds in it: where the slowest requests' time went
# (waiting for the store's writer, for a core) and how long the writer's
# syncs took. Tracing costs the server some CPU of its own. Needs Go, curl,
# awk.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: $0 DATA_DIR BINARY [RATE...]" >&2; exit 2; }
SRC=$1 BIN=$(realpath "$2")
shift 2
RATES=("$@")
[ ${#RATES[@]} -gt 0 ] || RATES=(1000 2000)
PORT=${PORT:-18610}
BASE="http://127.0.0.1:$PORT"
export ACTIONLEDGER_ADMIN_TOKEN=${ACTIONLEDGER_ADMIN_TOKEN:-bench-admin-token}
export ACTIONLEDGER_TOKEN_SECRET=${ACTIONLEDGER_TOKEN_SECRET:-bench-token-secret}
WORK=$(mktemp -d)
LOADGEN="$WORK/loadgen"
go build -o "$LOADGEN" ./scripts/loadgen
cp -r --reflink=auto "$SRC" "$WORK/data"
started=$(date +%s.%N)
DEBUG=()
if [ -n "${TRACE:-}" ]; then
	mkdir -p "$TRACE"
	go build -o "$WORK/tailtrace" ./scripts/tailtrace
	DEBUG=(--debug-addr "127.0.0.1:$((PORT + 1))")
fi
GODEBUG=gctrace=1 GOMEMLIMIT=${SERVER_GOMEMLIMIT:-400MiB} "$BIN" serve --addr "127.0.0.1:$PORT" \
	--data-dir "$WORK/data" --log-level warn ${DEBUG[@]+"${DEBUG[@]}"} >"$WORK/serve.log" 2>"$WORK/gc.log" &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$WORK"' EXIT
"$LOADGEN" ready --server "$BASE" --timeout 5m >/dev/null
# The users and communities loadgen makes, before anything is counted.
"$LOADGEN" commands --server "$BASE" --rate 100 --duration 2s >/dev/null
cpu() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
gcs() { grep -c '^gc ' "$WORK/gc.log" || true; }
allocated() { curl -sf "$BASE/metrics" | awk '/^go_memstats_alloc_bytes_total/ {printf "%d", $2}'; }
ticks=$(getconf CLK_TCK)
echo "$(basename "$BIN") on a copy of $SRC, GOMEMLIMIT=${SERVER_GOMEMLIMIT:-400MiB}"
for r in "${RATES[@]}"; do
	c0=$(cpu) g0=$(gcs) a0=$(allocated)
	if [ -n "${TRACE:-}" ]; then
		(sleep 2 && curl -sf -o "$TRACE/commands-$r.trace" "http://127.0.0.1:$((PORT + 1))/debug/pprof/trace?seconds=6") &
		tracer=$!
	fi
	if [ -n "${SLOW:-}" ]; then
		"$LOADGEN" commands --server "$BASE" --rate "$r" --duration 10s --slow "$SLOW" 2>"$WORK/slow.txt" ||
			{ cat "$WORK/slow.txt" >&2; exit 1; }
	else
		"$LOADGEN" commands --server "$BASE" --rate "$r" --duration 10s
	fi
	c1=$(cpu) g1=$(gcs) a1=$(allocated)
	if [ -n "${TRACE:-}" ]; then
		wait "$tracer" || { echo "no trace taken at $r/s" >&2; exit 1; }
		"$WORK/tailtrace" "$TRACE/commands-$r.trace" | sed 's/^/  /'
	fi
	if [ -n "${SLOW:-}" ]; then
		cat "$WORK/slow.txt"
		from=$(grep -o 'from [0-9.]*' "$WORK/slow.txt" | awk '{print $2}')
		# gctrace: "gc N @S.SSSs P%: a+MARK+c ms clock, ..."; S is seconds
		# since the server started.
		awk -v started="$started" -v from="$from" '/^gc / {
			at = started + substr($3, 2, length($3) - 2) - from
			split($5, clock, "+")
			if (at >= 0 && at <= 11) printf "  collection at +%.1fs, mark %s ms\n", at, clock[2]
		}' "$WORK/gc.log"
	fi
	n=$((r * 10))
	echo "  server: $(((c1 - c0) * 1000 / ticks)) ms of CPU for $n commands, $((g1 - g0)) collections, $(((a1 - a0) / n)) bytes allocated a command (the setup's replays included), peak RSS $(awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$PID/status") MB"
done
