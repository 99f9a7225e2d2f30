#!/bin/sh
# mk/demo.sh REFUTE - the local demonstration `make demo` runs.
#
# 1. Determinism, the property disputes rest on: a job's trace root from
#    the fast kernels and from an independent re-run on the scalar
#    reference kernels (another process) agree bit for bit.
# 2. The network with real processes: `refute devnet` starts a referee,
#    3 executors and a challenger on loopback. One executor lies on purpose
#    (a testing fault: it perturbs operator 20's output); the challenger
#    re-executes every claim, disputes the lies, the bisection finds
#    operator 20, the referee recomputes it and slashes the liar. Every
#    honest job becomes final, and the summary shows it all.
# 3. An independent audit of one verdict, replayed from its transcript.
# 4. Generation jobs (docs/generation.md): a small language model's
#    generation (prefill, decode steps with the KV cache, a sampled token
#    per step) is one graph and one trace; a network verifies it, catches
#    an executor lying inside a decode step (at that step's attention) and
#    beats a false challenger.
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
echo "== devnet: referee, 3 executors (executor-1 lies at operator 20),"
echo "   1 challenger, 60 jobs; separate processes on loopback"
"$refute" devnet --executors 3 --challengers 1 --jobs 60 --model transformer \
    --faulty 1 --fault lie-at-op --fault-op 20 --window-ms 1500 \
    --dir "$dir/devnet" --keep --json > "$dir/devnet.json" || {
	echo "devnet failed; its report is in $dir/devnet.json" >&2
	exit 1
}
# The same report, for people.
python3 - "$dir/devnet.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print("jobs %d: final %d, invalid %d (the liar's claims)" %
      (r["submitted"], r["final"], r["invalid"]))
print("disputes %d: challenger won %d, executor won %d; stake slashed %d" %
      (len(r["disputes"]), r["challenger_wins"], r["executor_wins"],
       r["slashed"]))
for d in r["disputes"][:3]:
    print("  dispute %s: %s wins (%s), operator %d, %d rounds, %d ms" %
          (d["dispute_id"][:12], d["winner"], d["reason"], d["op"],
           d["rounds"], d["duration_ms"]))
print("ledger total %d before, %d after" %
      (r["ledger_before"], r["ledger_after"]))
for n in r["nodes"]:
    if n["role"] != "referee":
        note = ""
        if n["faulty"]:
            note = "  <- lied, slashed %d" % n["slashed"]
        elif n["role"] == "challenger":
            # Its own counts, read from its metrics server.
            note = "  re-ran %d claims, %d mismatched" % (
                n["verified"] + n["mismatches"], n["mismatches"])
        print("  %-13s %-10s balance %8d stake %5d%s" %
              (n["name"], n["role"], n["balance"], n["stake"], note))
print("result:", "ok" if r["ok"] else "FAILED: " + r["reason"])
PY

echo
echo "== audit: the first verdict, replayed independently from its transcript"
# The network is down; devnet kept each signed verdict as the referee
# sent it (DISPUTE_FETCH) in the run folder, and its report names the file.
verdict=$(python3 - "$dir/devnet.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
files = [d["verdict_file"] for d in r["disputes"] if "verdict_file" in d]
if not files:
    sys.exit("the report names no verdict file")
print(files[0])
PY
)
"$refute" audit --genesis "$dir/devnet/genesis" "$verdict"

echo
echo "== generation: one graph for the prompt, every decode step and every draw"
"$refute" model gen gpt --layers 2 --d-model 32 --heads 4 --vocab 256 \
    --context 48 --seed 1 -o "$dir/gpt.rfm" >/dev/null
"$refute" generate "$dir/gpt.rfm" --text "Refute: " --new 16 \
    --temperature 0.8 --top-k 40 --top-p 0.95 --seed 7 --trace \
    --save-graph "$dir/gpt.gen.rfm"
op=$("$refute" model info "$dir/gpt.gen.rfm" |
    awk '$3 == "step10.h1.attn" { print $1 }')
summary() {
	python3 - "$1" "$2" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print("%s: jobs %d, final %d, invalid %d; disputes %d (challenger won %d, "
      "executor won %d)" % (sys.argv[2], r["submitted"], r["final"],
      r["invalid"], len(r["disputes"]), r["challenger_wins"],
      r["executor_wins"]))
for d in r["disputes"][:2]:
    print("  dispute %s: %s wins (%s) at operator %d, %d rounds" %
          (d["dispute_id"][:12], d["winner"], d["reason"], d["op"],
           d["rounds"]))
print("  result:", "ok" if r["ok"] else "FAILED: " + r["reason"])
sys.exit(0 if r["ok"] else 1)
PY
}
echo "operator $op is step 10's attention (Softmax); executor-1 lies there"
"$refute" devnet --model-file "$dir/gpt.gen.rfm" --executors 2 \
    --challengers 1 --jobs 12 --faulty 1 --fault lie-at-op --fault-op "$op" \
    --window-ms 1500 --dir "$dir/devnet-gpt" --json > "$dir/gpt-liar.json" ||
	{ echo "devnet failed: $dir/gpt-liar.json" >&2; exit 1; }
summary "$dir/gpt-liar.json" "a lying executor"
"$refute" devnet --model-file "$dir/gpt.gen.rfm" --executors 2 \
    --challengers 1 --jobs 6 --faulty-challengers 1 \
    --challenger-fault false-challenge --window-ms 1500 \
    --dir "$dir/devnet-gpt2" --json > "$dir/gpt-false.json" ||
	{ echo "devnet failed: $dir/gpt-false.json" >&2; exit 1; }
summary "$dir/gpt-false.json" "a false challenger"
