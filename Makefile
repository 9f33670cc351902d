# The project's commands. Each bootstraps the virtual environment it needs first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

# Write bytecode even where the environment says not to (this machine sets PYTHONDONTWRITEBYTECODE=1): the suite
# starts two workers and dozens of child interpreters, and each would compile the package and rewrite every
# test module again (collection 9.7 s -> 4.6 s per worker with the .pyc files kept).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: install test lint typecheck unit sandbox lambda bench bench-baseline bench-compare mutation clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing contact-sdk with its dev, load and infra extras into $(VENV) (log: $(VENV)/install.log) ..."
	@# uv resolves and installs in parallel (about 20 s here against pip's 4 min); pip is the fallback.
	@# --compile-bytecode: the .pyc files are written here, once, in parallel, instead of by every test worker
	@# and child interpreter racing to compile botocore, moto and aws_cdk on their first import.
	@{ { $(BIN)/python -m pip install --upgrade pip uv \
		&& $(BIN)/uv pip install --compile-bytecode --python $(BIN)/python -e ".[dev,load,infra]"; } \
		|| $(BIN)/python -m pip install -e ".[dev,load,infra]"; } \
		> $(VENV)/install.log 2>&1 || { grep -v "^WARNING: Location" $(VENV)/install.log | tail -40; echo "install failed"; exit 1; }
	@$(BIN)/python -c "import contact_sdk, moto, jsonschema" && $(BIN)/python -c "import locust" \
		&& $(BIN)/python -c "import aws_cdk" >>$(VENV)/install.log 2>&1 \
		|| { echo "install failed: see $(VENV)/install.log"; exit 1; }
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)  ## create .venv and install the project with its dev, load and infra extras

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy contact_sdk handler.py tools loadtests
	MYPYPATH=infra $(BIN)/mypy -m app -p contact_stack

# Three workers on two cores: a quarter of the suite's time is spent waiting (on a browser, Locust, child
# interpreters, real timers), and a third worker fills it. Measured with --cov in a warm tree, back to back:
# 2 workers 2 min 53 s to 2 min 57 s, 3 workers 2 min 37 s to 2 min 39 s, 4 workers 3 min 3 s (each worker also
# collects the suite and starts its own moto and sandbox, so a fourth costs more CPU than it saves).
PYTEST_WORKERS ?= 3
# The fast tier is CPU-bound too: 26 s with 2 workers, 36 s with 4.
UNIT_WORKERS ?= 2

test: lint typecheck  ## everything CI runs: ruff, mypy --strict, the whole pytest suite with a branch-coverage floor
	$(BIN)/pytest -n $(PYTEST_WORKERS) --cov --cov-report=term

unit: install  ## the fast tier only: no loopback servers, no deployment checks
	$(BIN)/pytest -n $(UNIT_WORKERS) -m "not integration and not deploy"

sandbox: install  ## the Resend sandbox alone, on 127.0.0.1:8025
	$(BIN)/resend-sandbox --port 8025

lambda: install  ## the arm64 Lambda deployment artifact: dist/lambda-arm64.zip, with a size report
	$(BIN)/python tools/build_lambda.py

BENCH_JSON ?= .benchmarks/latest.json
BENCH_BASELINE ?= .benchmarks/baseline.json
BENCH_THRESHOLD ?= 25

bench: install  ## timed benchmarks of the cold and warm paths and their floors; prints the ratios
	@mkdir -p $(dir $(BENCH_JSON))
	$(BIN)/pytest tests/benchmarks --benchmark-enable --benchmark-json=$(BENCH_JSON) --benchmark-columns=min,median,max,rounds
	$(BIN)/python tools/bench_compare.py report $(BENCH_JSON)

bench-baseline: bench  ## save this run as the baseline for bench-compare
	cp $(BENCH_JSON) $(BENCH_BASELINE)

bench-compare: bench  ## fail when a path's median is more than BENCH_THRESHOLD % slower than the baseline
	$(BIN)/python tools/bench_compare.py compare $(BENCH_BASELINE) $(BENCH_JSON) --threshold $(BENCH_THRESHOLD)

MODULES ?= models compose config
MUTATION_CHILDREN ?= 2

# Not part of CI: CPU-heavy. Mutants of MODULES (runtime modules, e.g. MODULES="security/csrf resend"),
# each judged by the fast tier only; results are kept in mutants/ so a rerun only redoes what changed.
mutation: install  ## mutation testing (mutmut 3) of MODULES by the fast tier, with a score table per module
	$(BIN)/mutmut run --max-children $(MUTATION_CHILDREN) $(foreach m,$(MODULES),'contact_sdk.$(subst /,.,$(m)).*')
	$(BIN)/mutmut results --all true | $(BIN)/python tools/mutation_report.py $(MODULES)
	$(if $(filter models,$(MODULES)),$(BIN)/python tools/model_mutants.py)

include make/local.mk

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache mutants
