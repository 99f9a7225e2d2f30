#!/bin/sh
# mk/demo.sh REFUTE - the local demonstration `make demo` runs: generate a
# model, run a job on it twice (optimised and reference kernels) and show
# that both give the same output, bit for bit.
set -eu
refute=${1:?usage: mk/demo.sh path/to/refute}
dir=${RF_DEMO_DIR:-run/demo}
mkdir -p "$dir"

echo "== generating a GPT-style transformer block (seed 7)"
"$refute" model gen transformer --seed 7 -o "$dir/transformer.rfm"
"$refute" model info "$dir/transformer.rfm" | head -6

echo
echo "== running a job (input from seed 42)"
"$refute" model run "$dir/transformer.rfm" --seed 42 -o "$dir/out.npy"

echo
echo "== the same job on the scalar reference kernels"
"$refute" model run "$dir/transformer.rfm" --seed 42 --kernels ref \
    -o "$dir/out.ref.npy" >/dev/null
if cmp -s "$dir/out.npy" "$dir/out.ref.npy"; then
	echo "optimised and reference outputs are bit-identical"
else
	echo "MISMATCH between optimised and reference kernels" >&2
	exit 1
fi
