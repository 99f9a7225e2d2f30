#!/bin/sh
# mk/sim.sh REFUTE - runs every experiment in experiments/ (make sim) and
# copies what docs/simulation.md shows into docs/sim/NAME/: the plots,
# summary.txt and runs.csv. The full output (disputes.csv, load.csv, the
# gnuplot data and scripts) stays in build/sim/NAME/.
set -eu
refute=${1:?usage: mk/sim.sh path/to/refute}
out=${SIM_OUT:-build/sim}
docs=${SIM_DOCS:-docs/sim}
for conf in experiments/*.conf; do
	name=$(basename "$conf" .conf)
	echo "== $name"
	"$refute" sim --config "$conf" --out "$out/$name" --quiet > /dev/null
	head -1 "$out/$name/summary.txt"
	mkdir -p "$docs/$name"
	rm -f "$docs/$name"/*
	cp "$out/$name/summary.txt" "$out/$name/runs.csv" "$docs/$name/"
	for img in "$out/$name"/*.png "$out/$name"/*.svg; do
		if [ -f "$img" ]; then
			cp "$img" "$docs/$name/"
		fi
	done
done
