# chuda — build, test, demo, bench, install.
#
#   make            build build/chuda and build/chuda-sim (and the test CA)
#   make check      run the whole test suite (unit + integration)
#   make demo       install missing packages, build, run end to end against the simulator
#   make bench      benchmarks (see bench/README.md)
#   make install    PREFIX=/usr/local DESTDIR=
#   make memcheck   the unit tests under valgrind memcheck
#   make fuzz       every libFuzzer harness for FUZZ_SECONDS (clang)
#   SANITIZE=1      build with ASan + UBSan into build/san

PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc

ifeq ($(SANITIZE),1)
BUILD   ?= build/san
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD   ?= build
SANFLAGS =
endif

# Libraries with a pkg-config file; libev, mbedtls and libcsv ship none on Debian 12.
PKGS    := libcurl sqlite3 jansson inih libutf8proc libmicrohttpd zlib expat cmocka
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs libcurl sqlite3 jansson inih libutf8proc libmicrohttpd zlib expat 2>/dev/null)

OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
CFLAGS  += -DCHUDA_WITH_EXPAT -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wno-unused-parameter \
           -Wstrict-prototypes -Wmissing-prototypes -iquote src -iquote channels $(PKG_CFLAGS) $(SANFLAGS)
LDFLAGS += $(SANFLAGS)
LDLIBS  := $(PKG_LIBS) -lev -lmbedtls -lmbedx509 -lmbedcrypto -lcsv -lm -pthread

# The programs (chuda, the simulator, the bench's ceiling) allocate through tcmalloc, from
# gperftools (bench/README.md, round seven: the scheduler's and the HTTP thread's CPU a
# message 12-13 % lower than with glibc's malloc). Only its shared library is needed
# (Debian's libtcmalloc-minimal4; no headers: nothing calls it by name). ALLOC=libc builds
# them on glibc's malloc. Not in sanitizer builds (ASan brings its own allocator) nor in
# the unit tests (valgrind's memcheck watches glibc's malloc). Nothing here depends on
# ALLOC: a build tree holds one kind (make ALLOC=libc BUILD=build/libc).
ALLOC   ?= tcmalloc
ALLOC_LIBS :=
ifeq ($(filter $(ALLOC),tcmalloc libc),)
$(error ALLOC=$(ALLOC): tcmalloc or libc)
endif
ifneq ($(SANITIZE),1)
ifeq ($(ALLOC),tcmalloc)
ALLOC_LIBS := -l:libtcmalloc_minimal.so.4
endif
endif

# The core library: everything but main.c, shared by chuda, the simulator and the tests.
CORE_SRC := $(filter-out src/main.c,$(wildcard src/*.c)) $(wildcard channels/*.c)
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/migrations.o
MIGRATIONS := $(sort $(wildcard db/[0-9]*.sql))
SIM_SRC  := $(wildcard sim/*.c)
SIM_OBJ  := $(SIM_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
CA_DIR   := build/ca

.PHONY: all check demo bench deps install uninstall clean ca fuzz memcheck

all: $(BUILD)/chuda $(BUILD)/chuda-sim ca

$(BUILD)/obj/%.o: %.c $(wildcard src/*.h channels/*.h sim/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/obj/gen/migrations.c: $(MIGRATIONS) tools/embed-sql.sh
	@mkdir -p $(dir $@)
	sh tools/embed-sql.sh $@ $(MIGRATIONS)

$(BUILD)/obj/gen/migrations.o: $(BUILD)/obj/gen/migrations.c
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/libchuda.a: $(CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/chuda: $(BUILD)/obj/src/main.o $(BUILD)/libchuda.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(ALLOC_LIBS)

$(BUILD)/chuda-sim: $(SIM_OBJ) $(BUILD)/libchuda.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lpthread $(ALLOC_LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libchuda.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libchuda.a $(LDLIBS) -lcmocka

# Test CA and the simulator's certificate (127.0.0.1, localhost), made once per build tree.
ca: $(CA_DIR)/ca.pem
$(CA_DIR)/ca.pem: tools/gen-ca.sh
	sh tools/gen-ca.sh $(CA_DIR)

check: all $(UNIT_BIN)
	@sh tools/deps.sh check
	@sh tests/run $(BUILD)

# The unit tests under valgrind memcheck (the plain build): an invalid access, a use of
# uninitialised memory or a definite leak fails the target, printing valgrind's report.
memcheck: $(UNIT_BIN)
	@set -e; n=0; for t in $(UNIT_BIN); do \
	    echo "== valgrind $$t"; n=$$((n + 1)); \
	    valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
	        --track-origins=yes $$t >$$t.memcheck 2>&1 || { cat $$t.memcheck; exit 1; }; \
	done; echo "memcheck: $$n unit test programs clean"

demo:
	sh tools/deps.sh
	$(MAKE) all
	sh tools/demo.sh $(BUILD)

$(BUILD)/bench/ceiling: bench/ceiling.c $(BUILD)/libchuda.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libchuda.a $(LDLIBS) $(ALLOC_LIBS)

bench: all $(BUILD)/bench/ceiling
	sh tools/deps.sh bench
	sh bench/run $(BUILD)

deps:
	sh tools/deps.sh

# Fuzzing (clang + libFuzzer): the core built with coverage and sanitizers into
# build/fuzz, then each harness tests/fuzz/fuzz_NAME.c run for FUZZ_SECONDS on its seeds
# (tests/fuzz/corpus/NAME; new inputs go to build/fuzz/corpus/NAME, crashes to build/fuzz).
FUZZ_SECONDS ?= 60
FUZZ_BUILD   := build/fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer

fuzz:
	$(MAKE) CC=clang BUILD=$(FUZZ_BUILD) SANFLAGS='-fsanitize=fuzzer-no-link $(FUZZ_SAN)' \
	    $(FUZZ_BUILD)/libchuda.a
	@set -e; for src in $(wildcard tests/fuzz/fuzz_*.c); do \
	    name=$$(basename $$src .c); seeds=tests/fuzz/corpus/$${name#fuzz_}; \
	    work=$(FUZZ_BUILD)/corpus/$${name#fuzz_}; mkdir -p $$work; \
	    echo "clang -fsanitize=fuzzer $$src -> $(FUZZ_BUILD)/$$name"; \
	    clang $(filter-out $(SANFLAGS),$(CFLAGS)) -fsanitize=fuzzer $(FUZZ_SAN) \
	        -o $(FUZZ_BUILD)/$$name $$src $(FUZZ_BUILD)/libchuda.a $(LDLIBS); \
	    echo "== $$name for $(FUZZ_SECONDS)s"; \
	    $(FUZZ_BUILD)/$$name -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	        -artifact_prefix=$(FUZZ_BUILD)/$$name- -print_final_stats=1 $$work $$seeds; \
	done

install: $(BUILD)/chuda $(BUILD)/chuda-sim
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/chuda/templates \
	           $(DESTDIR)$(PREFIX)/share/chuda/db $(DESTDIR)$(PREFIX)/share/doc/chuda
	install -m 0755 $(BUILD)/chuda $(BUILD)/chuda-sim $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 templates/*.ini $(DESTDIR)$(PREFIX)/share/chuda/templates/
	install -m 0644 etc/chuda.conf.example $(DESTDIR)$(PREFIX)/share/doc/chuda/
	install -m 0644 etc/chuda.service $(DESTDIR)$(PREFIX)/share/doc/chuda/

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/chuda $(DESTDIR)$(PREFIX)/bin/chuda-sim
	rm -rf $(DESTDIR)$(PREFIX)/share/chuda $(DESTDIR)$(PREFIX)/share/doc/chuda

clean:
	rm -rf build
