#!/bin/sh
# mk/demo.sh REFUTE - the local demonstration `make demo` runs: generate a
# model, run a job with a commitment to its whole trace, and show that an
# independent re-run (another process, the scalar reference kernels)
# reproduces the trace root bit for bit - the property disputes rest on.
set -eu
refute=${1:?usage: mk/demo.sh path/to/refute}
dir=${RF_DEMO_DIR:-run/demo}
mkdir -p "$dir"

echo "== generating a GPT-style transformer block (seed 7)"
"$refute" model gen transformer --seed 7 -o "$dir/transformer.rfm"
"$refute" model info "$dir/transformer.rfm" | head -7

echo
echo "== executor: running a job (input from seed 42), committing to the trace"
"$refute" model run "$dir/transformer.rfm" --seed 42 --trace -o "$dir/out.npy" \
    | tee "$dir/executor.txt"

echo
echo "== challenger: re-running the job on the scalar reference kernels"
"$refute" model run "$dir/transformer.rfm" --seed 42 --trace --kernels ref \
    -o "$dir/out.ref.npy" > "$dir/challenger.txt"
grep '^trace root' "$dir/challenger.txt"
if cmp -s "$dir/out.npy" "$dir/out.ref.npy" &&
    [ "$(grep '^trace root' "$dir/executor.txt")" = \
      "$(grep '^trace root' "$dir/challenger.txt")" ]; then
	echo "same output bytes and same trace root: the claim checks out"
else
	echo "MISMATCH: the re-run disagrees with the claim" >&2
	exit 1
fi
