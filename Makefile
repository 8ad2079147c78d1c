# codeperf: every target bootstraps .venv and the release build of the Rust
# extension on demand, so each one works from a fresh clone.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON_BOOT ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Stamps are real files: a deleted or broken venv is rebuilt, an unchanged one is not.
VENV_STAMP := $(VENV)/.requirements-installed
BUILD_STAMP := $(VENV)/.rust-extension-built
RUST_SOURCES := Cargo.toml pyproject.toml $(wildcard Cargo.lock) $(shell find crates -name '*.rs' -o -name 'Cargo.toml' 2>/dev/null)
PYTEST_ARGS ?=

.PHONY: help
help:  ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:[^#]*## /\t/' | awk -F'\t' '{printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}'

$(VENV_STAMP): requirements.txt
	test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(BUILD_STAMP): $(VENV_STAMP) $(RUST_SOURCES)
	@# A stale extension must never be imported: delete it before building.
	rm -f python/codeperf/_rust*.so
	VIRTUAL_ENV=$(CURDIR)/$(VENV) PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(VENV)/bin/maturin develop --release --quiet
	touch $@

# valgrind (callgrind) counts the engine's instructions: the regression gate. Installed
# from Debian when missing and possible; without it bench_rust records that part as not run.
# wrk is the reference the load generator's self-test and scaling benchmark compare with;
# without it their wrk column says "not installed".
.PHONY: tools
tools:  ## install the Debian tools the suites use when missing (valgrind, wrk)
	@command -v valgrind >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] \
		&& apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null; } \
		|| echo "valgrind is not installed (apt-get install valgrind): instruction counts will be 'not run'"
	@command -v wrk >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] \
		&& apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; } \
		|| echo "wrk is not installed (apt-get install wrk): the self-test's wrk column will say so"

.PHONY: venv
venv: $(VENV_STAMP)  ## create .venv and install requirements.txt

.PHONY: build
build: $(BUILD_STAMP)  ## build the Rust extension (release) into the package

.PHONY: test
test: test-rs test-py  ## set-up, cargo tests, pytest on both engine backends

.PHONY: test-rs
test-rs:  ## cargo test --workspace (the pure-Rust core)
	cargo test --workspace --release --quiet

.PHONY: test-py
test-py: $(BUILD_STAMP) tools  ## pytest (every behavioural test runs on both backends)
	$(PY) -m pytest $(PYTEST_ARGS)

# Part of `make test` too (pytest collects tests/test_readme.py).
.PHONY: docs-check
docs-check: $(BUILD_STAMP)  ## run every README command (the measuring ones with --help: seconds, not minutes)
	$(PY) -m pytest -q tests/test_readme.py

.PHONY: speed-check
speed-check: $(BUILD_STAMP)  ## print Rust vs Python speed ratios per corpus family at 100 x 2 KB, against targets.toml
	$(PY) scripts/engine_speed.py

# -- Rust vs Python: pyperf micro-benchmarks (docs/bench_rust.md) ----------------
# BENCH=consensus (or a comma list: analyze,aggregate,pipeline,ffi) picks benchmarks;
# BENCH_ARGS="--corpus code,chat" picks corpus families, "--cost-curve none" skips the cost curve;
# QUICK=1 the fast mode; BASELINE=DIR compares with an earlier run; BENCH_ARGS more options.
BENCH ?=
BENCH_ARGS ?=

.PHONY: bench-rust
bench-rust: $(BUILD_STAMP) tools  ## Rust vs Python pyperf benchmarks per corpus family, gate, memory, cost curve, targets (BENCH=consensus, QUICK=1, BASELINE=DIR)
	$(PY) scripts/bench_rust.py $(if $(BENCH),--bench $(BENCH)) $(if $(QUICK),--quick) $(if $(BASELINE),--baseline $(BASELINE)) $(BENCH_ARGS)

# -- Your systems, for every target that uses them ------------------------------
# EXPERTS=FILE: an experts TOML of your OpenAI-compatible endpoints (load, memory,
# MCP `consult`); MCP_CONFIG=FILE (space-separated for several): an MCP client config
# (Claude Desktop/Cursor "mcpServers", VS Code "servers") whose servers the MCP suite
# measures instead of the bundled ones; ALLOW_REMOTE=1 permits targets off loopback.
EXPERTS ?=
MCP_CONFIG ?=
ALLOW_REMOTE ?=
EXPERTS_FLAGS = $(if $(EXPERTS),--experts $(EXPERTS)) $(if $(ALLOW_REMOTE),--allow-remote)

# -- MCP: bundled servers and the MCP benchmark (docs/mcp.md) -------------------
# MCP_CONFIG=FILE (above) benchmarks your servers instead of the bundled ones.
# MCP_ARGS passes more options, e.g. MCP_ARGS="--server 'npx -y some-mcp-server'",
# MCP_ARGS="--url http://127.0.0.1:8000/mcp", MCP_ARGS="--only NAME --args args.toml".
MCP_ARGS ?=

.PHONY: mcp
mcp: $(BUILD_STAMP)  ## MCP benchmark: bundled servers over stdio + HTTP, protocol floor (QUICK=1, MCP_CONFIG=FILE, MCP_ARGS=...)
	$(PY) scripts/mcp_bench.py $(if $(QUICK),--quick) $(foreach f,$(MCP_CONFIG),--config $(f)) $(EXPERTS_FLAGS) $(MCP_ARGS)

# -- Memory: both heaps, leaks, timelines, line-by-line (docs/memory.md) --------
# COMPONENT=engine (or "engine leaks") picks components; MEMORY_ARGS passes more
# options, e.g. MEMORY_ARGS="--experts my_experts.toml --interval 0.01".
COMPONENT ?=
MEMORY_ARGS ?=

.PHONY: memory
memory: $(BUILD_STAMP)  ## memory of both heaps + RSS: peaks, Rust vs Python, leak slopes, timelines (COMPONENT=engine, QUICK=1, EXPERTS=FILE)
	$(PY) scripts/memory_profile.py $(if $(QUICK),--quick) $(foreach c,$(COMPONENT),--component $(c)) $(EXPERTS_FLAGS) $(MEMORY_ARGS)

# -- Load: Circle of Experts under load (docs/load.md) --------------------------
# SCENARIO=name (or "a b") picks scenarios; LOAD_ARGS passes more options, e.g.
# LOAD_ARGS="--experts my_experts.toml -o rate_rps=80".
# WORKERS=N runs the sustained and burst scenarios on N Ray workers (docs/load.md).
SCENARIO ?=
LOAD_ARGS ?=
WORKERS ?=

.PHONY: load
load: $(BUILD_STAMP)  ## load scenarios against the expert simulator or EXPERTS=FILE (SCENARIO=sustained, QUICK=1, WORKERS=2, LOAD_ARGS=...)
	$(PY) scripts/load_scenarios.py $(if $(QUICK),--quick) $(foreach s,$(SCENARIO),--scenario $(s)) $(if $(WORKERS),--workers $(WORKERS)) $(EXPERTS_FLAGS) $(LOAD_ARGS)

.PHONY: loadgen-selftest
loadgen-selftest: $(BUILD_STAMP) tools  ## the load generator's own max rate (minimal client and aiohttp) and schedule lag, beside wrk (QUICK=1)
	$(PY) scripts/loadgen_selftest.py $(if $(QUICK),--quick)

# LOAD_SCALE_ARGS passes more options, e.g. "--workers 1,2,4 --seconds 5".
LOAD_SCALE_ARGS ?=

.PHONY: load-scale
load-scale: $(BUILD_STAMP) tools  ## the generator on 1 vs 2 Ray workers: Ray's cost, rates beside wrk -t1/-t2, 10k/s lag, a 300-query burst
	$(PY) scripts/load_scale.py $(LOAD_SCALE_ARGS)

# -- The whole suite and its combined report (docs/report.md) ------------------
# QUICK=1 runs every suite's --quick mode; BASELINE=DIR compares with an earlier
# run directory; EXPERTS/MCP_CONFIG/ALLOW_REMOTE (above) point the run at your systems;
# PERF_ARGS passes more options to scripts/perf.py (e.g. --expert URL). `make perf`
# fails (non-zero exit) when a suite or a target failed, after the report is written.
QUICK ?=
BASELINE ?=
PERF_ARGS ?=
PERF_FLAGS = $(if $(BASELINE),--baseline $(BASELINE)) $(if $(EXPERTS),--experts $(EXPERTS)) \
	$(foreach f,$(MCP_CONFIG),--mcp-config $(f)) $(if $(ALLOW_REMOTE),--allow-remote) $(PERF_ARGS)

.PHONY: perf
perf: $(BUILD_STAMP) tools  ## every suite + combined report into reports/<run-id>/ (QUICK=1, BASELINE=DIR, EXPERTS=FILE, MCP_CONFIG=FILE)
	$(PY) scripts/perf.py $(if $(QUICK),--quick) $(PERF_FLAGS)

.PHONY: perf-quick
perf-quick: $(BUILD_STAMP) tools  ## make perf with each suite's --quick mode (pull requests)
	$(PY) scripts/perf.py --quick $(PERF_FLAGS)

.PHONY: report
report: $(BUILD_STAMP)  ## re-aggregate reports/latest (RUN=DIR to pick a run, BASELINE=DIR to compare)
	$(PY) scripts/aggregate_report.py --out $(or $(RUN),reports/latest) $(if $(BASELINE),--baseline $(BASELINE))

# RUNS="reports/a reports/b [...]": run directories of the same build (A/A).
RUNS ?=

.PHONY: aa-noise
aa-noise: $(BUILD_STAMP)  ## measured noise floors from A/A runs into report/aa_noise.json (RUNS="DIR DIR ...")
	$(PY) scripts/aa_noise.py $(RUNS)

# The regression gate's own check (issue #15), kept out of `make test`: real quick runs into
# reports/gate-check/ (several minutes each; quote figures from a quiet machine only).
PAIRS ?= 5
TRIES ?= 5

.PHONY: aa-gate
aa-gate: $(BUILD_STAMP) tools  ## A/A: PAIRS pairs of perf-quick, B gated against A (gate result, flagged cases, instruction diffs)
	$(PY) scripts/gate_check.py aa --count $(PAIRS)

.PHONY: seeded-regression
seeded-regression: $(BUILD_STAMP) tools  ## the gate must catch CODEPERF_SEED_REGRESSION=analyze in TRIES quick bench_rust runs
	$(PY) scripts/gate_check.py seeded --count $(TRIES)

.PHONY: clean
clean:  ## remove build outputs (keeps .venv)
	rm -rf target python/codeperf/_rust*.so $(BUILD_STAMP)
