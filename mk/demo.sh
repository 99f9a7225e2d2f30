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

