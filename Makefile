# Refute - build, tests, sanitizers, benchmarks, demo.
#
#   make deps    install missing Debian packages (apt-get; nothing if present)
#   make         library and bin/refute
#   make test    deps + build + every CUnit suite
#   make asan    the same suites under AddressSanitizer and UBSan
#   make bench   benchmarks (engine vs OpenBLAS, whole models vs onnxruntime
#                when node is installed, ...)
#   make demo    the main job: a local demonstration
#   make sim     every experiment in experiments/ into build/sim/
#                (make sim-docs: also the plots and tables of docs/sim/)
#   make fuzz    libFuzzer on the message decoder (clang), FUZZ_SECONDS=60
#   make detmatrix  gcc and clang at -O0 and -O3, every GEMM path: the
#                same trace roots everywhere (.ci/detmatrix; CI runs it)
#   make lint    names, includes, layering, stack frames, banned calls
#                (mk/lint.sh; part of make check)
#
# Variables: CC, OPT (optimisation/debug flags), WERROR, BUILD (output dir).
# docs/build.md says what each target and flag is for.

CC ?= cc
# V=1 shows every command.
Q = $(if $(V),,@)
OPT ?= -O2 -g
WERROR ?= -Werror
BUILD ?= build
BIN ?= bin

# Determinism: no fast-math flags ever, and no contraction of a*b+c into FMA
# behind our back: kernels call fmaf explicitly where the canonical order
# says so (docs/determinism.md).
# clang has no -fexcess-precision (it never uses excess precision on the
# SSE/NEON targets we support).
IS_CLANG = $(findstring clang,$(shell $(CC) --version 2>/dev/null))
DETFLAGS = -ffp-contract=off -fno-fast-math \
           $(if $(IS_CLANG),,-fexcess-precision=standard)

# gcc's -O2 vectorises only loops that need no runtime checks or epilogue
# ("very cheap"), which leaves the engine's element-wise loops scalar.
# Vectorising never changes a result here: gcc reorders no floating-point
# operation unless fast-math is asked for (the determinism matrix checks -O3 too).
VECFLAGS = $(if $(IS_CLANG),,-fvect-cost-model=cheap)

WARN = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
       -Wformat=2 -Wvla -Wno-unused-parameter $(WERROR)

PKGS = libsodium libxxhash sqlite3 libprotobuf-c
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# NNG ships no pkg-config file (see docs/build.md).
NNG_LIBS = $(shell pkg-config --exists nng 2>/dev/null && pkg-config --libs nng || echo -lnng)
CUNIT_LIBS = $(shell pkg-config --libs cunit 2>/dev/null)
BLAS_CFLAGS = $(shell pkg-config --cflags openblas 2>/dev/null)
BLAS_LIBS = $(shell pkg-config --libs openblas 2>/dev/null)

CPPFLAGS += -I. -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L
# gcc writes each function's frame size beside its object (x.su), for the
# stack lint; it changes no generated code.
STACKFLAGS = $(if $(IS_CLANG),,-fstack-usage)

ALL_CFLAGS = -std=c11 $(OPT) $(DETFLAGS) $(VECFLAGS) $(WARN) $(STACKFLAGS) \
	$(PICFLAGS) -MMD -MP $(PKG_CFLAGS) $(CFLAGS)
LIBS = $(PKG_LIBS) $(NNG_LIBS) -lpthread -lm

LIB_DIRS = base engine protocol bisect chain store net node referee executor challenger sim devnet api
LIB_SRCS = $(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.c))
# ONNX import: protoc-c generates the decoder from the vendored schema
# at build time (never committed); only engine/onnx_import.c includes it.
ONNX_GEN = $(BUILD)/gen/onnx
ONNX_PB_OBJ = $(BUILD)/obj/gen/onnx/onnx.pb-c.o
LIB_OBJS = $(LIB_SRCS:%.c=$(BUILD)/obj/%.o) $(ONNX_PB_OBJ)
LIB = $(BUILD)/librefute.a

CMD_SRCS = $(wildcard cmd/*.c)
CMD_OBJS = $(CMD_SRCS:%.c=$(BUILD)/obj/%.o)
REFUTE = $(BIN)/refute

TEST_SRCS = $(wildcard tests/*/*_test.c)
TEST_BINS = $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
# Linked into every test binary: the runner, and the adversary library
# (malicious nodes against a real referee, tests/adversary/adv.h).
TESTLIB_OBJ = $(BUILD)/obj/tests/testlib.o $(BUILD)/obj/tests/adversary/adv.o
# Test binaries route our objects' allocations through tests/testlib.c, which
# can fail the Nth one (allocation-failure tests, tests/testlib.h).
TEST_WRAP = -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup \
	-Wl,--wrap=aligned_alloc,--wrap=free
TEST_OBJS = $(TEST_SRCS:%.c=$(BUILD)/obj/%.o)

BENCH_SRCS = $(wildcard bench/*_bench.c)
BENCH_BINS = $(BENCH_SRCS:bench/%.c=$(BUILD)/bench/%)
BENCH_OBJS = $(BENCH_SRCS:%.c=$(BUILD)/obj/%.o)
FUZZ_OBJS = $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard fuzz/*_fuzz.c))

# Objects reached only through pattern rules would be intermediates, which
# make deletes after linking, so the next build compiled every test again.
.SECONDARY: $(TEST_OBJS) $(TESTLIB_OBJ) $(BENCH_OBJS) $(FUZZ_OBJS)

.PHONY: all deps test check asan bench bench-run demo clean lint fuzz sim sim-docs \
	detmatrix

all: $(LIB) $(REFUTE)

deps:
	@sh mk/deps.sh

# The public entry points install what they need first, then re-enter make
# so pkg-config sees the freshly installed packages.
test: deps
	@$(MAKE) --no-print-directory check

check: lint all $(TEST_BINS)
	@RF_REFUTE=$(abspath $(REFUTE)) sh tests/run.sh $(BUILD)/tests

asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan BIN=build-asan/bin \
	    OPT="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
	    check

bench: deps
	@$(MAKE) --no-print-directory bench-run

# network_bench starts the referee from $(REFUTE), named by RF_REFUTE.
# ort_bench compares whole models with onnxruntime when node is installed
# (and says so when it is not).
bench-run: all $(BENCH_BINS)
	@for b in $(BENCH_BINS); do echo "== $$b"; \
	    RF_REFUTE=$(abspath $(REFUTE)) $$b || exit 1; done
	@echo "== bench/ort_bench.sh"
	@ORT_WORK=$(BUILD)/ort sh bench/ort_bench.sh $(abspath $(REFUTE))

demo: deps
	@$(MAKE) --no-print-directory all
	@sh mk/demo.sh $(REFUTE)

# Runs every experiment into build/sim/ (same seeds, same tables; gnuplot
# draws the plots), changing no tracked file; sim-docs also refreshes
# docs/sim/ from them.
sim: deps
	@$(MAKE) --no-print-directory all
	@sh mk/sim.sh $(REFUTE)

sim-docs: deps
	@$(MAKE) --no-print-directory all
	@SIM_DOCS=docs/sim sh mk/sim.sh $(REFUTE)

# The library is rebuilt by clang with coverage instrumentation in
# build-fuzz/; the fuzzer runs on a copy of the seed corpus there, so what
# it adds never lands in fuzz/corpus. Crashes go to build-fuzz/crash-*.
# (clang lacks -fexcess-precision; it only matters for gcc on x87.)
FUZZ_SECONDS ?= 60
FUZZ_OPT = -g -O1 -fsanitize=fuzzer-no-link,address,undefined \
	-fno-sanitize-recover=all -fno-omit-frame-pointer

fuzz: deps
	@$(MAKE) --no-print-directory CC=clang BUILD=build-fuzz \
	    BIN=build-fuzz/bin OPT="$(FUZZ_OPT)" \
	    DETFLAGS="$(filter-out -fexcess-precision=%,$(DETFLAGS))" \
	    build-fuzz/fuzz/msg_fuzz build-fuzz/fuzz/onnx_fuzz
	@mkdir -p build-fuzz/corpus build-fuzz/corpus-onnx
	@cp fuzz/corpus/msg/* build-fuzz/corpus/
	@cp tests/data/onnx/*.onnx build-fuzz/corpus-onnx/
	build-fuzz/fuzz/msg_fuzz -max_total_time=$(FUZZ_SECONDS) \
	    -print_final_stats=1 -artifact_prefix=build-fuzz/ build-fuzz/corpus
	build-fuzz/fuzz/onnx_fuzz -max_total_time=$(FUZZ_SECONDS) \
	    -print_final_stats=1 -artifact_prefix=build-fuzz/onnx- \
	    build-fuzz/corpus-onnx

detmatrix: deps
	@sh .ci/detmatrix

# The lints need the objects (names: nm; stack: gcc's .su files). Stack
# frames are measured for the reference build only (gcc, OPT=-O2 -g, no
# sanitizer): other compilers and levels give other sizes, and the
# allowlist (mk/stack-allow) records that build's. Generated protobuf
# code (build/obj/gen) is not ours to name; test objects link into no
# library.
# The last check: devnet/ observes nodes through their public interfaces
# only, never their databases.
STACK_LIMIT = 16384
STACK_CHECK = $(if $(IS_CLANG),,$(if $(findstring sanitize,$(OPT)),,$(filter -O2,$(OPT))))
LINT_OBJS = $(filter-out $(ONNX_PB_OBJ),$(LIB_OBJS)) $(CMD_OBJS)

lint: $(LIB_OBJS) $(CMD_OBJS)
	@! grep -nE '\b(gets|strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol)\(' \
	    $(LIB_SRCS) $(CMD_SRCS) || (echo "lint: banned call above" && false)
	@case "$(ALL_CFLAGS)" in *-f'fast'-math*|*-ffp-contract=fast*) \
	    echo "lint: the compile flags break determinism"; false;; esac
	@sh mk/lint.sh selftest
	@sh mk/lint.sh names $(BUILD)/obj $(LINT_OBJS)
	@sh mk/lint.sh includes
	@sh mk/lint.sh layers
	@$(if $(STACK_CHECK),sh mk/lint.sh stack $(STACK_LIMIT) mk/stack-allow \
	    $(LINT_OBJS:.o=.su),echo "lint: stack frames are checked in the gcc -O2 -g build only")
	@! grep -nE '#include "store/|sqlite3|_records_read' devnet/*.[ch] mk/demo.sh || \
	    (echo "lint: devnet watches nodes through public interfaces, never their databases" && false)

$(LIB): $(LIB_OBJS)
	@mkdir -p $(@D)
	@rm -f $@
	@echo "  AR      $@"
	$(Q)ar rcs $@ $(LIB_OBJS)

$(REFUTE): $(CMD_OBJS) $(LIB)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(OPT) -o $@ $(CMD_OBJS) $(LIB) $(LIBS) $(LDFLAGS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(ONNX_GEN)/onnx.pb-c.c: engine/onnx/onnx.proto
	@mkdir -p $(@D)
	@echo "  PROTOC  $<"
	$(Q)protoc-c --proto_path=engine/onnx --c_out=$(@D) onnx.proto
$(ONNX_GEN)/onnx.pb-c.h: $(ONNX_GEN)/onnx.pb-c.c ;

# Generated code: our flags, but its warnings are not ours to fail on.
$(ONNX_PB_OBJ): $(ONNX_GEN)/onnx.pb-c.c
	@mkdir -p $(@D)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) -I$(ONNX_GEN) $(filter-out $(WERROR),$(ALL_CFLAGS)) -c -o $@ $<

$(BUILD)/obj/engine/onnx_import.o: $(ONNX_GEN)/onnx.pb-c.h
$(BUILD)/obj/engine/onnx_import.o: CPPFLAGS += -I$(ONNX_GEN)

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(TESTLIB_OBJ) $(LIB)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(OPT) $(TEST_WRAP) -o $@ $< $(TESTLIB_OBJ) $(LIB) $(CUNIT_LIBS) $(LIBS) $(LDFLAGS)

$(BUILD)/fuzz/%: $(BUILD)/obj/fuzz/%.o $(LIB)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(subst fuzzer-no-link,fuzzer,$(OPT)) -o $@ $< $(LIB) $(LIBS) $(LDFLAGS)

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(LIB)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(OPT) -o $@ $< $(LIB) $(BLAS_LIBS) $(LIBS) $(LDFLAGS)

$(BUILD)/obj/bench/%.o: bench/%.c
	@mkdir -p $(@D)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(BLAS_CFLAGS) $(ALL_CFLAGS) -c -o $@ $<

clean:
	rm -rf build build-asan build-fuzz build-detmatrix build-gcc-* \
	    build-clang-* bin

# librefute.so, make install/uninstall, the man page, the Python package.
include mk/install.mk

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
