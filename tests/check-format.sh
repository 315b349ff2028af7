#!/bin/bash
# Every C source follows .clang-format (one TAP point per file).
cd "${DK_SRCDIR:?}"
n=0
fail=0
for f in $(git ls-files 'src/*.c' 'src/*.h' 'tests/*.c' 'tests/*.h' 2>/dev/null || find src tests -name '*.[ch]' ! -path 'tests/modules/*'); do
	case "$f" in tests/modules/*) continue ;; esac
	n=$((n + 1))
	if clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
		echo "ok $n - $f is formatted"
	else
		echo "not ok $n - $f is not formatted: run clang-format -i $f"
		fail=1
	fi
done
echo "1..$n"
exit $fail
