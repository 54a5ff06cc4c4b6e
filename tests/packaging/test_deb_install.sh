#!/bin/sh
# Installs the pop3s .deb in a container booted with systemd as PID 1, then
# upgrades and purges it: tests/packaging/deb_install_driver.sh runs there
# as a boot unit and powers the container off.
#
# The container's root: the host's /usr under a writable overlay (dpkg
# writes the package into the upper layer, on the host side in WORK), a copy
# of /etc and of dpkg's database, empty /var otherwise. The host is not
# touched.
# Usage: tests/packaging/test_deb_install.sh PATH/pop3s_VERSION_ARCH.deb
#   (as root; exits 0 when every check passed)
# Environment: KEEP=1 keeps the work directory; POP3S_DEB_TIMEOUT (seconds,
# default 240) bounds the container.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
limit=${POP3S_DEB_TIMEOUT:-240}
deb=${1:?usage: $0 pop3s_VERSION_ARCH.deb}
[ -f "$deb" ] || { echo "deb install test: no such file: $deb" >&2; exit 1; }
deb=$(cd "$(dirname "$deb")" && pwd)/$(basename "$deb")

if [ "$(id -u)" -ne 0 ]; then echo "deb install test: needs root" >&2; exit 1; fi
for p in systemd-nspawn systemd-id128 dpkg flock; do
	command -v "$p" >/dev/null || { echo "deb install test: $p is missing" >&2; exit 1; }
done

work=$(mktemp -d /tmp/pop3s-debtest.XXXXXX)
root=$work/root
cleanup() {
	if [ "${KEEP:-0}" = 1 ]; then echo "deb install test: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

prepare_root() {
	rm -rf "$root" "$work/usr-upper" "$work/results"
	mkdir -p "$root" "$work/usr-upper" "$work/results" "$work/pkgs"
	# var/lib/logrotate: made by the logrotate package on a real system.
	for d in dev proc sys run tmp var/log/journal var/lib/logrotate var/cache var/tmp usr home; do
		mkdir -p "$root/$d"
	done
	chmod 1777 "$root/tmp" "$root/var/tmp"
	for l in bin sbin lib lib64; do [ -e "/$l" ] && ln -s "usr/$l" "$root/$l"; done
	cp -a /etc "$root/etc"
	rm -f "$root/etc/os-release" && cp /usr/lib/os-release "$root/etc/os-release"
	rm -rf "$root/etc/systemd/system" && mkdir -p "$root/etc/systemd/system"
	rm -f "$root/etc/machine-id" && systemd-id128 new >"$root/etc/machine-id"
	# Nothing of pop3s may be there before the package: no config, no accounts.
	rm -rf "$root/etc/pop3s" "$root/etc/logrotate.d/pop3s"
	for f in passwd group shadow gshadow; do
		if [ -f "$root/etc/$f" ]; then sed -i -e '/^pop3s:/d' -e '/^pop3s-log:/d' "$root/etc/$f"; fi
	done
	# dpkg's view of the host's /usr, so the package's dependencies are met.
	cp -a /var/lib/dpkg "$root/var/lib/dpkg"
	rm -f "$root/var/lib/dpkg/lock" "$root/var/lib/dpkg/lock-frontend"
	cp "$deb" "$work/pkgs/"
	install -m 0644 /dev/stdin "$root/etc/systemd/system/pop3s-deb-test.service" <<'UNIT'
[Unit]
Description=pop3s package install test driver
After=basic.target
SuccessAction=poweroff-force
FailureAction=poweroff-force

[Service]
Type=oneshot
ExecStart=/bin/sh /pop3s-test/deb_install_driver.sh
StandardOutput=journal+console
StandardError=journal+console
TimeoutStartSec=200
UNIT
}

if dpkg-query -W -f='${Status}' pop3s 2>/dev/null | grep -q installed; then
	echo "deb install test: pop3s is installed on the host; this test needs it absent" >&2
	exit 1
fi

# One pop3s container at a time on this machine: their log queues share
# root's RLIMIT_MSGQUEUE (see deb_install_driver.sh). Other pop3s container
# tests may take the same lock; the driver asks for a retry if one did not.
exec 9>/tmp/pop3s-mqueue-test.lock
flock -w 600 9 || echo "deb install test: lock /tmp/pop3s-mqueue-test.lock still held, going on"

attempt=1
while :; do
	t0=$(date +%s)
	prepare_root
	echo "deb install test: root prepared in $(( $(date +%s) - t0 )) s"
	# CAP_SYS_RESOURCE: as on a real host, PID 1 may create the log queue
	# deeper than fs.mqueue.msg_max (10 in the container's own IPC namespace).
	t1=$(date +%s)
	rc=0
	timeout -k 10 "$limit" systemd-nspawn --quiet --register=no --keep-unit \
		--directory="$root" --overlay="/usr:$work/usr-upper:/usr" \
		--private-network --console=pipe --capability=CAP_SYS_RESOURCE \
		--system-call-filter="landlock_create_ruleset landlock_add_rule landlock_restrict_self" \
		--bind-ro="$here:/pop3s-test" --bind-ro="$work/pkgs:/pkgs" \
		--bind="$work/results:/results" \
		-b -- systemd.unit=pop3s-deb-test.service systemd.show_status=0 \
		</dev/null >"$work/console.log" 2>&1 || rc=$?
	echo "deb install test: container ran $(( $(date +%s) - t1 )) s (nspawn exit $rc)"
	status=$(cat "$work/results/status" 2>/dev/null || echo missing)
	[ "$status" = retry ] && [ "$attempt" -lt 4 ] || break
	echo "deb install test: the log queue found no room (another pop3s test running?); again in 20 s"
	attempt=$((attempt + 1))
	sleep 20
done

cat "$work/results/driver.log" 2>/dev/null || echo "deb install test: no driver output"
if [ "$status" != 0 ]; then
	echo "deb install test: FAILED (driver status: $status, nspawn exit $rc)"
	echo "--- container console (tail)"; tail -n 40 "$work/console.log"
	echo "--- container journal (tail)"
	journalctl -D "$root/var/log/journal" --no-pager -o short-monotonic 2>/dev/null | tail -n 80
	exit 1
fi
echo "deb install test: passed"
