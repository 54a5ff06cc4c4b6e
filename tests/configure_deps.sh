#!/bin/sh
# configure stops with a message naming the Debian package to install when
# a library is missing. Each library is hidden in turn behind a pkg-config
# wrapper that reports it absent.
set -u
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
real=$(command -v pkg-config) || { echo "SKIP: no pkg-config"; exit 77; }
# configure refuses to build elsewhere when its source directory has been
# configured in place ("source directory already configured"), as in the
# README's in-tree build and dpkg-buildpackage. So run a copy of configure
# with the few files it looks for before the library checks: this works in
# and out of tree and never touches the real build's config.status or
# config.log.
src="$tmp/src"
mkdir -p "$src/src/session"
cp "$top_srcdir/configure" "$src/" && cp -R "$top_srcdir/build-aux" "$src/" &&
	cp "$top_srcdir/src/session/main.c" "$src/src/session/" || { echo "not ok - cannot copy configure"; exit 1; }
status=0
for row in "gnutls libgnutls28-dev" "libsystemd libsystemd-dev" "libcrypt libcrypt-dev" "check check"; do
	set -- $row
	cat >"$tmp/pkg-config" <<WRAP
#!/bin/sh
for a in "\$@"; do case "\$a" in $1|$1\ *) exit 1;; esac; done
exec $real "\$@"
WRAP
	chmod +x "$tmp/pkg-config"
	mkdir -p "$tmp/build-$1"
	out=$(cd "$tmp/build-$1" && "$src/configure" PKG_CONFIG="$tmp/pkg-config" 2>&1)
	rc=$?
	if [ "$rc" -ne 0 ] && printf '%s\n' "$out" | grep -q "configure: error: .*install the Debian package $2\$"; then
		echo "ok - without $1, configure names $2"
	else
		echo "not ok - without $1 (exit $rc):"
		printf '%s\n' "$out" | tail -n 3
		status=1
	fi
done
exit "$status"
