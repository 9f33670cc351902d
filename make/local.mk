# The local stack and the load tests (docs/local-stack.md, docs/load-testing.md).
# Included by the Makefile, which defines install, BIN and the venv bootstrap these targets depend on.

LOAD_USERS ?= 50
LOAD_RUN_TIME ?= 60s
# Resend answers a send in about 150 ms (issue 24 measures throughput per core at that latency).
LOAD_LATENCY_MS ?= 150

.PHONY: run load load-smoke browser

run: install  ## the whole service on loopback: demo page :8000, API :8080, sandbox :8025, AWS emulator :5000
	$(BIN)/python -m contact_sdk.devtools.local

load: install  ## bounded headless Locust run against a fresh local stack; prints p50/p95/p99 and the failure ratio
	$(BIN)/python loadtests/run_local.py --users $(LOAD_USERS) --run-time $(LOAD_RUN_TIME) \
		--latency-ms $(LOAD_LATENCY_MS) --name load -- --only-summary

load-smoke: install  ## the CI smoke (about 30 s): 10 users for 20 s; fails on a broken limit
	$(BIN)/python loadtests/run_local.py --users 10 --spawn-rate 10 --run-time 20s \
		--latency-ms 50-100 --name smoke -- --only-summary

browser:  ## Debian's chromium, for the browser tests (tests/local/test_demo_page_browser.py, test_docs_example_browser.py)
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
