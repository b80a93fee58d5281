#!/usr/bin/env bash
# Measures cloudtest's load generator against the vegeta CLI (same module
# version), hey and wrk, in one run on this machine: the generator pinned to
# core 0, the same small server pinned to core 1. For each tool and rate it
# prints CPU microseconds (user + system) per request, achieved / target
# rate and peak RSS, then the ratios the performance issue asks for (each
# against its goal), the peak RSS of a run ten times longer, and `cloudtest
# report` and the raw results file of a run of 1,000,000 requests against
# `vegeta report` and vegeta's own file. Every load is bounded by its
# duration.
# Usage: bash bench/bench.sh [seconds per run, default 5]
#        BENCH_PART=rss bash bench/bench.sh   (only the RSS comparison)
#        BENCH_PART=lag bash bench/bench.sh   (only the first-step latency
#                                            against vegeta's on a 2 ms server;
#                                            BENCH_PIN=0: not pinned to cores;
#                                            BENCH_LAG_ROUNDS=N interleaved rounds, default 5)
#        BENCH_PART=rates BENCH_RATES=5000 bash bench/bench.sh
#                                            (only the fixed-rate rows and ratios)
#        BENCH_ROUNDS=N: interleaved rounds of the fixed-rate rows (default 3);
#                        the ratios are medians of the rounds' ratios
#        BENCH_PART=report bash bench/bench.sh (only the 1,000,000-request report;
#                                            BENCH_REPORT_REQUESTS=N another count)
set -euo pipefail
cd "$(dirname "$0")/.."
D=${1:-5}
read -r -a RATES <<< "${BENCH_RATES:-1000 5000 10000}"
PORT=18099
URL="http://127.0.0.1:$PORT/"
work=$(mktemp -d)
trap 'kill $server ${slow:-} 2>/dev/null || true; rm -rf "$work"' EXIT

export DEBIAN_FRONTEND=noninteractive
for pkg in hey wrk time; do dpkg -s "$pkg" >/dev/null 2>&1 || { apt-get update -qq; apt-get install -y -qq "$pkg" >/dev/null; }; done
vegeta_version=$(go list -m -f '{{.Version}}' github.com/tsenart/vegeta/v12)
GOBIN="$work/bin" go install "github.com/tsenart/vegeta/v12@$vegeta_version"
go build -o "$work/bin/server" ./bench/server
go build -o "$work/bin/cloudtest" ./cmd/cloudtest
# The floor: a generator in C that does nothing but send and read (bench/floor).
gcc -O2 -o "$work/bin/floor" bench/floor/floor.c
export PATH="$work/bin:$PATH"

taskset -c 1 server -addr "127.0.0.1:$PORT" & server=$!
sleep 0.5

# measure NAME TARGET_RATE COMMAND...: runs COMMAND pinned to core 0 under
# /usr/bin/time; the command prints the number of requests it completed.
results=()
measure() {
  local name=$1 rate=$2; shift 2
  local out
  out=$( { /usr/bin/time -f "TIME %U %S %M %w" taskset -c 0 "$@" ; } 2>&1 ) || true
  local reqs cpu rss sleeps
  reqs=$(echo "$out" | grep -E '^REQUESTS [0-9]+' | tail -1 | awk '{print $2}')
  cpu=$(echo "$out" | grep '^TIME' | tail -1 | awk '{print $2 + $3}')
  rss=$(echo "$out" | grep '^TIME' | tail -1 | awk '{print $4}')
  sleeps=$(echo "$out" | grep '^TIME' | tail -1 | awk '{print $5}')
  [ -n "$reqs" ] || { echo "$name at $rate: no request count in:"; echo "$out" | tail -5; return; }
  local perreq achieved sleepsper
  perreq=$(awk -v c="$cpu" -v n="$reqs" 'BEGIN{ if (n>0) printf "%.2f", c/n*1e6; else print "-" }')
  achieved=$(awk -v n="$reqs" -v d="$D" -v r="$rate" 'BEGIN{ if (r>0) printf "%.3f", n/d/r; else printf "%.0f/s", n/d }')
  sleepsper=$(awk -v w="$sleeps" -v n="$reqs" 'BEGIN{ if (n>0) printf "%.2f", w/n; else print "-" }')
  printf '| %5s | %-36s | %6s | %8s | %8s | %10s | %8s | %6s |\n' "$ROUND" "$name" "$rate" "$reqs" "$perreq" "$achieved" "$((rss/1024)) MB" "$sleepsper"
  results+=("$name|$rate|$perreq|$rss|$reqs|$ROUND|$sleepsper")
}
ROUND=1
# field NAME RATE COLUMN [ROUND]: a measured figure (3 CPU µs/request, 4
# RSS, 5 requests, 7 sleeps per request) of that round, or the median over
# the rounds.
field() {
  printf '%s\n' "${results[@]}" | awk -F'|' -v n="$1" -v r="$2" -v c="$3" -v k="${4:-}" '$1==n && $2==r && (k=="" || $6==k) {print $c}' |
    sort -g | awk '{v[NR]=$1} END{ if (NR) print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2) }'
}
# median_range VALUES...: "median (min–max)" of the values, as ratios.
median_range() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END{ m=(NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2); if (NR>1) printf "%.2f× (%.2f–%.2f)", m, v[1], v[NR]; else printf "%.2f×", m }'; }

vegeta_run() { # rate (0 = max)
  local r=$1
  if [ "$r" = 0 ]; then
    echo "GET $URL" | vegeta attack -rate=0 -max-workers=64 -duration="${D}s" > "$work/v.bin"
  else
    echo "GET $URL" | vegeta attack -rate="$r" -duration="${D}s" > "$work/v.bin"
  fi
  echo "REQUESTS $(vegeta report -type=json < "$work/v.bin" | sed -E 's/.*"requests":([0-9]+).*/\1/')"
  cp "$work/v.bin" "$work/v-$r.bin"
}

cloudtest_suite() { # rate journey_steps [capture] (rate 0 = closed model, 64 users)
  local r=$1 steps=$2 capture=${3:-} dir="$work/suite-$1-$2${3:+-c}"
  mkdir -p "$dir"
  local load="rate = $r"
  [ "$r" = 0 ] && load="concurrency = 64"
  {
    echo "target \"bench\" { url = \"${URL%/}\" }"
    echo "performance \"bench\" {"
    echo "  target = target.bench"
    echo "  load {"
    echo "    $load"
    echo "    duration = \"${D}s\""
    echo "  }"
    echo "  journey \"j\" {"
    for i in $(seq 1 "$steps"); do
      echo "    step \"s$i\" {"
      echo "      http { path = \"/\" }"
      # A capture makes the journey run on cloudtest's workers, not the fast path.
      { [ "$steps" -gt 1 ] || [ -n "$capture" ]; } && echo "      capture { c$i = response.status }"
      echo "    }"
    done
    echo "  }"
    echo "}"
  } > "$dir/bench.hcl"
  echo "$dir"
}

cloudtest_run() { # dir
  cloudtest run --out "$work/out" "$1" >/dev/null 2>&1 || true
  local run
  run=$(ls -td "$work/out"/*/ | head -1)
  echo "REQUESTS $(grep '"level":"suite"' "$run/results.jsonl" | sed -E 's/.*"overall":\{"name":"overall","requests":([0-9]+).*/\1/')"
  rm -rf "$work/out"
}

hey_run() { # rate (0 = max) [workers, default 50]
  local r=$1 c=${2:-50}
  if [ "$r" = 0 ]; then
    hey -z "${D}s" -c 64 "$URL" > "$work/hey.txt"
  else
    hey -z "${D}s" -c "$c" -q $((r / c)) "$URL" > "$work/hey.txt"
  fi
  echo "REQUESTS $(grep -E '\[200\]' "$work/hey.txt" | awk '{print $2}')"
}

floor_run() { # rate steps
  floor 127.0.0.1 "$PORT" "$1" "$D" "$2"
}

wrk_run() {
  wrk -t1 -c64 -d"${D}s" "$URL" > "$work/wrk.txt"
  echo "REQUESTS $(grep 'requests in' "$work/wrk.txt" | awk '{print $1}')"
}

# The journey engine's first step against vegeta on a server that answers
# after 2 ms, at 500/s: the first step counts from when a worker began the
# journey, so the dispatcher's own wake-up delay must not be in it (goal:
# p50 within 0.1 ms of vegeta's). Both run one after the other against the
# same server; the server sleeps, so its own timer adds the same to both.
lag_rows() {
  local port=18098 rate=500 dir="$work/lag" pin0="taskset -c 0" pin1="taskset -c 1"
  local rounds=${BENCH_LAG_ROUNDS:-5}
  if [ "${BENCH_PIN:-1}" = 0 ]; then pin0=""; pin1=""; fi
  $pin1 server -addr "127.0.0.1:$port" -delay 2ms & slow=$!
  sleep 0.5
  # vegeta_lag: vegeta's p50 (ms) at the same rate on the same server.
  vegeta_lag() {
    echo "GET http://127.0.0.1:$port/" | $pin0 vegeta attack -rate="$rate" -duration="${D}s" > "$work/lag.bin"
    vegeta report -type=json < "$work/lag.bin" | sed -E 's/.*"50th":([0-9]+).*/\1/' | awk '{printf "%.3f", $1/1e6}'
  }
  # cloudtest_lag STEPS: first (and second) step p50 and the generator's
  # lag of journeys of STEPS steps with captures (cloudtest's workers).
  cloudtest_lag() {
    local steps=$1 d="$dir-$1"
    mkdir -p "$d"
    {
      echo "target \"slow\" { url = \"http://127.0.0.1:$port\" }"
      echo "performance \"lag\" {"
      echo "  target = target.slow"
      echo "  load {"
      echo "    rate     = $rate"
      echo "    duration = \"${D}s\""
      echo "  }"
      echo "  journey \"j\" {"
      for i in $(seq 1 "$steps"); do
        echo "    step \"s$i\" {"
        echo "      http { path = \"/\" }"
        echo "      capture { c$i = response.status }"
        echo "    }"
      done
      echo "  }"
      echo "}"
    } > "$d/lag.hcl"
    $pin0 cloudtest run --out "$work/lag-out" "$d" >/dev/null 2>&1 || true
    local run
    run=$(ls -td "$work/lag-out"/*/ | head -1)
    grep '"level":"suite"' "$run/results.jsonl" | python3 -c '
import json, sys
d = json.loads(sys.stdin.read())["data"]
s = {x["name"]: x["latency_ms"]["p50"] for x in d["steps"]}
g = d.get("generator", {}).get("wake_delay_ms", {"p50": 0, "p99": 0})  # 0: a cloudtest without the figure
print("%.3f %.3f %.3f %.3f" % (s["j › s1"], s.get("j › s2", 0), g["p50"], g["p99"]))'
    rm -rf "$work/lag-out"
  }
  echo "First-step latency at ${rate} journeys/s against a server answering after 2 ms, ${D} s each, ${rounds} interleaved rounds$([ -z "$pin0" ] && echo ", not pinned"), $(date -u +%F), load average $(cut -d' ' -f1 /proc/loadavg) at the start:"
  echo
  echo "| round | vegeta $vegeta_version p50 | cloudtest 1-step journey | 2-step journey: first step | second step | first step − vegeta, 1-step / 2-step (goal ≤ 0.1) | generator lag p50 / p99 (2-step) |"
  echo "|---|---|---|---|---|---|---|"
  # Each round runs the three one after the other, so that a slow spell of
  # the machine falls on all three alike; the medians over the rounds are
  # the figures to compare.
  local r v one first second lagp50 lagp99 lag1 rows=""
  for r in $(seq 1 "$rounds"); do
    v=$(vegeta_lag)
    read -r one _ lag1 _ <<< "$(cloudtest_lag 1)"
    read -r first second lagp50 lagp99 <<< "$(cloudtest_lag 2)"
    rows+="$v $one $first $second"$'\n'
    awk -v r="$r" -v v="$v" -v o="$one" -v f="$first" -v s="$second" -v a="$lagp50" -v b="$lagp99" 'BEGIN{ printf "| %d | %.3f | %.3f | %.3f | %.3f | %+.3f / %+.3f | %.3f / %.3f |\n", r, v, o, f, s, o-v, f-v, a, b }'
  done
  kill $slow 2>/dev/null || true
  printf '%s' "$rows" | python3 -c '
import sys, statistics as st
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
med = lambda i: st.median(r[i] for r in rows)
d1 = st.median(r[1] - r[0] for r in rows)
d2 = st.median(r[2] - r[0] for r in rows)
print("| median | %.3f | %.3f | %.3f | %.3f | %+.3f / %+.3f (median of the differences) | |" % (med(0), med(1), med(2), med(3), d1, d2))'
}
if [ "${BENCH_PART:-all}" = lag ]; then lag_rows; exit 0; fi

# report_rows: a closed-model run of 1,000,000 requests, then `cloudtest
# report` of its run directory against `vegeta report` of its raw results
# (the same results), and the raw file's size per request against the
# vegeta CLI's own file (its maximum-throughput row, or a run made here).
report_rows() {
  local n=${BENCH_REPORT_REQUESTS:-1000000} dir
  dir=$(cloudtest_suite 0 1)
  sed -i "s/duration = \"${D}s\"/duration = \"600s\"\n    max_requests = $n/" "$dir/bench.hcl"
  rm -rf "$work/rep"
  taskset -c 0 cloudtest run --out "$work/rep" "$dir" >/dev/null 2>&1 || true
  local run raw reqs
  run=$(ls -td "$work/rep"/*/ | head -1)
  raw="$run/load/bench.bin"
  reqs=$(grep '"level":"suite"' "$run/results.jsonl" | sed -E 's/.*"overall":\{"name":"overall","requests":([0-9]+).*/\1/')
  local ct vt
  /usr/bin/time -f "%e %U %S" -o "$work/rep-ct" taskset -c 0 cloudtest report "$run" >/dev/null 2>&1 || true
  /usr/bin/time -f "%e %U %S" -o "$work/rep-vt" taskset -c 0 vegeta report < "$raw" >/dev/null 2>&1 || true
  ct=$(tail -1 "$work/rep-ct") vt=$(tail -1 "$work/rep-vt")
  [ -f "$work/v-0.bin" ] || { echo "GET $URL" | taskset -c 0 vegeta attack -rate=0 -max-workers=64 -duration="${D}s" > "$work/v-0.bin"; }
  local vreqs
  vreqs=$(vegeta report -type=json < "$work/v-0.bin" | sed -E 's/.*"requests":([0-9]+).*/\1/')
  echo "A run of $reqs requests (closed model, 64 users):"
  awk -v ct="$ct" -v vt="$vt" -v cs="$(stat -c %s "$raw")" -v cn="$reqs" -v vs="$(stat -c %s "$work/v-0.bin")" -v vn="$vreqs" 'BEGIN{
    split(ct, a, " "); split(vt, b, " ")
    printf "  cloudtest report: %.2f s (CPU %.2f s); vegeta report of the same results: %.2f s (CPU %.2f s): %.2f× (goal ≤ 1)\n", a[1], a[2]+a[3], b[1], b[2]+b[3], a[1]/(b[1] > 0 ? b[1] : 0.01)
    printf "  raw results: %.1f bytes per request (%.1f MB); the vegeta CLI'"'"'s file: %.1f bytes per request (%d requests): %.2f× (goal ≤ 1)\n", cs/cn, cs/1e6, vs/vn, vn, (cs/cn)/(vs/vn) }'
  rm -rf "$work/rep"
}
if [ "${BENCH_PART:-all}" = report ]; then report_rows; exit 0; fi

if [ "${BENCH_PART:-all}" != rss ]; then
# The fixed-rate rows run in interleaved rounds (BENCH_ROUNDS, default 3):
# each round measures every generator at every rate one after the other,
# so that a slow spell of the machine falls on all of them alike; the
# ratios are taken within each round, and their medians are the figures.
ROUNDS=${BENCH_ROUNDS:-3}
echo "Load generators on core 0, server on core 1, ${D} s per run, ${ROUNDS} interleaved rounds of the fixed-rate rows, $(date -u +%F), load average $(cut -d' ' -f1 /proc/loadavg) at the start."
echo
printf '| %5s | %-36s | %6s | %8s | %8s | %10s | %8s | %6s |\n' "round" "generator" "rate" "requests" "CPU µs/request" "achieved/target" "peak RSS" "sleeps/request"
echo "|---|---|---|---|---|---|---|---|"
for ROUND in $(seq 1 "$ROUNDS"); do
  for r in "${RATES[@]}"; do
    measure "vegeta $vegeta_version" "$r" bash -c "$(declare -f vegeta_run); URL=$URL D=$D work=$work vegeta_run $r"
    measure "cloudtest (1 request)" "$r" bash -c "$(declare -f cloudtest_run); work=$work cloudtest_run $(cloudtest_suite "$r" 1)"
    measure "cloudtest (3-step journey)" "$r" bash -c "$(declare -f cloudtest_run); work=$work cloudtest_run $(cloudtest_suite $((r / 3)) 3)"
    # The journey engine (captures) on one step: its own cost against the
    # static request's, without the wake-ups of steps that wait on each other.
    measure "cloudtest (1-step journey, capture)" "$r" bash -c "$(declare -f cloudtest_run); work=$work cloudtest_run $(cloudtest_suite "$r" 1 capture)"
    measure "hey" "$r" bash -c "$(declare -f hey_run); URL=$URL D=$D work=$work hey_run $r"
    # hey with one worker sends at even intervals, as cloudtest does; its 50
    # workers' tickers fire together, in bursts of 50.
    [ "$r" = 1000 ] && measure "hey (1 worker: even arrivals)" "$r" bash -c "$(declare -f hey_run); URL=$URL D=$D work=$work hey_run $r 1"
    # The floor: what any generator sending at even times (Go's 1 ms
    # granularity) must spend here, the wake-ups, with no work of its own.
    measure "floor in C (1 request)" "$r" bash -c "$(declare -f floor_run); PORT=$PORT D=$D floor_run $r 1"
    measure "floor in C (3-step journey)" "$r" bash -c "$(declare -f floor_run); PORT=$PORT D=$D floor_run $((r / 3)) 3"
  done
done
ROUND=1
if [ "${BENCH_PART:-all}" = all ]; then
measure "vegeta $vegeta_version (max, 64 workers)" 0 bash -c "$(declare -f vegeta_run); URL=$URL D=$D work=$work vegeta_run 0"
measure "cloudtest (closed, 64 users)" 0 bash -c "$(declare -f cloudtest_run); work=$work cloudtest_run $(cloudtest_suite 0 1)"
measure "hey (max, 64 workers)" 0 bash -c "$(declare -f hey_run); URL=$URL D=$D work=$work hey_run 0"
measure "wrk (max, 64 connections)" 0 bash -c "$(declare -f wrk_run); URL=$URL D=$D work=$work wrk_run"
fi

echo
echo "Medians over the ${ROUNDS} rounds, CPU µs per request: "
V="vegeta $vegeta_version"
for r in "${RATES[@]}"; do
  printf '  %5d/s: vegeta %s, cloudtest 1 request %s, 3-step journey %s, 1-step journey %s, hey %s%s\n' "$r" "$(field "$V" "$r" 3)" \
    "$(field "cloudtest (1 request)" "$r" 3)" "$(field "cloudtest (3-step journey)" "$r" 3)" "$(field "cloudtest (1-step journey, capture)" "$r" 3)" "$(field hey "$r" 3)" \
    "$([ "$r" = 1000 ] && echo ", hey with 1 worker $(field "hey (1 worker: even arrivals)" "$r" 3) (achieved $(field "hey (1 worker: even arrivals)" "$r" 5) requests)")"
  printf '          sleeps (voluntary context switches) per request: cloudtest 1 request %s, 3-step journey %s, 1-step journey %s, hey %s\n' \
    "$(field "cloudtest (1 request)" "$r" 7)" "$(field "cloudtest (3-step journey)" "$r" 7)" "$(field "cloudtest (1-step journey, capture)" "$r" 7)" "$(field hey "$r" 7)"
  printf '          the floor in C: 1 request %s (%s sleeps per request), 3-step journey %s (%s sleeps per request)\n' \
    "$(field "floor in C (1 request)" "$r" 3)" "$(field "floor in C (1 request)" "$r" 7)" "$(field "floor in C (3-step journey)" "$r" 3)" "$(field "floor in C (3-step journey)" "$r" 7)"
done
echo
echo "Ratios (the goals of the performance issue), each taken within a round: median (lowest–highest) over the ${ROUNDS} rounds:"
for r in "${RATES[@]}"; do
  v1=() h1=() j1=() jv=() a1=() a3=() e1=() f1=() fh=() f3=()
  for k in $(seq 1 "$ROUNDS"); do
    v=$(field "$V" "$r" 3 "$k") h=$(field hey "$r" 3 "$k") c1=$(field "cloudtest (1 request)" "$r" 3 "$k") c3=$(field "cloudtest (3-step journey)" "$r" 3 "$k")
    n1=$(field "cloudtest (1 request)" "$r" 5 "$k") n3=$(field "cloudtest (3-step journey)" "$r" 5 "$k")
    v1+=("$(awk -v a="$c1" -v b="$v" 'BEGIN{print a/b}')") h1+=("$(awk -v a="$c1" -v b="$h" 'BEGIN{print a/b}')")
    j1+=("$(awk -v a="$c3" -v b="$c1" 'BEGIN{print a/b}')") jv+=("$(awk -v a="$c3" -v b="$v" 'BEGIN{print a/b}')")
    e1+=("$(awk -v a="$(field "cloudtest (1-step journey, capture)" "$r" 3 "$k")" -v b="$c1" 'BEGIN{print a/b}')")
    f=$(field "floor in C (1 request)" "$r" 3 "$k") g=$(field "floor in C (3-step journey)" "$r" 3 "$k")
    f1+=("$(awk -v a="$c1" -v b="$f" 'BEGIN{print a/b}')") fh+=("$(awk -v a="$h" -v b="$f" 'BEGIN{print a/b}')") f3+=("$(awk -v a="$g" -v b="$f" 'BEGIN{print a/b}')")
    a1+=("$(awk -v n="$n1" -v d="$D" -v r="$r" 'BEGIN{print n/d/r}')") a3+=("$(awk -v n="$n3" -v d="$D" -v r="$r" 'BEGIN{print n/d/r}')")
  done
  lowest() { printf '%s\n' "$@" | sort -g | head -1 | awk '{printf "%.3f", $1}'; }
  printf '  %5d/s: 1 request %s vegeta (goal ≤ 0.75), %s hey (goal ≤ 1); 3-step journey %s the 1 request (goal ≤ 1.15), %s vegeta; achieved at least %s and %s of the rate (goal ≥ 0.99)\n' \
    "$r" "$(median_range "${v1[@]}")" "$(median_range "${h1[@]}")" "$(median_range "${j1[@]}")" "$(median_range "${jv[@]}")" "$(lowest "${a1[@]}")" "$(lowest "${a3[@]}")"
  printf '          the journey engine on 1 step (a capture) %s the 1 request\n' "$(median_range "${e1[@]}")"
  printf '          against the floor in C: cloudtest 1 request %s, hey %s; the floor'"'"'s own 3-step journey %s its 1 request\n' "$(median_range "${f1[@]}")" "$(median_range "${fh[@]}")" "$(median_range "${f3[@]}")"
done
if [ "${BENCH_PART:-all}" = all ]; then
  vc=$(field "$V (max, 64 workers)" 0 3) vn=$(field "$V (max, 64 workers)" 0 5)
  cc=$(field "cloudtest (closed, 64 users)" 0 3) cn=$(field "cloudtest (closed, 64 users)" 0 5)
  hn=$(field "hey (max, 64 workers)" 0 5) wn=$(field "wrk (max, 64 connections)" 0 5)
  awk -v vc="$vc" -v vn="$vn" -v cc="$cc" -v cn="$cn" -v hn="$hn" -v wn="$wn" 'BEGIN{
    printf "  closed model at full speed: %.2f× vegeta'"'"'s throughput (goal ≥ 1.25), %.2f× hey'"'"'s, %.2f× wrk'"'"'s (goal ≥ 0.6); CPU per request %.2f× vegeta'"'"'s (goal ≤ 1)\n", cn/vn, cn/hn, cn/wn, cc/vc }'
fi

fi

[ "${BENCH_PART:-all}" = rates ] && exit 0
if [ "${BENCH_PART:-all}" = all ]; then echo; lag_rows; fi

echo
echo "Peak RSS of cloudtest at 1000/s (3-step journeys) for ${D} s and for $((D * 10)) s:"
taskset -c 0 /usr/bin/time -f "%M" -o "$work/rss-short" cloudtest run --out "$work/rss1" "$(cloudtest_suite 333 3)" >/dev/null 2>&1 || true
short=$(tail -1 "$work/rss-short")
long_dir=$(cloudtest_suite 333 3)
sed -i "s/duration = \"${D}s\"/duration = \"$((D * 10))s\"/" "$long_dir/bench.hcl"
taskset -c 0 /usr/bin/time -f "%M" -o "$work/rss-long" cloudtest run --out "$work/rss2" "$long_dir" >/dev/null 2>&1 || true
long=$(tail -1 "$work/rss-long")
awk -v a="$short" -v b="$long" 'BEGIN{ printf "  %d MB and %d MB: the longer run uses %.2f× (target ≤ 1.20)\n", a/1024, b/1024, b/a }'
if [ "${BENCH_PART:-all}" = all ]; then echo; report_rows; fi
