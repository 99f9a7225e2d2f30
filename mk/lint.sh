#!/bin/sh
# mk/lint.sh - the source lints `make lint` runs (and so `make check`).
# Each prints every offence as file:line (or object: symbol) and exits 1
# if there was one. docs/build.md says what each checks and why.
#
#   mk/lint.sh names OBJDIR OBJ...   every global symbol carries its
#                                    component's prefix (nm)
#   mk/lint.sh includes              project headers included from the
#                                    root, no "../", no other component's
#                                    _int.h from library code
#   mk/lint.sh layers                what each folder may include
#                                    (docs/architecture.md)
#   mk/lint.sh stack LIMIT ALLOW SU...   no frame above LIMIT bytes but
#                                    the allowlist's, which only shrinks
#   mk/lint.sh selftest              each lint fails on a seeded offence
set -u
cd "$(dirname "$0")/.."

# The component folders, in dependency order. The library's folders
# and cmd/; tests, bench and fuzz are programs on top of them.
DIRS="base engine protocol chain bisect sim store net node referee executor challenger devnet api cmd"

prefix_of() {
	case $1 in
	base) echo rf_ ;;
	protocol) echo proto_ ;;
	api) echo refute_ ;; # the public C API, include/refute/refute.h
	*) echo "$1"_ ;;
	esac
}

# Source files the include lints read: everything compiled here.
sources() {
	for d in $DIRS tests bench fuzz; do
		[ -d "$d" ] && find "$d" -name '*.[ch]'
	done | sort
}

names() {
	objdir=$1
	shift
	bad=0
	for o in "$@"; do
		rel=${o#"$objdir"/}
		dir=${rel%%/*}
		want=$(prefix_of "$dir")
		# nm -g --defined-only: every symbol another object can see.
		for s in $(nm -g --defined-only "$o" | awk '{print $NF}'); do
			case $s in
			"$want"*) continue ;;
			# Reserved names are the compiler's: ASan adds
			# __odr_asan.<global> beside each instrumented global.
			__*) continue ;;
			main) [ "$rel" = cmd/main.o ] && continue ;;
			esac
			echo "$rel: global symbol '$s' lacks the prefix $want of $dir/"
			bad=1
		done
	done
	[ $bad -eq 0 ] || { echo "lint: names (rename, or make the symbol static)"; exit 1; }
}

# Headers that are not files of this tree: generated at build time.
GENERATED="onnx.pb-c.h"

includes() {
	# One awk over every source: a quoted include must name a file from
	# the root; a bracketed one must not (system headers only).
	sources | xargs awk -v gen=" $GENERATED " '
	function fail(msg) { printf "%s:%d: %s\n", FILENAME, FNR, msg; bad = 1 }
	function exists(p,   r) {
		if (p in seen) return seen[p]
		r = (system("test -f \"" p "\"") == 0)
		seen[p] = r
		return r
	}
	/^[ \t]*#[ \t]*include/ {
		line = $0
		if (match(line, /"[^"]*"/)) {
			h = substr(line, RSTART + 1, RLENGTH - 2)
			if (h ~ /(^|\/)\.\.?\//) {
				fail("#include \"" h "\": relative path; name it from the root")
				next
			}
			if (index(gen, " " h " ")) next
			if (!exists(h)) {
				fail("#include \"" h "\": no such file from the root (write \"dir/file.h\")")
				next
			}
			# Another component'"'"'s internals: only its own files (and
			# white-box tests, fuzzers and benchmarks) may include them.
			if (h ~ /_int\.h$/) {
				split(FILENAME, f, "/")
				split(h, g, "/")
				if (f[1] != g[1] && f[1] != "tests" && f[1] != "fuzz" && f[1] != "bench")
					fail("#include \"" h "\": internal to " g[1] "/")
			}
		} else if (match(line, /<[^>]*>/)) {
			h = substr(line, RSTART + 1, RLENGTH - 2)
			if (h ~ /\// && exists(h))
				fail("#include <" h ">: a project header; use quotes")
		}
	}
	END { exit bad }' || { echo "lint: includes"; exit 1; }
}

# What each folder may include besides itself (library code and cmd/).
# The pure components (base engine protocol chain bisect sim) do no I/O:
# no NNG, no SQLite, no node folder.
allowed() {
	case $1 in
	base) echo "" ;;
	engine) echo "base" ;;
	protocol) echo "base engine" ;;
	chain) echo "base protocol" ;;
	bisect) echo "base engine protocol chain" ;;
	sim) echo "base engine protocol chain bisect" ;;
	store | net) echo "base" ;;
	node) echo "base engine protocol chain bisect store net" ;;
	referee | executor | challenger) echo "base engine protocol chain bisect store net node" ;;
	# devnet/ watches nodes through their public interfaces, never their
	# databases (no store/; the Makefile greps for SQLite too).
	devnet) echo "base engine protocol chain bisect net node referee executor challenger" ;;
	# api/ implements include/refute/refute.h over the library.
	api) echo "base engine protocol chain bisect store net node referee include" ;;
	cmd) echo "$DIRS" ;;
	esac
}

# Known exceptions, each line "file included-folder reason". An exception
# that no longer occurs fails too: delete its line (the list only shrinks).
# None today: the simulator samples with proto_sampled and builds reveals
# with bisect_reveal_build, so no pure folder includes a node folder.
LAYER_EXCEPTIONS="
"

layers() {
	bad=0
	tmp=$(mktemp)
	for d in $DIRS; do
		[ -d "$d" ] || continue
		ok=" $d $(allowed "$d") "
		# file:line:dir of every project include.
		grep -Hn '^[ 	]*#[ 	]*include[ 	]*"[a-z0-9_]*/' "$d"/*.[ch] 2>/dev/null |
		    sed 's/^\([^:]*\):\([0-9]*\):[^"]*"\([^/]*\)\/.*/\1 \2 \3/' |
		    while read -r f n inc; do
			case $ok in *" $inc "*) continue ;; esac
			if echo "$LAYER_EXCEPTIONS" | grep -q "^$f $inc "; then
				echo "$f $inc" >>"$tmp"
				continue
			fi
			echo "$f:$n: $d/ may not include $inc/ (may: $(allowed "$d"))"
			echo x >>"$tmp.bad"
		done
	done
	[ -f "$tmp.bad" ] && bad=1
	echo "$LAYER_EXCEPTIONS" | while read -r f inc _; do
		[ -n "$f" ] || continue
		if ! grep -qx "$f $inc" "$tmp"; then
			echo "mk/lint.sh: the exception '$f $inc' no longer occurs: delete it"
			echo x >>"$tmp.bad"
		fi
	done
	[ -f "$tmp.bad" ] && bad=1
	rm -f "$tmp" "$tmp.bad"
	[ $bad -eq 0 ] || { echo "lint: layers (docs/architecture.md)"; exit 1; }
}

# gcc's .su lines: "path/file.c:LINE:COL:function<TAB>bytes<TAB>kind".
# The allowlist: "path/file.c function bytes", today's frames above the
# limit. A listed frame may shrink; one that grows, or a new one above the
# limit, fails, and so does a listed one now under the limit or gone
# (delete its line: the list only shrinks).
stack() {
	limit=$1
	allow=$2
	shift 2
	cat "$@" | awk -F'\t' -v limit="$limit" -v allow="$allow" '
	BEGIN {
		while ((getline l < allow) > 0) {
			if (l ~ /^#/ || l ~ /^[ \t]*$/) continue
			split(l, a, " ")
			cap[a[1] " " a[2]] = a[3] + 0
		}
	}
	{
		n = split($1, p, ":")
		fn = p[n]
		# gcc clones (f.isra, f.part.0, f.constprop) count as f.
		sub(/\..*/, "", fn)
		sub(/^\.\//, "", p[1])
		key = p[1] " " fn
		size = $2 + 0
		if ($3 ~ /dynamic/ && $3 !~ /bounded/) {
			printf "%s:%s: %s: frame of unbounded dynamic size\n", p[1], p[2], fn
			bad = 1
		}
		if (!(key in max) || size > max[key]) {
			max[key] = size
			where[key] = p[1] ":" p[2] ": " fn
		}
	}
	END {
		for (k in max) {
			if (k in cap) {
				if (max[k] > cap[k]) {
					printf "%s: frame %d bytes, grew from %d (%s)\n", where[k], max[k], cap[k], allow
					bad = 1
				} else if (max[k] <= limit) {
					printf "%s: frame now %d bytes, under the limit: delete its line in %s\n", where[k], max[k], allow
					bad = 1
				}
			} else if (max[k] > limit) {
				printf "%s: frame %d bytes, above %d\n", where[k], max[k], limit
				bad = 1
			}
		}
		for (k in cap) if (!(k in max)) {
			printf "%s: %s: no such function any more: delete its line\n", allow, k
			bad = 1
		}
		exit bad
	}' || { echo "lint: stack frames (move big buffers to the heap)"; exit 1; }
}

# Each lint must fail on a seeded violation, or it checks nothing: builds
# a small tree in a temporary folder with one offence per lint (and one
# clean file), runs the lints there and expects each to fail, naming the
# offence, and to pass on the clean tree.
selftest() {
	t=$(mktemp -d)
	trap 'rm -rf "$t"' EXIT
	mkdir -p "$t/mk" "$t/base" "$t/engine" "$t/protocol" "$t/obj/base" "$t/obj/engine"
	cp mk/lint.sh "$t/mk/"
	printf '#include "base/rf.h"\nint rf_ok(void);\nint rf_ok(void) { return 0; }\n' >"$t/base/rf.c"
	: >"$t/base/rf.h"
	: >"$t/protocol/protocol.h"
	printf '#include "base/rf.h"\nint engine_ok(void);\nint engine_ok(void) { return 0; }\n' >"$t/engine/run.c"
	cc -c -o "$t/obj/base/rf.o" "$t/base/rf.c" -I"$t" || return 1
	cc -c -o "$t/obj/engine/run.o" "$t/engine/run.c" -I"$t" || return 1
	printf 'base/rf.c:3:5:rf_ok\t100\tstatic\n' >"$t/a.su"
	: >"$t/allow"
	expect() { # expect pass|fail WORD lint args...
		want=$1
		word=$2
		shift 2
		out=$(cd "$t" && sh mk/lint.sh "$@" 2>&1)
		rc=$?
		if [ "$want" = pass ] && [ $rc -ne 0 ]; then
			echo "lint selftest: $1 fails on a clean tree:"; echo "$out"; exit 1
		fi
		if [ "$want" = fail ] && { [ $rc -eq 0 ] || ! echo "$out" | grep -q "$word"; }; then
			echo "lint selftest: $1 misses a seeded $word:"; echo "$out"; exit 1
		fi
	}
	expect pass - names "$t/obj" "$t/obj/base/rf.o" "$t/obj/engine/run.o"
	expect pass - includes
	expect pass - layers
	expect pass - stack 16384 "$t/allow" "$t/a.su"
	# names: a global without its folder's prefix.
	printf 'int helper(void);\nint helper(void) { return 1; }\n' >>"$t/engine/run.c"
	cc -c -o "$t/obj/engine/run.o" "$t/engine/run.c" -I"$t" || return 1
	expect fail "'helper'" names "$t/obj" "$t/obj/base/rf.o" "$t/obj/engine/run.o"
	# includes: a relative path, a header named from its folder, brackets.
	printf '#include "../base/rf.h"\n' >"$t/engine/a.c"
	expect fail "engine/a.c:1: .*relative path" includes
	printf '#include "rf.h"\n' >"$t/engine/a.c"
	expect fail "engine/a.c:1: .*no such file" includes
	printf '#include <base/rf.h>\n' >"$t/engine/a.c"
	expect fail "engine/a.c:1: .*use quotes" includes
	: >"$t/base/base_int.h"
	printf '#include "base/base_int.h"\n' >"$t/engine/a.c"
	expect fail "internal to base" includes
	# layers: the engine includes the protocol.
	printf '\n#include "protocol/protocol.h"\n' >"$t/engine/a.c"
	expect fail "engine/a.c:2" layers
	# stack: a new frame above the limit; a listed one that grew; a
	# listed one now small; a listed one gone.
	printf 'base/rf.c:3:5:rf_big\t20000\tstatic\n' >>"$t/a.su"
	expect fail "rf_big: frame 20000" stack 16384 "$t/allow" "$t/a.su"
	echo "base/rf.c rf_big 19000" >"$t/allow"
	expect fail "grew from 19000" stack 16384 "$t/allow" "$t/a.su"
	echo "base/rf.c rf_ok 20000" >"$t/allow"
	printf 'base/rf.c:3:5:rf_ok\t100\tstatic\n' >"$t/a.su"
	expect fail "under the limit" stack 16384 "$t/allow" "$t/a.su"
	echo "base/rf.c rf_gone 20000" >"$t/allow"
	expect fail "no such function" stack 16384 "$t/allow" "$t/a.su"
	printf 'base/rf.c:3:5:rf_ok\t100\tdynamic\n' >"$t/a.su"
	: >"$t/allow"
	expect fail "unbounded dynamic" stack 16384 "$t/allow" "$t/a.su"
}

cmd=${1:?usage: mk/lint.sh names|includes|layers|stack|selftest ...}
shift
case $cmd in
names) names "$@" ;;
includes) includes ;;
layers) layers ;;
stack) stack "$@" ;;
selftest) selftest ;;
*) echo "mk/lint.sh: unknown lint $cmd"; exit 2 ;;
esac
