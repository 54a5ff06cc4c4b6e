#!/bin/sh
# The product's units under a real systemd as PID 1: builds pop3s, installs
# it with `make install` into a throw-away root (units in /etc/systemd/system,
# programs in /opt/pop3s), boots that root with systemd-nspawn and runs
# tests/container/driver.py there as pop3s-container-test.service, which
# powers the container off when it is done.
# CAP_SYS_RESOURCE: as on a real host, PID 1 may create the log queue deeper
# than fs.mqueue.msg_max (10 in the container's own IPC namespace).
# Usage: tests/container/run.sh   (as root; exits 0 if every check passed)
# Environment: KEEP=1 keeps the work directory, POP3S_CT_ONLY=t_a,t_b runs
# only those steps of driver.py, POP3S_CT_TIMEOUT (seconds,
# default 480, 1500 with POP3S_CT_BENCH) bounds the container.
# Benchmark (opt-in, prints a table, asserts nothing about the figures):
# POP3S_CT_BENCH=1 POP3S_CT_ONLY=t_bench tests/container/run.sh measures
# every sandbox variant of pop3s@.service listed in driver.py (BENCH_VARIANTS);
# POP3S_CT_BENCH=name,name (or their indexes) only those, in that order
# (repeats allowed: 2,31,2,32 interleaves plain); POP3S_CT_BENCH_N
# connections per variant (default 100); POP3S_CT_BENCH_HOLD=K measures each
# variant a second time while K other sessions stay open (default 0: not).
# POP3S_CT_COMPARE=rounds,n,modes POP3S_CT_ONLY=t_compare: pop3s against
# Dovecot (compare.py; run it through tests/bench/systemd-vs-dovecot.sh).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
limit=${POP3S_CT_TIMEOUT:-480}
[ -n "${POP3S_CT_BENCH:-}${POP3S_CT_COMPARE:-}" ] && limit=${POP3S_CT_TIMEOUT:-1500}

if [ "$(id -u)" -ne 0 ]; then echo "container test: needs root" >&2; exit 1; fi
for p in systemd-nspawn systemd-sysusers python3 certtool curl; do
	command -v "$p" >/dev/null || { echo "container test: $p is missing (packaging/build-deps.sh)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/pop3s-container.XXXXXX)
root=$work/root
results=$work/results
cleanup() {
	if [ "${KEEP:-0}" = 1 ]; then echo "container test: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- build and install exactly as `make install` does ---------------------
t0=$(date +%s)
mkdir -p "$work/build" "$results"
[ -n "${POP3S_CT_ONLY:-}" ] && echo "$POP3S_CT_ONLY" >"$results/only"
[ -n "${POP3S_CT_BENCH:-}" ] && echo "$POP3S_CT_BENCH" >"$results/bench"
[ -n "${POP3S_CT_BENCH_N:-}" ] && echo "$POP3S_CT_BENCH_N" >"$results/bench_n"
[ -n "${POP3S_CT_BENCH_HOLD:-}" ] && echo "$POP3S_CT_BENCH_HOLD" >"$results/bench_hold"
[ -n "${POP3S_CT_COMPARE:-}" ] && echo "$POP3S_CT_COMPARE" >"$results/compare"
(
	cd "$work/build"
	[ -x "$top/configure" ] || (cd "$top" && autoreconf -fi >/dev/null 2>&1)
	"$top/configure" -q --prefix=/opt/pop3s --sysconfdir=/etc --localstatedir=/var \
		--with-systemdsystemunitdir=/etc/systemd/system >/dev/null
	make -j"$(nproc 2>/dev/null || echo 2)" >/dev/null 2>&1 || make
) || { echo "container test: build failed" >&2; exit 1; }

# --- the container's root: host /usr (read-only), a copy of /etc ----------
mkdir -p "$root"
for d in dev proc sys run tmp var/log/journal var/lib opt usr home; do mkdir -p "$root/$d"; done
chmod 1777 "$root/tmp"
for l in bin sbin lib lib64; do [ -e "/$l" ] && ln -s "usr/$l" "$root/$l"; done
cp -a /etc "$root/etc"
rm -f "$root/etc/os-release" && cp /usr/lib/os-release "$root/etc/os-release"
# The host's own units and enablement links are not the container's business.
rm -rf "$root/etc/systemd/system" && mkdir -p "$root/etc/systemd/system"
rm -f "$root/etc/machine-id" && systemd-id128 new >"$root/etc/machine-id"
rm -f "$root/etc/pop3s/users" "$root/etc/pop3s/cert.pem" "$root/etc/pop3s/key.pem"
systemd-sysusers --root="$root" "$here/pop3s-sysusers.conf" >/dev/null 2>&1

make -C "$work/build" install DESTDIR="$root" >/dev/null
install -m 0644 "$here/pop3s-container-test.service" "$root/etc/systemd/system/"
if [ -n "${POP3S_CT_BENCH:-}${POP3S_CT_COMPARE:-}" ]; then
	mkdir -p "$root/etc/systemd/system/pop3s-container-test.service.d"
	printf '[Service]\nTimeoutStartSec=%s\n' $((limit - 30)) \
		>"$root/etc/systemd/system/pop3s-container-test.service.d/bench.conf"
fi
echo "container test: built and installed in $(( $(date +%s) - t0 )) s"

# --- boot; the test unit powers the container off --------------------------
t1=$(date +%s)
rc=0
timeout -k 10 "$limit" systemd-nspawn --quiet --register=no --keep-unit \
	--directory="$root" --bind-ro=/usr --private-network --console=pipe \
	--capability=CAP_SYS_RESOURCE \
	--system-call-filter="landlock_create_ruleset landlock_add_rule landlock_restrict_self" \
	--bind-ro="$here:/pop3s-test" --bind-ro="$top/tests/integration:/pop3s-test-lib" \
	--bind="$results:/results" \
	-b -- systemd.unit=pop3s-container-test.service systemd.show_status=0 \
	</dev/null >"$work/console.log" 2>&1 || rc=$?
echo "container test: container ran $(( $(date +%s) - t1 )) s (nspawn exit $rc)"

cat "$results/driver.log" 2>/dev/null || echo "container test: no driver output"
status=$(cat "$results/status" 2>/dev/null || echo missing)
if [ "$status" != 0 ]; then
	echo "container test: FAILED (driver status: $status, nspawn exit $rc)"
	echo "--- container console (tail)"; tail -n 30 "$work/console.log"
	echo "--- container journal (tail)"
	journalctl -D "$root/var/log/journal" --no-pager -o short-monotonic 2>/dev/null | tail -n 80
	echo "# FAIL: 1"
	exit 1
fi
echo "container test: passed"
echo "# PASS: 1"
