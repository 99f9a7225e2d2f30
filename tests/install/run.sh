#!/bin/sh
# tests/install/run.sh CC OPT BUILD BIN - make install into a temporary
# DESTDIR and prefix; build tests/install/hello.c against the installed
# files with pkg-config, shared and static, and run both; check the
# exported names, the man page, the completion and the Python package
# from there; then make uninstall and check nothing is left. make check
# writes BUILD/tests/install/install_test, which calls this.
set -eu
cc=$1 opt=$2 build=$3 bin=$4
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/dest
prefix=/opt/refute-test
root=$dest$prefix
fail() { echo "install_test: $*"; exit 1; }

# The tests run under make check: not this make's jobserver.
unset MAKEFLAGS MFLAGS MAKELEVEL
mk() { make -s -C "$src" CC="$cc" OPT="$opt" BUILD="$build" BIN="$bin" \
    PREFIX=$prefix DESTDIR="$dest" "$@"; }
mk install >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; fail "make install failed"; }

for f in bin/refute lib/librefute.a lib/librefute.so lib/librefute.so.0 \
    include/refute/refute.h lib/pkgconfig/refute.pc share/man/man1/refute.1 \
    share/bash-completion/completions/refute \
    share/refute/python/refute/__init__.py; do
	[ -e "$root/$f" ] || fail "$f was not installed"
done
soname=$(readelf -d "$root/lib/librefute.so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ "$soname" = librefute.so.0 ] || fail "soname '$soname'"

# Only the public API leaves the shared library (sanitizer builds add
# their runtime's reserved names).
bad=$(nm -D --defined-only "$root/lib/librefute.so" | awk '{print $NF}' |
    grep -v '^refute_' | grep -v '^__' || true)
[ -z "$bad" ] || fail "librefute.so exports internal names: $(echo $bad | head -c 300)"
n=$(nm -D --defined-only "$root/lib/librefute.so" | awk '{print $NF}' | grep -c '^refute_')
for s in $(sed -n 's/^REFUTE_API [^(]*[ *]\(refute_[a-z0-9_]*\)(.*/\1/p' \
    "$src/include/refute/refute.h"); do
	nm -D --defined-only "$root/lib/librefute.so" | grep -q " $s\$" ||
	    fail "$s is declared in refute.h but not exported"
done

# pkg-config against the staged tree: the sysroot prefixes its paths.
export PKG_CONFIG_PATH=$root/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$dest
v=$(pkg-config --modversion refute)
[ "$v" = "$("$root/bin/refute" --version | cut -d' ' -f2)" ] ||
    fail "refute.pc says $v, refute --version $("$root/bin/refute" --version)"
"$root/bin/refute" model gen mlp -o "$tmp/m.rfm" >/dev/null
# Zeros as input: hello runs on zeros too.
shape=$("$root/bin/refute" model info "$tmp/m.rfm" | sed -n 's/^input .* f32\[\([0-9,]*\)\]$/\1/p')
[ -n "$shape" ] || fail "no input shape in refute model info"
py=/usr/bin/python3
[ -x $py ] || py=python3
"$py" -c "import numpy as np; np.save('$tmp/z.npy', np.zeros(($shape,), np.float32))"
want=$("$root/bin/refute" model run "$tmp/m.rfm" -i "$tmp/z.npy" --trace --json |
    sed 's/.*"trace_root":"\([0-9a-f]*\)".*/\1/')

# shellcheck disable=SC2046,SC2086
$cc $opt -o "$tmp/hello-shared" "$src/tests/install/hello.c" \
    $(pkg-config --cflags --libs refute)
readelf -d "$tmp/hello-shared" | grep -q 'NEEDED.*librefute.so.0' ||
    fail "the shared build does not need librefute.so.0"
out=$(LD_LIBRARY_PATH=$root/lib "$tmp/hello-shared" "$tmp/m.rfm") ||
    fail "hello (shared) failed: $out"
case $out in *"trace root $want"*) ;; *) fail "hello (shared): '$out', want root $want" ;; esac

# Static: the archive by name, its dependencies from Libs.private and
# Requires.private.
# shellcheck disable=SC2046,SC2086
$cc $opt -o "$tmp/hello-static" "$src/tests/install/hello.c" \
    $(pkg-config --cflags refute) \
    $(pkg-config --static --libs refute | sed 's/-lrefute\b/-l:librefute.a/')
if readelf -d "$tmp/hello-static" | grep -q 'librefute'; then
	fail "the static build still needs librefute.so"
fi
out=$("$tmp/hello-static" "$tmp/m.rfm") || fail "hello (static) failed: $out"
case $out in *"trace root $want"*) ;; *) fail "hello (static): '$out'" ;; esac

# The man page documents every option --help lists, of every command.
man=$root/share/man/man1/refute.1
cmds=$("$root/bin/refute" --help | sed -n 's/^  \([a-z]*\( [a-z]*\)\?\)  .*/\1/p' |
    sed 's/ *$//')
[ -n "$cmds" ] || fail "no commands in refute --help"
echo "$cmds" | while read -r c; do
	# shellcheck disable=SC2086
	grep -q "^\.SS \"refute $c[ \"]" "$man" || fail "no section for '$c' in refute.1"
	"$root/bin/refute" $c --help | sed -n 's/^  .*--\([a-z0-9-]*\).*/\1/p' |
	    while read -r o; do
		[ "$o" = help ] && continue
		e=$(printf '%s' "$o" | sed 's/-/\\\\-/g')
		grep -q -- "\\\\-\\\\-$e\\\\fR" "$man" || fail "refute.1 lacks --$o of '$c'"
	done
done
if command -v groff >/dev/null; then
	w=$(groff -man -Tutf8 -ww -z "$man" 2>&1) || true
	[ -z "$w" ] || fail "groff warns on refute.1: $w"
fi
# The completion knows a command's options and a value's choices.
comp=$root/share/bash-completion/completions/refute
r=$(bash -c ". '$comp'; COMP_WORDS=(refute model run --ker); COMP_CWORD=3; _refute; echo \${COMPREPLY[*]}")
[ "$r" = --kernels ] || fail "completion of 'model run --ker': '$r'"
r=$(bash -c ". '$comp'; COMP_WORDS=(refute model run --kernels ''); COMP_CWORD=4; _refute; echo \${COMPREPLY[*]}")
[ "$r" = "fast ref" ] || fail "completion of 'model run --kernels': '$r'"

# The Python package from the installed tree finds the installed library.
if readelf -d "$root/lib/librefute.so" | grep -q libasan; then
	: # a sanitized library cannot be loaded into python here; tests/python does
else
	r=$(env -u REFUTE_LIBRARY PYTHONPATH="$root/share/refute/python" "$py" -c "
import numpy as np, refute
m = refute.Model.load('$tmp/m.rfm')
print(m.run(np.zeros(($shape,), np.float32), trace=True).trace_root)") ||
	    fail "the installed Python package fails"
	[ "$r" = "$want" ] || fail "installed Python package: root $r, want $want"
fi

mk uninstall >"$tmp/uninstall.log" 2>&1 || { cat "$tmp/uninstall.log"; fail "make uninstall failed"; }
left=$(find "$dest" -type f -o -type l)
[ -z "$left" ] || fail "left after uninstall: $left"
for d in include/refute share/refute; do
	[ ! -e "$root/$d" ] || fail "$d left after uninstall"
done
echo "install_test: ok ($n names exported, installed and removed)"
