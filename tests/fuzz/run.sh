#!/bin/sh
# Runs one libFuzzer target built by build.sh for a bounded time:
#   tests/fuzz/run.sh SRCDIR OUTDIR TARGET SECONDS [libFuzzer options...]
# TARGET is session, sasl, sizecache or logrec. It starts from the seed
# corpus SRCDIR/tests/fuzz/corpus/TARGET (never written to); inputs found
# on the way go to OUTDIR/work/TARGET, so a later run goes on from there.
# A crash, a leak, a sanitizer report, a failed check or a timeout makes
# it exit non-zero and print the reproducer (the input, and the command
# that runs it again); the input is kept in OUTDIR/crashes/. On success
# it prints the runs, the coverage and the corpus size.
set -eu
src=${1:?usage: run.sh SRCDIR OUTDIR TARGET SECONDS}
out=${2:?usage: run.sh SRCDIR OUTDIR TARGET SECONDS}
t=${3:?usage: run.sh SRCDIR OUTDIR TARGET SECONDS}
secs=${4:?usage: run.sh SRCDIR OUTDIR TARGET SECONDS}
shift 4
bin="$out/fuzz_$t"
seeds="$src/tests/fuzz/corpus/$t"
[ -x "$bin" ] || { echo "fuzz: $bin is not built (make fuzz)" >&2; exit 1; }
[ -d "$seeds" ] || { echo "fuzz: no seed corpus $seeds" >&2; exit 1; }
work="$out/work/$t"
crashes="$out/crashes"
mkdir -p "$work" "$crashes"
# The fixture's mailbox: in memory when /dev/shm is usable (the size cache
# is written with fsync), removed afterwards whatever happens.
base=/tmp
[ -d /dev/shm ] && [ -w /dev/shm ] && base=/dev/shm
tmp=$(mktemp -d "$base/pop3s-fuzz-$t.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
log="$out/fuzz_$t.log"
dict=""
[ -f "$src/tests/fuzz/$t.dict" ] && dict="-dict=$src/tests/fuzz/$t.dict"
rc=0
# -timeout: one input taking more than 10 s is a hang (a finding too).
# shellcheck disable=SC2086
TMPDIR="$tmp" ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}" \
	UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}" \
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	-artifact_prefix="$crashes/$t-" $dict "$@" "$work" "$seeds" >"$log" 2>&1 || rc=$?
if [ "$rc" -ne 0 ]; then
	echo "fuzz_$t: FAILED (exit $rc); the end of $log:"
	tail -n 60 "$log"
	art=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
	if [ -n "$art" ] && [ -f "$art" ]; then
		echo "fuzz_$t: reproducer $art ($(wc -c <"$art") octets):"
		od -A d -c "$art" | head -n 40
		echo "fuzz_$t: run it again with: $bin $art"
	fi
	exit 1
fi
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
cov=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | sed 's/.*\(cov: [0-9]*\).*\(corp: [^ ]*\).*/\1 \2/')
echo "fuzz_$t: ${secs} s, ${runs:-?} inputs, no failure ($cov)"
