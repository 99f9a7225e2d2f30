#!/bin/sh
# tests/run.sh DIR - runs every test binary under DIR, prints each result
# and a final tally; exits non-zero if any binary failed.
set -u
dir=${1:?usage: tests/run.sh BUILD_TEST_DIR}
pass=0
fail=0
failed=""
for t in $(find "$dir" -type f -name '*_test' | sort); do
	name=${t#"$dir"/}
	start=$(date +%s)
	if "$t" >"$t.log" 2>&1; then
		pass=$((pass + 1))
		status=ok
	else
		fail=$((fail + 1))
		failed="$failed $name"
		status=FAIL
	fi
	end=$(date +%s)
	summary=$(grep -E '^ +asserts' "$t.log" | awk '{print $3 " asserts, " $5 " failed"}')
	printf '%-4s %-40s %3ss  %s\n' "$status" "$name" "$((end - start))" "$summary"
	if [ "$status" = FAIL ]; then
		sed 's/^/    | /' "$t.log" | tail -40
	fi
done
echo "tests: $pass passed, $fail failed"
if [ "$fail" -ne 0 ]; then
	echo "failed:$failed"
	exit 1
fi
