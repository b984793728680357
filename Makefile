# Sluice - one build system: GNU make + pkg-config.
#   make            build/sluice (the broker and the tools that need no
#                   librdkafka), build/sluice-tools (the tools built on
#                   librdkafka) and the kafka-*.sh aliases
#   make broker     build/sluice alone: needs only the compiler and the
#                   libraries it links (scripts/deps.sh build)
#   make run        build and start a single-node broker on :9092 (config/server.properties)
#   make sim        the deterministic simulator (SEED= STEPS= NODES=)
#   make test       every test: unit (C, plain and sanitized), a short sweep of
#                   simulator seeds, fuzz smoke run,
#                   integration (pytest, against the ASan+UBSan broker)
#   make test-kafka the integration scenarios against Apache Kafka itself
#   make asan       the tests under AddressSanitizer + UndefinedBehaviorSanitizer
#   make fuzz       longer libFuzzer runs (FUZZ_SECONDS per target)
#   make proto      regenerate src/proto/gen from SPEC (default ../shared/kafka-spec)
#   make format / make lint (format, config table, cppcheck, layers)
#   make bench      side-by-side benchmark against Apache Kafka

CC      ?= cc
BUILD   ?= build
SPEC    ?= ../shared/kafka-spec
PKGS    := libzstd liblz4 zlib openssl snappy
TOOLPKGS := rdkafka
OPT     ?= -O2
CFLAGS_BASE := -std=c17 $(OPT) -g -Wall -Wextra -Werror -D_GNU_SOURCE \
               -fno-strict-aliasing -Isrc -MMD -MP
SAN     ?=
# Debian packages by use (scripts/deps.sh <group>), each installed by the
# targets that need it: the broker's build (compiler, pkg-config, the
# libraries it links), the librdkafka tools, and the tests (clang, linters,
# kcat, Python, Java, Maven ...).
DEPS_OK    := $(BUILD)/.deps-ok
DEPS_TOOLS := $(BUILD)/.deps-tools
DEPS_TEST  := $(BUILD)/.deps-test

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
RDK_CFLAGS = $(shell pkg-config --cflags $(TOOLPKGS) 2>/dev/null)
RDK_LIBS   = $(shell pkg-config --libs $(TOOLPKGS) 2>/dev/null)
CFLAGS  := $(CFLAGS_BASE) $(SAN) $(PKG_CFLAGS) $(EXTRA_CFLAGS)
LDLIBS  = $(PKG_LIBS) -lpthread -lm
LDFLAGS := $(SAN)

ALL_SRC  := $(sort $(wildcard src/core/*.c src/proto/*.c src/proto/gen/*.c \
              src/net/*.c src/log/*.c src/broker/*.c src/group/*.c \
              src/txn/*.c src/cluster/*.c src/tools/*.c src/raft/*.c \
              src/controller/*.c src/replica/*.c src/coord/*.c))
# The tools built on librdkafka: tool_rdkafka.c and every tool that includes
# its header. They go into build/sluice-tools only; build/sluice (the broker)
# never links librdkafka.
RDK_SRC  := $(sort src/tools/tool_rdkafka.c \
              $(shell grep -l '"tools/tool_rdkafka.h"' src/tools/*.c))
RDK_OBJ  := $(RDK_SRC:%.c=$(BUILD)/obj/%.o)
RDK_CMDS := $(shell sed -n 's/^SL_RDK_CMD."\([^"]*\)".*/\1/p' src/commands.def)
LIB_SRC  := $(filter-out $(RDK_SRC),$(ALL_SRC))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
# tests/sim: test-only code the broker binary never links. The crash file
# system, the simulated network and the Raft simulation are shared with the
# unit tests; the simulator (build/sim) is sim.c and sim_node.c over the
# crash file system and the simulated network; *_main.c are programs.
SIM_ONLY := tests/sim/sim.c tests/sim/sim_node.c
UNIT_SRC := $(sort $(filter-out tests/sim/%_main.c $(SIM_ONLY),$(wildcard tests/unit/*.c tests/sim/*.c)))
UNIT_OBJ := $(UNIT_SRC:%.c=$(BUILD)/obj/%.o)
SIM_SRC  := $(SIM_ONLY) tests/sim/crashfs.c tests/sim/simnet.c tests/sim/wire_req.c
SIM_OBJ  := $(SIM_SRC:%.c=$(BUILD)/obj/%.o)
FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))
ALIASES  := $(shell cat src/tools/aliases.txt 2>/dev/null)

.PHONY: all broker deps run cluster cluster-stop test unit test-unit raft-sim raft-sim-long test-integration test-kafka asan fuzz \
        fuzz-smoke proto format lint bench clean venv sim sim-sweep

all: $(BUILD)/sluice $(BUILD)/sluice-tools aliases
broker: $(BUILD)/sluice

deps: $(DEPS_OK) $(DEPS_TOOLS) $(DEPS_TEST)
$(DEPS_OK): scripts/deps.sh
	@scripts/deps.sh build
	@mkdir -p $(BUILD) && touch $@
$(DEPS_TOOLS): scripts/deps.sh
	@scripts/deps.sh tools
	@mkdir -p $(BUILD) && touch $@
$(DEPS_TEST): scripts/deps.sh
	@scripts/deps.sh test
	@mkdir -p $(BUILD) && touch $@

$(BUILD)/libsluice.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/sluice: $(BUILD)/obj/src/main.o $(BUILD)/libsluice.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/sluice-tools: $(BUILD)/obj/src/main_tools.o $(RDK_OBJ) \
                       $(BUILD)/libsluice.a
	$(CC) $(LDFLAGS) -o $@ $^ $(RDK_LIBS) $(LDLIBS)

# Each alias execs the binary that has its tool.
aliases: $(BUILD)/sluice $(BUILD)/sluice-tools
	@for a in $(ALIASES); do \
	  case " $(RDK_CMDS) " in *" $${a} "*) bin=sluice-tools;; *) bin=sluice;; esac; \
	  printf '#!/bin/sh\nexec "$$(dirname "$$0")/%s" %s "$$@"\n' "$${bin}" "$${a}" > $(BUILD)/kafka-$${a}.sh; \
	  chmod +x $(BUILD)/kafka-$${a}.sh; done

$(BUILD)/obj/%.o: %.c | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(RDK_OBJ): $(BUILD)/obj/%.o: %.c | $(DEPS_OK) $(DEPS_TOOLS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(RDK_CFLAGS) -c -o $@ $<

$(BUILD)/obj/src/main_tools.o: src/main.c | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DSL_MAIN_TOOLS -c -o $@ $<

$(BUILD)/test_unit: $(UNIT_OBJ) $(BUILD)/libsluice.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The Raft simulation (tests/sim/raft_sim.c): one seed, or a long sweep.
SEED ?=
STEPS ?= 200000
VOTERS ?= 0
SNAPSHOTS ?= 1
$(BUILD)/raft_sim: $(BUILD)/obj/tests/sim/raft_sim_main.o $(BUILD)/obj/tests/sim/raft_sim.o $(BUILD)/libsluice.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
raft-sim: $(BUILD)/raft_sim
	$(BUILD)/raft_sim $(if $(SEED),--seed $(SEED)) --steps $(STEPS) --voters $(VOTERS) --snapshots $(SNAPSHOTS)
raft-sim-long: $(BUILD)/raft_sim
	$(BUILD)/raft_sim $(if $(SEED),--seed $(SEED)) --sweep 40 --steps 1000000

# The deterministic simulator of whole nodes: `make sim SEED=42 STEPS=5000
# NODES=1` (SEED defaults to a fresh one, printed; STEPS to 2000 here). A
# failure prints the command that replays it. sim-sweep runs SIM_SEEDS
# seeds of SIM_STEPS steps (the short sweep of `make test`), the first one
# twice: both runs must end in the same digest (files and figures), or the
# simulation does not replay from its seed.
$(BUILD)/sim: $(SIM_OBJ) $(BUILD)/libsluice.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

NODES ?= 1
SIM_STEPS_ARG = $(if $(filter command line environment,$(origin STEPS)),$(STEPS),2000)
sim: $(BUILD)/sim
	$(BUILD)/sim $(if $(SEED),--seed $(SEED)) --steps $(SIM_STEPS_ARG) --nodes $(NODES)

SIM_SEEDS ?= 1 2 3 4 5 6 7 8
SIM_STEPS ?= 1500
sim-sweep: $(BUILD)/sim
	@first=; for s in $(SIM_SEEDS); do \
	  $(BUILD)/sim --seed $$s --steps $(SIM_STEPS) --nodes $(NODES) > $(BUILD)/sim.out 2>&1 || \
	    { cat $(BUILD)/sim.out; exit 1; }; \
	  grep '^sim seed .* steps' $(BUILD)/sim.out; \
	  if [ -z "$$first" ]; then first=$$s; \
	    $(BUILD)/sim --seed $$s --steps $(SIM_STEPS) --nodes $(NODES) 2>/dev/null | \
	      grep digest > $(BUILD)/sim.replay; \
	    grep digest $(BUILD)/sim.out | cmp -s - $(BUILD)/sim.replay || \
	      { echo "sim seed $$s does not replay: a second run ends in another state"; exit 1; }; \
	  fi; \
	done

run: all
	mkdir -p sluice-data
	$(BUILD)/sluice server

# A local three-node cluster (README: "A three-node cluster on one machine").
cluster: all
	scripts/cluster.sh start

cluster-stop:
	scripts/cluster.sh stop

unit test-unit: $(BUILD)/test_unit
	$(BUILD)/test_unit

# Python test dependencies live in a virtual environment made here.
VENV := $(BUILD)/venv
$(VENV)/.ok: tests/requirements.txt | $(DEPS_OK) $(DEPS_TEST)
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r tests/requirements.txt
	touch $@
venv: $(VENV)/.ok

# Integration scenarios run in PYTEST_WORKERS processes (pytest-xdist), a
# test file per worker at a time (module fixtures stay in one process):
# most of a scenario's time is waiting (sessions, elections, JVM tools), so
# two workers halve the suite's time on two cores (25 -> 13 min under ASan).
PYTEST_WORKERS ?= 2
test-integration: all $(VENV)/.ok
	$(if $(SLUICE_BIN),SLUICE_BIN=$(SLUICE_BIN)) $(VENV)/bin/python -m pytest -q \
	  -n $(PYTEST_WORKERS) --dist loadfile --durations=25 tests/integration $(PYTEST_ARGS)

test-kafka: all $(VENV)/.ok
	SLUICE_TARGET=kafka $(VENV)/bin/python -m pytest -q --durations=25 tests/integration $(PYTEST_ARGS)

# The test build: unit tests and the simulator's short sweep on the release
# build and on the sanitized one, then every integration scenario against
# the sanitized broker (build/asan/sluice); the harness fails a test on any sanitizer report in
# the broker's output. `make test-integration` alone uses build/sluice
# unless SLUICE_BIN says otherwise.
test: all
	$(MAKE) test-unit
	$(MAKE) sim-sweep
	$(MAKE) asan
	$(ASAN_MAKE) sim-sweep SIM_SEEDS="1 2 3"
	$(MAKE) fuzz-smoke
	$(MAKE) test-integration SLUICE_BIN=$(abspath build/asan/sluice)
	@echo "make test: all suites passed"

ASAN_MAKE = $(MAKE) BUILD=build/asan OPT=-O1 \
  SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
asan:
	$(ASAN_MAKE) test-unit
	$(ASAN_MAKE) all

# libFuzzer targets are built with clang, whatever CC is.
FUZZ_BUILD := build/fuzz
FUZZ_BINS  := $(FUZZ_SRC:fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_SECONDS ?= 300
# Each fuzzer is one clang run over the library's sources, so it depends on
# all of them and on every header they include (a header change rebuilds it).
FUZZ_HDRS := $(wildcard src/*.h src/*/*.h src/*/*/*.h src/*/*.def fuzz/*.h)
$(FUZZ_BUILD)/%: fuzz/%.c $(LIB_SRC) $(FUZZ_HDRS) | $(DEPS_OK) $(DEPS_TEST)
	@mkdir -p $(FUZZ_BUILD)
	clang -std=c17 -O1 -g -D_GNU_SOURCE -Isrc $(PKG_CFLAGS) \
	  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	  -o $@ $< $(filter-out src/tools/%,$(LIB_SRC)) $(PKG_LIBS) -lpthread -lm

fuzz-smoke: $(FUZZ_BINS)
	@scripts/fuzz.sh smoke $(FUZZ_BINS)

fuzz: $(FUZZ_BINS)
	@FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh long $(FUZZ_BINS)

proto:
	python3 tools/protogen.py --spec $(SPEC) --out src/proto/gen

FORMAT_SRC = $(shell git ls-files 'src/*.c' 'src/*.h' 'tests/*.c' 'tests/*.h' 'fuzz/*.c' | grep -v '^src/proto/gen/')
format: | $(DEPS_TEST)
	clang-format -i $(FORMAT_SRC)

# The layers of src/ (src/LAYERS): no include points upward, no cycle
# between modules; known exceptions in scripts/layers-allow.txt.
lint: | $(DEPS_TEST)
	python3 scripts/layers.py
	clang-format --dry-run --Werror $(FORMAT_SRC)
	python3 tools/kafka-configdef/gen_config_def.py --check
	cppcheck --quiet --error-exitcode=1 --std=c11 --enable=warning,portability \
	  --inline-suppr --suppress=missingIncludeSystem -j2 -Isrc \
	  $(filter src/%.c,$(FORMAT_SRC))

bench: all | $(DEPS_TEST)
	bench/run.sh

# The load client's ceiling: a Kafka-protocol endpoint that stores nothing
# (bench/nullbroker.c), built by bench/run.sh and run by bench/bench.py
# beside the two brokers.
$(BUILD)/bench/nullbroker: bench/nullbroker.c $(BUILD)/libsluice.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(RDK_OBJ:.o=.d) $(UNIT_OBJ:.o=.d) $(SIM_OBJ:.o=.d) \
  $(BUILD)/obj/src/main.d $(BUILD)/obj/src/main_tools.d \
  $(BUILD)/bench/nullbroker.d
