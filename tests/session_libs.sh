#!/bin/sh
# pop3s-session is started once per connection, so what it loads is paid
# per connection (DESIGN.md, "Starting a session"). It must not link
# libsystemd (listen_fds.c and journal_send.c do its two jobs) and must not
# call the C library's name service (NSS) or time zone lookups, which read
# /etc/nsswitch.conf, /etc/passwd, /etc/group, /etc/localtime and load
# libnss_* modules. Checked on the built binary's dynamic section and
# imported symbols; tests/integration/test_session_files.py checks what a
# real session opens.
set -u
bin="$top_builddir/src/session/pop3s-session"
[ -x "$bin" ] || { echo "SKIP: $bin is not built"; exit 77; }
command -v readelf >/dev/null || { echo "SKIP: no readelf"; exit 77; }
status=0
needed=$(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
if [ -z "$needed" ]; then
	echo "not ok - readelf shows no NEEDED entries in $bin"
	exit 1
fi
echo "# NEEDED: $(echo $needed)"
if echo "$needed" | grep -q '^libsystemd'; then
	echo "not ok - pop3s-session links libsystemd"
	status=1
else
	echo "ok - pop3s-session does not link libsystemd"
fi
# Undefined (imported) dynamic symbols, without version suffixes.
imports=$(readelf -W --dyn-syms "$bin" | awk '$7 == "UND" { sub(/@.*/, "", $8); print $8 }')
bad=""
for s in getpwnam getpwnam_r getpwuid getpwuid_r getpwent getgrnam getgrnam_r getgrgid \
	getgrgid_r getgrent getgrouplist initgroups getaddrinfo getnameinfo gethostbyname \
	gethostbyname2 gethostbyname_r gethostbyaddr getservbyname getprotobyname \
	localtime localtime_r tzset mktime setlocale; do
	echo "$imports" | grep -qx "$s" && bad="$bad $s"
done
sd=$(echo "$imports" | grep '^sd_' | tr '\n' ' ')
if [ -n "$bad$sd" ]; then
	echo "not ok - pop3s-session imports name service, time zone or libsystemd calls:$bad $sd"
	status=1
else
	echo "ok - pop3s-session imports no NSS, time zone or sd_* calls ($(echo "$imports" | wc -l) imports)"
fi
exit $status
