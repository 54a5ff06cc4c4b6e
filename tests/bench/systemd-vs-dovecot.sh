#!/bin/sh
# Benchmark: pop3s against Dovecot 2.3 (Debian's dovecot-pop3d, a private
# "anchor" config) under the same systemd as PID 1, in the container of
# tests/container/run.sh: full sessions (TLS 1.3 ECDSA P-256, USER/PASS with a
# SHA-512-crypt password, STAT, RETR 1, QUIT), interleaved rounds, server CPU
# per session from the container's cgroup v2 counters, at 1 and 8 concurrent
# client processes, for the shipped pop3s@.service and a "plain" unit (no
# sandboxing). Prints figures; asserts nothing about them (a failed session
# fails the run). tests/container/compare.py does the measuring.
# Usage (root): tests/bench/systemd-vs-dovecot.sh [ROUNDS [N [MODES]]]
#   ROUNDS  interleaved rounds (default 3)
#   N       sessions per run (default 100; rounded up to a multiple of the
#           concurrency)
#   MODES   runs per round, separated by ':' (default 1:8:r1): a number is the
#           count of client processes, rN the same with TLS session
#           resumption (each client process offers its previous session)
# dovecot-pop3d is not a build dependency (CI runs no benchmark): this script
# installs it on the host when it is missing, with a policy-rc.d that keeps
# the package from starting Dovecot on the host.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
rounds=${1:-3}
n=${2:-100}
modes=${3:-1:8:r1}

if [ "$(id -u)" -ne 0 ]; then echo "systemd-vs-dovecot: needs root" >&2; exit 1; fi
if ! dpkg-query -W -f='${Status}' dovecot-pop3d 2>/dev/null | grep -q 'install ok installed'; then
	echo "systemd-vs-dovecot: installing dovecot-pop3d (benchmark only, not a build dependency;" \
		"policy-rc.d keeps it from starting on this host)"
	# Any policy-rc.d already there is put aside and restored afterwards.
	policy=/usr/sbin/policy-rc.d
	saved=""
	if [ -e "$policy" ]; then saved=$policy.systemd-vs-dovecot; mv "$policy" "$saved"; fi
	restore() { rm -f "$policy"; [ -z "$saved" ] || mv "$saved" "$policy"; }
	trap restore EXIT
	printf '#!/bin/sh\n# temporary: tests/bench/systemd-vs-dovecot.sh\nexit 101\n' >"$policy"
	chmod 0755 "$policy"
	rc=0
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends dovecot-pop3d || rc=$?
	restore
	trap - EXIT
	[ "$rc" = 0 ] || { echo "systemd-vs-dovecot: apt-get install dovecot-pop3d failed" >&2; exit 1; }
fi
[ -x /usr/sbin/dovecot ] || { echo "systemd-vs-dovecot: /usr/sbin/dovecot is missing" >&2; exit 1; }

echo "systemd-vs-dovecot: $rounds rounds, $n sessions per run, modes $modes; host load: $(cat /proc/loadavg)"
# The container gets a cgroup v2 hierarchy of its own (cgroup namespace), whose
# per-cgroup cpu.stat the benchmark reads, also on a host in hybrid or legacy
# mode (there systemd-nspawn would otherwise give it cgroup v1).
export SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=${SYSTEMD_NSPAWN_UNIFIED_HIERARCHY:-1}
rc=0
POP3S_CT_COMPARE="$rounds,$n,$modes" POP3S_CT_ONLY=t_compare "$top/tests/container/run.sh" || rc=$?
echo "systemd-vs-dovecot: host load after: $(cat /proc/loadavg)"
exit $rc
