#!/bin/sh
# mk/sim.sh REFUTE - runs every experiment in experiments/ (make sim) into
# build/sim/NAME/ (summary.txt, runs.csv, disputes.csv, load.csv, the
# plots and their gnuplot data and scripts). Nothing under version
# control changes: only with SIM_DOCS=DIR (make sim-docs: docs/sim) does
# it also copy what docs/simulation.md shows (the plots, summary.txt and
# runs.csv) into DIR/NAME/.
set -eu
refute=${1:?usage: mk/sim.sh path/to/refute}
out=${SIM_OUT:-build/sim}
docs=${SIM_DOCS:-}
for conf in experiments/*.conf; do
	name=$(basename "$conf" .conf)
	echo "== $name"
	"$refute" sim --config "$conf" --out "$out/$name" --quiet > /dev/null
	head -1 "$out/$name/summary.txt"
	if [ -z "$docs" ]; then
		continue
	fi
	mkdir -p "$docs/$name"
	rm -f "$docs/$name"/*
	cp "$out/$name/summary.txt" "$out/$name/runs.csv" "$docs/$name/"
	for img in "$out/$name"/*.png "$out/$name"/*.svg; do
		if [ -f "$img" ]; then
			cp "$img" "$docs/$name/"
		fi
	done
done
