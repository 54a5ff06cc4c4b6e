#!/bin/sh
# Installs what is missing, builds pop3s and runs every test:
#   1. the normal build with -Werror: unit and integration tests, man lint
#   2. the tests again under AddressSanitizer and UBSan (sessions included)
#   3. make distcheck (the tarball builds and passes its tests)
#   4. the .deb (lintian; built and tested in the source tree by
#      dpkg-buildpackage) and .rpm (rpmlint) from the tarball; the .deb
#      installed, upgraded and purged in a container under systemd
#   5. the libFuzzer targets (tests/fuzz) for POP3S_FUZZ_SECONDS each
#      (default 10): line buffer, parser, state machine, SASL, size cache,
#      log records, RETR/TOP conversion
# Usage: tests/run-all.sh   (from anywhere; builds in build-*/ at the top)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
packaging/build-deps.sh
autoreconf -fi >/dev/null 2>&1 || autoreconf -fi
jobs=$(nproc 2>/dev/null || echo 2)
status=0
# Every stage appends its test-harness output here for the final count.
summary="$top/build-summary.log"
: >"$summary"

section() { printf '\n=== %s ===\n' "$*"; }
# Runs a command, copying its output into the summary; keeps its status
# (POSIX sh has no pipefail).
logged() {
	rcfile=$(mktemp)
	{ rc=0; "$@" || rc=$?; echo "$rc" >"$rcfile"; } 2>&1 | tee -a "$summary"
	rc=$(cat "$rcfile")
	rm -f "$rcfile"
	return "$rc"
}
show_failures() {
	# Print the logs of failed tests so CI output says what went wrong.
	for f in $(grep -l '^:test-result: \(FAIL\|ERROR\)' "$1"/tests/*.trs "$1"/tests/integration/*.trs 2>/dev/null); do
		echo "--- ${f%.trs}.log"
		tail -n 60 "${f%.trs}.log"
	done
}

section "build (-Werror) and make check"
rm -rf build-check && mkdir build-check && cd build-check
../configure -q CFLAGS="-O2 -g -Werror" >/dev/null
make -j"$jobs" >/dev/null
if ! logged make -j"$jobs" check; then show_failures .; status=1; fi
cd "$top"

section "unit and integration tests under AddressSanitizer + UndefinedBehaviorSanitizer"
rm -rf build-asan && mkdir build-asan && cd build-asan
san="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
../configure -q CFLAGS="-O1 -g $san" LDFLAGS="$san" >/dev/null
make -j"$jobs" >/dev/null
# CK_FORK=no: ASan reports from the test process itself.
if ! logged env CK_FORK=no ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	make -j"$jobs" check TESTS='$(SANITIZER_TESTS)'; then
	show_failures .; status=1
fi
cd "$top"

section "the installed units under systemd as PID 1 (systemd-nspawn container)"
if ! logged tests/container/run.sh; then status=1; fi

section "make distcheck"
rm -rf build-dist && mkdir build-dist && cd build-dist
../configure -q >/dev/null
rc=0
make -j"$jobs" distcheck >distcheck.log 2>&1 || rc=$?
grep -E '^# (PASS|FAIL|ERROR|XPASS):' distcheck.log >>"$summary" || true
if [ "$rc" -ne 0 ]; then
	tail -n 80 distcheck.log
	status=1
else
	grep -E '^(# |=+$|pop3s-.* archives ready)' distcheck.log | tail -n 12
fi
cd "$top"

section "packages: .deb with lintian, .rpm with rpmlint, the .deb installed, upgraded and purged under systemd"
# From the distcheck build's tree.
cd build-dist
pkg_step() { # description command...: one PASS or FAIL in the summary
	d=$1; shift
	if "$@"; then echo "PASS: $d"; echo "# PASS: 1" >>"$summary"
	else echo "FAIL: $d"; echo "# FAIL: 1" >>"$summary"; status=1; return 1; fi
}
# dpkg-buildpackage configures, builds and runs make check inside the
# unpacked source tree (debian/ linked to packaging/debian): the in-tree
# build of the README, tests included.
deb_build() {
	DEB_BUILD_OPTIONS="parallel=$jobs" make deb >deb.log 2>&1 && return 0
	tail -n 40 deb.log
	show_failures deb-build/pop3s-*
	return 1
}
rpm_build() { make rpm RPMBUILD_FLAGS='--without check' >rpm.log 2>&1 || { tail -n 40 rpm.log; return 1; }; }
if pkg_step "make deb (dpkg-buildpackage -b: in-tree build and make check)" deb_build; then
	pkg_step "lintian: no errors, no warnings" lintian --fail-on error,warning pop3s_*.deb || :
	pkg_step "the .deb installed, upgraded, purged (tests/packaging/test_deb_install.sh)" \
		"$top/tests/packaging/test_deb_install.sh" "$(ls pop3s_*.deb)" || :
fi
rpm_lint() {
	rc=0
	out=$(rpmlint -c "$top/packaging/rpm/rpmlint.toml" -r "$top/packaging/rpm/pop3s.rpmlintrc" \
		rpmbuild/RPMS/*/*.rpm rpmbuild/SRPMS/*.rpm 2>&1) || rc=$?
	printf '%s\n' "$out"
	[ "$rc" -eq 0 ] && ! printf '%s\n' "$out" | grep -q 'invalid-license'
}
if pkg_step "make rpm (rpmbuild -ta --nodeps on the tarball)" rpm_build; then
	pkg_step "rpmlint: no errors, no invalid-license (SPDX MIT, LICENSE)" rpm_lint || :
fi
cd "$top"

section "fuzzing: libFuzzer targets (tests/fuzz), ${POP3S_FUZZ_SECONDS:-10} s each"
# Built with clang from the sources (make fuzz); one PASS or FAIL per
# target. A crash or a failed check fails it and prints the reproducer.
fuzz_secs=${POP3S_FUZZ_SECONDS:-10}
fuzz_build() { make fuzz >fuzz-build.log 2>&1 || { tail -n 40 fuzz-build.log; return 1; }; }
cd build-check
if pkg_step "make fuzz (clang -fsanitize=fuzzer,address,undefined)" fuzz_build; then
	for t in session sasl sizecache logrec msgstream; do
		pkg_step "fuzz_$t: $fuzz_secs s without a failure" \
			"$top/tests/fuzz/run.sh" "$top" "$PWD/tests/fuzz" "$t" "$fuzz_secs" || :
	done
fi
cd "$top"

section "result"
# One closing line for CI: test programs run by the harness in all stages.
passed=$(awk '/^# PASS:/ {n += $3} END {print n + 0}' "$summary")
failed=$(awk '/^# (FAIL|ERROR|XPASS):/ {n += $3} END {print n + 0}' "$summary")
[ "$status" -eq 0 ] || [ "$failed" -gt 0 ] || failed=1
if [ "$status" -eq 0 ]; then echo "all test stages passed"; else echo "some test stage FAILED"; fi
echo "tests: $passed passed, $failed failed"
exit "$status"
