#!/bin/sh
# tests/python/run.sh BUILD REFUTE - the Python package's suite
# (python3 -m unittest) against this build's librefute.so and binary.
# make check writes BUILD/tests/python/python_test, which calls this, so
# tests/run.sh runs it beside the CUnit suites.
set -eu
build=${1:?usage: tests/python/run.sh BUILD REFUTE}
refute=${2:?usage: tests/python/run.sh BUILD REFUTE}
src=$(cd "$(dirname "$0")/../.." && pwd)

# Debian's interpreter has python3-numpy (mk/deps.sh); another python3
# first on PATH may not.
py=""
for p in /usr/bin/python3 python3; do
	if "$p" -c 'import numpy' 2>/dev/null; then
		py=$p
		break
	fi
done
if [ -z "$py" ]; then
	echo "python_test: no python3 with numpy (install python3-numpy: make deps)"
	exit 1
fi

# A sanitized library needs its runtime loaded first, and Python's own
# allocations are not ours to report as leaks.
if readelf -d "$build/librefute.so" | grep -q 'libasan'; then
	LD_PRELOAD=$(${CC:-cc} -print-file-name=libasan.so)
	ASAN_OPTIONS=detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}
	export LD_PRELOAD ASAN_OPTIONS
fi

REFUTE_LIBRARY=$build/librefute.so RF_REFUTE=$refute \
PYTHONPATH=$src/python PYTHONDONTWRITEBYTECODE=1 \
    exec "$py" -m unittest discover -s "$src/tests/python" -p 'test_*.py' -v
