#!/bin/sh
# Every man page is clean under mandoc -T lint (warnings included).
set -u
command -v mandoc >/dev/null 2>&1 || { echo "SKIP: mandoc not installed"; exit 77; }
status=0
n=0
for page in "$top_srcdir"/man/*.[1-8]; do
	n=$((n + 1))
	out=$(mandoc -T lint -W warning "$page" 2>&1)
	if [ -n "$out" ]; then
		echo "not ok - $page"
		echo "$out"
		status=1
	else
		echo "ok - $(basename "$page")"
	fi
done
[ "$n" -gt 0 ] || { echo "no man pages found"; exit 1; }
exit "$status"
