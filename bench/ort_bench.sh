#!/bin/sh
# bench/ort_bench.sh [REFUTE] - Refute's engine next to onnxruntime, the
# runtime users would pick instead (issue 12). Both run in-process on the
# same inputs with the same number of threads: `refute model run --repeat
# --threads T` against onnxruntime-node (intraOp T, interOp 1, sequential)
# through bench/ort/ort_run.js; each prints min and median ms per run
# after a warm-up. ORT_THREADS="1 2" (default "1") runs each count in
# turn. Models: the issue's MLP, CNN and GPT stack exported by
# torch.onnx.export (bench/ort/export_models.py, when /usr/bin/python3 has
# torch) and the committed ONNX fixtures. Prints median ratios
# (Refute / onnxruntime, lower is better), their geometric mean, and the
# largest difference between the two outputs (onnxruntime sums in another
# order, so small differences are expected; Refute's own bits are checked
# against its reference kernels by the tests).
#
# onnxruntime is a benchmark reference only: npm installs it into
# build/ort/ (never a dependency of the engine). Without node, or when the
# install fails, this says so and exits 0.
set -u
cd "$(dirname "$0")/.."
refute=${1:-bin/refute}
work=${ORT_WORK:-build/ort}
runs=${ORT_RUNS:-20}
threads=${ORT_THREADS:-1}

if ! command -v node >/dev/null 2>&1; then
	echo "ort_bench: node is not installed: the onnxruntime comparison is skipped"
	exit 0
fi
mkdir -p "$work/models"
if [ ! -d "$work/node_modules/onnxruntime-node" ]; then
	echo "ort_bench: npm install --ignore-scripts onnxruntime-node (into $work)"
	if ! (cd "$work" && npm install --ignore-scripts --no-audit --no-fund \
	    --silent onnxruntime-node >/dev/null 2>&1); then
		echo "ort_bench: cannot install onnxruntime-node: the comparison is skipped"
		exit 0
	fi
fi
case $work in
/*) export NODE_PATH="$work/node_modules" ;;
*) export NODE_PATH="$PWD/$work/node_modules" ;;
esac

models=""
if /usr/bin/python3 -c 'import torch, numpy' >/dev/null 2>&1; then
	if /usr/bin/python3 bench/ort/export_models.py "$work/models" \
	    >"$work/export.log" 2>&1; then
		models="mlp:$work/models/mlp cnn:$work/models/cnn gpt:$work/models/gpt"
	else
		echo "ort_bench: export failed ($work/export.log)"
	fi
else
	echo "ort_bench: /usr/bin/python3 has no torch (apt-get install python3-torch): only the committed fixtures"
fi
for f in mlp_digits lenet_digits gpt_op17 misc_ops; do
	models="$models $f:tests/data/onnx/$f"
done

cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p')
echo "ort_bench: ${cpu:-unknown CPU}, threads $threads, $runs runs after a warm-up"
printf '%-14s %3s %12s %12s %8s %12s\n' model thr "refute ms" "ort ms" ratio "max|diff|"
status=0
for thr in $threads; do
logsum=0
n=0
for entry in $models; do
	name=${entry%%:*}
	base=${entry#*:}
	if ! "$refute" model import -o "$work/$name.rfm" "$base.onnx" \
	    >"$work/$name.import.log" 2>&1; then
		printf '%-14s %s\n' "$name" "import failed: $(tail -1 "$work/$name.import.log")"
		status=1
		continue
	fi
	ours=$("$refute" model run --input "$base.in0.npy" --repeat "$runs" \
	    --threads "$thr" --json -o "$work/$name.ours.npy" \
	    "$work/$name.rfm" 2>&1 |
	    sed -n 's/.*"run_ms":{"min":[^,]*,"median":\([0-9.e+-]*\)}.*/\1/p')
	theirs=$(ORT_THREADS=$thr node bench/ort/ort_run.js "$base.onnx" \
	    "$base.in0.npy" "$work/$name.ort.npy" "$runs" \
	    "$work/$name.ours.npy" 2>&1)
	tmed=$(echo "$theirs" | sed -n 's/.*"median":\([0-9.e+-]*\).*/\1/p')
	diff=$(echo "$theirs" | sed -n 's/.*"maxdiff":\([0-9.e+-]*\|null\).*/\1/p')
	if [ -z "$ours" ] || [ -z "$tmed" ]; then
		printf '%-14s %s\n' "$name" "run failed: ${theirs:-refute}"
		status=1
		continue
	fi
	ratio=$(awk -v a="$ours" -v b="$tmed" 'BEGIN { printf "%.2f", a / b }')
	logsum=$(awk -v s="$logsum" -v a="$ours" -v b="$tmed" \
	    'BEGIN { printf "%.6f", s + log(a / b) }')
	n=$((n + 1))
	printf '%-14s %3s %12.3f %12.3f %7sx %12s\n' "$name" "$thr" "$ours" \
	    "$tmed" "$ratio" "$diff"
done
if [ "$n" -gt 0 ]; then
	awk -v s="$logsum" -v n="$n" -v t="$thr" \
	    'BEGIN { printf "geometric mean of the ratios at %s threads: %.2fx over %d models\n", t, exp(s / n), n }'
fi
done
exit "$status"
