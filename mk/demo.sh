#!/bin/sh
# mk/demo.sh REFUTE - the local demonstration `make demo` runs.
#
# 1. Determinism, the property disputes rest on: a job's trace root from
#    the fast kernels and from an independent re-run on the scalar
#    reference kernels (another process) agree bit for bit.
# 2. The optimistic path with real processes: `refute devnet` starts a
#    referee, 2 executors and a challenger on loopback, submits 50 jobs,
#    waits for every claim to be final and prints the summary.
set -eu
refute=${1:?usage: mk/demo.sh path/to/refute}
dir=${RF_DEMO_DIR:-run/demo}
rm -rf "$dir"
mkdir -p "$dir"

echo "== determinism: one job, two kernel sets, one trace root"
"$refute" model gen transformer --seed 7 -o "$dir/transformer.rfm" >/dev/null
"$refute" model run "$dir/transformer.rfm" --seed 42 --trace \
    -o "$dir/out.npy" > "$dir/executor.txt"
"$refute" model run "$dir/transformer.rfm" --seed 42 --trace --kernels ref \
    -o "$dir/out.ref.npy" > "$dir/challenger.txt"
grep '^trace root' "$dir/executor.txt"
if cmp -s "$dir/out.npy" "$dir/out.ref.npy" &&
    [ "$(grep '^trace root' "$dir/executor.txt")" = \
      "$(grep '^trace root' "$dir/challenger.txt")" ]; then
	echo "the reference re-run gives the same output bytes and trace root"
else
	echo "MISMATCH: the re-run disagrees with the claim" >&2
	exit 1
fi

echo
echo "== devnet: referee, 2 executors, 1 challenger (separate processes), 50 jobs"
"$refute" devnet --executors 2 --challengers 1 --jobs 50 --model transformer \
    --dir "$dir/devnet"
