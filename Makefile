# Keel developer entry points. Every target that runs code bootstraps first (fast when warm).
#   make test [PROFILE=ci|deep] [TEST_ARGS="-k name -x"]
#   make fuzz [PROFILE=ci|deep] [FUZZ_ARGS="--seed 7"]   whole-protocol fuzzing (docs/INVARIANTS.md)
#   make keeper-bench                                     keeper benchmark (docs/keeper-benchmark.md)
#   make sim-report                                       the example risk report (docs/sim-report/)
#   make sim-bench                                        1,000 paths x 500 vaults (docs/sim-benchmark.md)
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := test

ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
VENV := $(ROOT)/.venv
BROWNIE := $(VENV)/bin/brownie
KEEL := $(VENV)/bin/keel

# brownie launches `anvil` from PATH; node_modules/.bin has the pinned one.
export PATH := $(VENV)/bin:$(ROOT)/node_modules/.bin:$(PATH)

# Hypothesis profile for tests/conftest.py (ci: small and derandomized; deep: long fuzzing).
PROFILE ?= $(or $(KEEL_PROFILE),ci)
export KEEL_PROFILE := $(PROFILE)

TEST_ARGS ?=
FUZZ_ARGS ?=

.PHONY: bootstrap test demo gas fuzz fuzz-bench keeper-bench sim-report sim-bench compile clean distclean

bootstrap:
	@bash "$(ROOT)/tools/bootstrap.sh"

# brownie must run from the project root (it finds brownie-config.yaml from the cwd).
# brownie's node listens on KEEL_ANVIL_PORT: a free one in 8545-8599 unless set, so two runs
# never share (tests/conftest.py refuses a port another node holds)
test: bootstrap
	cd "$(ROOT)" && export KEEL_ANVIL_PORT="$${KEEL_ANVIL_PORT:-$$("$(VENV)/bin/python" -c 'from keel.chain import free_port; print(free_port(8545, 8599))')}" && \
		"$(BROWNIE)" test $(TEST_ARGS)

compile: bootstrap
	cd "$(ROOT)" && "$(BROWNIE)" compile

demo: bootstrap
	cd "$(ROOT)" && "$(KEEL)" demo

gas: bootstrap
	cd "$(ROOT)" && mkdir -p docs && "$(KEEL)" gas --out docs/gas.md

# the whole-protocol stateful fuzz suite: ci (about a minute) or deep (1,000,000 steps)
fuzz: bootstrap
	cd "$(ROOT)" && "$(KEEL)" fuzz --profile $(PROFILE) $(FUZZ_ARGS)

# fuzz throughput per backend, written to docs/fuzz-benchmark.md
fuzz-bench: bootstrap
	cd "$(ROOT)" && "$(KEEL)" fuzz-bench --out docs/fuzz-benchmark.md

# keeper scan cost and crash clearing at 1,000 and 5,000 vaults, written to docs/keeper-benchmark.md
keeper-bench: bootstrap
	cd "$(ROOT)" && "$(KEEL)" keeper-bench --out docs/keeper-benchmark.md

# the committed example risk report: Black Thursday, Monte Carlo, sweeps, margin (+ a screenshot)
SIM_REPORT_ARGS ?= --vaults 500 --writers 40 --runs 400 --sweep-runs 60 \
	--sweep liquidation_ratio=1.3,1.5,1.7 --sweep penalty=1.05,1.13,1.2 --sweep curve_tau=1800,3600,7200 \
	--sweep type_limit=250000,1000000,2000000 --sweep keeper_interval=120,900,3600
sim-report: bootstrap
	cd "$(ROOT)" && "$(KEEL)" sim-report $(SIM_REPORT_ARGS) --screenshot --out docs/sim-report

# the Monte Carlo benchmark: 1,000 merton paths of a 500-vault book on the local pool
sim-bench: bootstrap
	cd "$(ROOT)" && "$(KEEL)" sim-bench --out docs/sim-benchmark.md

clean:
	cd "$(ROOT)" && rm -rf build .pytest_cache .hypothesis reports
	cd "$(ROOT)" && find . -path ./.venv -prune -o -path ./node_modules -prune -o \
		-name __pycache__ -type d -prune -exec rm -rf {} +

# also drops the installed toolchain; the next bootstrap is a cold one
distclean: clean
	cd "$(ROOT)" && rm -rf .venv node_modules .cache
