#!/usr/bin/env bash
# scripts/bench.sh — actionledger's performance figures on this machine, in
# one go, as a markdown table on stdout (progress on stderr).
#
#   bash scripts/bench.sh
#
# What it measures, in this order:
#   1. durable appends with 1 and 64 writers (services/eventstore/boltstore
#      benchmarks), next to the raw engine's own group-commit rate (bbolt
#      Batch, 64 writers) measured in the same run: their ratio is the store's
#      overhead;
#   2. the CLEA-national history (`actionledger generate --scale clea`,
#      ~1.6 M events) imported through the command handlers — generated and
#      imported once, then cached under $BENCH_DIR (default
#      ${TMPDIR:-/tmp}/actionledger-bench) for later runs; its import rate is
#      the one measured when the cache was made;
#   3. on a copy of that history: a full read-model rebuild (`actionledger
#      projections rebuild --data-dir`), twice;
#   4. restart-to-ready: `actionledger serve` on the history until /readyz
#      answers 200;
#   5. against that server (scripts/loadgen, open loop): commands at 200, 500
#      and 1000 per second, POST /v1/sync items per second, the national
#      completion stats at 2,000 requests per second, append→visible lag, and
#      the national as-of query;
#   6. the server's peak RSS over steps 4–5 (VmHWM), and sampled peaks of its
#      anonymous (Go heap) and file-backed (bbolt's maps) parts.
#
# Run time: about 2 minutes with the cache, about 3 the first time (generate
# and import); more when the machine is busy. The server runs with
# --log-level warn (one log line per request would be measured too). Everything runs on this one machine, so the
# load generator competes with the server for its cores: the figures are
# what this machine does with both on it. Repeat a run to see the spread;
# the store figures are min–max over two runs of each benchmark.
#
# Needs only Go (and the usual coreutils). BENCH_PORT (default 18480) is the
# port the server listens on, on loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$HOME/go/bin:$PATH"

BENCH_DIR=${BENCH_DIR:-${TMPDIR:-/tmp}/actionledger-bench}
PORT=${BENCH_PORT:-18480}
BASE="http://127.0.0.1:$PORT"
export ACTIONLEDGER_ADMIN_TOKEN=${ACTIONLEDGER_ADMIN_TOKEN:-bench-admin-token}
export ACTIONLEDGER_TOKEN_SECRET=${ACTIONLEDGER_TOKEN_SECRET:-bench-token-secret}
mkdir -p "$BENCH_DIR/bin"
BIN="$BENCH_DIR/bin/actionledger"
LOADGEN="$BENCH_DIR/bin/loadgen"
ROWS="$BENCH_DIR/rows.md"
: >"$ROWS"
SRV=""
started=$(date +%s)

say() { echo "bench: $*" >&2; }
row() { echo "$*" >>"$ROWS"; }
cleanup() {
	if [ -n "$SRV" ] && kill -0 "$SRV" 2>/dev/null; then
		kill -TERM "$SRV" 2>/dev/null || true
		wait "$SRV" 2>/dev/null || true
	fi
}
trap cleanup EXIT

say "building"
go build -o "$BIN" ./services/actionledger
go build -o "$LOADGEN" ./scripts/loadgen

# --- 1. the store --------------------------------------------------------
say "store benchmarks (about a minute)"
go test -run '^$' -bench 'BenchmarkAppend|BenchmarkRawBoltGroupCommit' -benchtime 3s -count 2 \
	./services/eventstore/boltstore/ >"$BENCH_DIR/store.txt" 2>&1 || { cat "$BENCH_DIR/store.txt" >&2; exit 1; }
rate_of() { # name -> "min max" of events/s
	grep "^$1" "$BENCH_DIR/store.txt" | awk '{for(i=1;i<=NF;i++) if($i=="events/s") print $(i-1)}' |
		sort -n | awk 'NR==1{min=$1} {max=$1} END{printf "%.0f %.0f", min, max}'
}
read -r a1min a1max <<<"$(rate_of 'BenchmarkAppend/writers=1-')"
read -r a64min a64max <<<"$(rate_of 'BenchmarkAppend/writers=64-')"
read -r rawmin rawmax <<<"$(rate_of 'BenchmarkRawBoltGroupCommit/writers=64-')"
ratio=$(awk -v a="$a64min" -v b="$a64max" -v c="$rawmin" -v d="$rawmax" 'BEGIN{printf "%.2f", (a+b)/(c+d)}')
row "| durable appends, 1 writer (fsync each) | $a1min – $a1max events/s | |"
row "| durable appends, 64 writers (group commit) | $a64min – $a64max events/s | |"
row "| raw bbolt group commit, 64 writers, same run | $rawmin – $rawmax events/s | |"
row "| ratio store / raw engine (64 writers) | $ratio | |"

# --- 2. the national history ---------------------------------------------
CLEA="$BENCH_DIR/clea"
if [ ! -f "$CLEA/READY" ]; then
	say "generating and importing the clea history once (cached in $CLEA; about 3 minutes)"
	rm -rf "$CLEA"
	mkdir -p "$CLEA"
	"$BIN" generate --scale clea --seed 1 --out "$CLEA/clea.ndjson" 2>"$CLEA/generate.txt"
	"$BIN" import --data-dir "$CLEA/data" --file "$CLEA/clea.ndjson" >"$CLEA/import.txt" 2>"$CLEA/import.err" ||
		{ cat "$CLEA/import.err" >&2; exit 1; }
	date -u +%Y-%m-%dT%H:%MZ >"$CLEA/READY"
fi
imp=$(grep -o 'appended [0-9,]* events at [0-9,]* events/s' "$CLEA/import.txt" | head -1)
took=$(grep -o 'in [0-9.hms]*:' "$CLEA/import.txt" | head -1 | tr -d ':')
readtook=$(grep -o 'reading the file took [0-9.hms]*' "$CLEA/import.txt" | head -1)
row "| import of clea through the handlers (cached $(cat "$CLEA/READY")) | ${imp#appended } ($took, $readtook more) | ≥ 100,000 events/s |"
ap=$(grep -E '^action points ' "$CLEA/generate.txt" | awk '{print $3}')
inprog=$(grep 'in_progress at the end' "$CLEA/generate.txt" | awk '{print $5, $6}')
ach=$(grep 'achieved at the end' "$CLEA/generate.txt" | awk '{print $5, $6}')
row "| clea history | $(grep -E '^events \(each' "$CLEA/generate.txt" | awk '{print $NF}') events, $ap action points: $inprog in progress, $ach achieved | |"

RUN="$BENCH_DIR/run"
say "copying the history for this run"
rm -rf "$RUN"
cp -r --reflink=auto "$CLEA/data" "$RUN"

# --- 3. rebuild ----------------------------------------------------------
say "rebuilding the read models, twice"
rb=()
for i in 1 2; do
	out=$("$BIN" projections rebuild --data-dir "$RUN" --log-level error)
	rb+=("$(echo "$out" | grep -o '([0-9]* events/s)' | tr -dc '0-9')")
done
row "| full projection rebuild, clea (\`actionledger projections rebuild --data-dir\`) | $(printf '%s\n' "${rb[@]}" | sort -n | head -1) – $(printf '%s\n' "${rb[@]}" | sort -n | tail -1) events/s | ≥ 500,000 events/s |"

# --- 4. restart to ready -------------------------------------------------
say "starting the server on the history"
t0=$(date +%s%N)
# The server runs with a soft memory limit, as the README recommends at
# national scale: without it the Go heap may grow to twice its live size
# before collecting (measured: peak RSS 532 MB without, 469 MB with).
SERVER_GOMEMLIMIT=${SERVER_GOMEMLIMIT:-400MiB}
GOMEMLIMIT=$SERVER_GOMEMLIMIT "$BIN" serve --addr "127.0.0.1:$PORT" --data-dir "$RUN" --log-level warn >"$BENCH_DIR/serve.log" 2>&1 &
SRV=$!
# Sample the server's memory: the anonymous part (the Go heap) apart from
# the file-backed part (bbolt maps its files; pages a scan touched count in
# RSS until the kernel reclaims them).
(
	maxa=0 maxf=0
	while kill -0 "$SRV" 2>/dev/null; do
		read -r a f < <(awk '/RssAnon/{a=$2} /RssFile/{f=$2} END{print a+0, f+0}' "/proc/$SRV/status" 2>/dev/null || echo "0 0")
		[ "${a:-0}" -gt "$maxa" ] && maxa=$a
		[ "${f:-0}" -gt "$maxf" ] && maxf=$f
		echo "$maxa $maxf" >"$BENCH_DIR/rss.txt"
		sleep 0.2
	done
) &
ready_ms=$("$LOADGEN" ready --server "$BASE" --since-ns "$t0" --timeout 5m)
row "| restart to ready on clea (start → /readyz 200) | $ready_ms ms | |"

# --- 5. HTTP -------------------------------------------------------------
for r in 200 500 1000; do
	say "commands at $r/s"
	"$LOADGEN" commands --server "$BASE" --rate "$r" --duration 10s >>"$ROWS"
done
say "sync"
"$LOADGEN" sync --server "$BASE" --phones 4 --batches 4 >>"$ROWS"
say "stats at 2000/s"
"$LOADGEN" stats --server "$BASE" --rate 2000 --duration 10s >>"$ROWS"
say "lag"
"$LOADGEN" lag --server "$BASE" --samples 300 >>"$ROWS"
say "as-of"
"$LOADGEN" asof --server "$BASE" --at 2015-10-12T00:00:00Z --runs 3 >>"$ROWS"

# --- 6. memory -----------------------------------------------------------
hwm=$(awk '/VmHWM/{printf "%.0f MB", $2/1024}' "/proc/$SRV/status")
read -r maxanon maxfile <"$BENCH_DIR/rss.txt"
row "| peak RSS of the server over steps 4–5 (VmHWM), GOMEMLIMIT=$SERVER_GOMEMLIMIT | $hwm (sampled peaks: $((maxanon / 1024)) MB anonymous, $((maxfile / 1024)) MB file-backed; events.db $(du -m "$RUN/events.db" | cut -f1) MB, projections.db $(du -m "$RUN/projections.db" | cut -f1) MB) | ≤ 500 MB |"
cleanup
SRV=""

elapsed=$(($(date +%s) - started))
{
	echo "## actionledger benchmarks"
	echo
	echo "$(nproc) cores, $(awk '/MemTotal/{printf "%.0f GB", $2/1048576}' /proc/meminfo) RAM, $(go version | awk '{print $3}'), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(date -u +%Y-%m-%dT%H:%MZ); \`bash scripts/bench.sh\` took ${elapsed}s."
	echo
	echo "| measurement | result | goal |"
	echo "|---|---|---|"
	cat "$ROWS"
} | tee "$BENCH_DIR/results-$(date -u +%Y%m%dT%H%M).md"
