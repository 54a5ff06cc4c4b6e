#!/bin/sh
# Builds the libFuzzer targets (tests/fuzz/fuzz_*.c) with clang:
#   tests/fuzz/build.sh SRCDIR OUTDIR
# The normal build uses gcc without coverage instrumentation, so the
# sources the targets reach are compiled again here, with
# -fsanitize=fuzzer-no-link,address,undefined, into OUTDIR/obj, and each
# target is linked with -fsanitize=fuzzer. `make fuzz` runs this.
# CC_FUZZ (default clang; `make fuzz CC_FUZZ=clang-16`) and FUZZ_CFLAGS
# (extra compiler flags) may be set in the environment.
set -eu
src=${1:?usage: build.sh SRCDIR OUTDIR}
out=${2:?usage: build.sh SRCDIR OUTDIR}
cc=${CC_FUZZ:-clang}
if ! command -v "$cc" >/dev/null 2>&1; then
	echo "fuzz: $cc not found (Debian: apt-get install clang; packaging/build-deps.sh)" >&2
	exit 1
fi
san="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
# The server's own sources get gcc's -Werror gate in the normal build;
# clang's warnings on them are shown, not fatal. The targets' are.
cflags="-std=gnu11 -g -O1 -Wall $san \
	-I$src/src/common -I$src/src/session -I$src/src/logger -I$src/tests/fuzz \
	-D_GNU_SOURCE=1 ${FUZZ_CFLAGS:-}"
deps="gnutls libsystemd libcrypt"
# shellcheck disable=SC2086
cflags="$cflags $(pkg-config --cflags $deps)"
# shellcheck disable=SC2086
libs="$(pkg-config --libs $deps) -lrt"

mkdir -p "$out/obj"
# Everything but the programs' main.c, the TLS and socket code and the
# config parser, which no target reaches (the targets start after the
# handshake, with their parameters set directly).
objs=""
for f in "$src"/src/common/*.c "$src"/src/session/*.c "$src"/src/logger/*.c \
	"$src"/tests/fuzz/fuzz_common.c; do
	case $f in */main.c | */tls.c | */session_loop.c | */config.c) continue ;; esac
	o="$out/obj/$(basename "$(dirname "$f")")_$(basename "$f" .c).o"
	case $f in */tests/fuzz/*) w="-Wextra -Werror" ;; *) w="" ;; esac
	# shellcheck disable=SC2086
	$cc $cflags $w -fsanitize=fuzzer-no-link -c "$f" -o "$o"
	objs="$objs $o"
done
rm -f "$out/obj/libfuzzsrc.a"
# shellcheck disable=SC2086
ar cr "$out/obj/libfuzzsrc.a" $objs
for t in session sasl sizecache logrec msgstream; do
	# shellcheck disable=SC2086
	$cc $cflags -Wextra -Werror -fsanitize=fuzzer "$src/tests/fuzz/fuzz_$t.c" "$out/obj/libfuzzsrc.a" \
		$libs -o "$out/fuzz_$t"
	echo "fuzz: built $out/fuzz_$t"
done
