#!/bin/sh
# Installs what pop3s needs to build, test and run its demo on Debian 12
# (mpop and fetchmail are real clients the tests drive; postfix delivers
# mail in the container test; clang and its runtime libraries build the
# libFuzzer targets, tests/fuzz; strace shows what a session opens,
# tests/integration/test_session_files.py).
# Safe to run again: it only installs what is missing.
set -eu
pkgs="build-essential autoconf automake pkg-config libgnutls28-dev libsystemd-dev
libcrypt-dev check gnutls-bin curl python3 whois mandoc systemd systemd-container
debhelper fakeroot lintian rpm rpmlint logrotate mpop fetchmail postfix clang
libclang-rt-14-dev strace"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "build-deps: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "build-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
