# CP7 — the two commands that matter:
#   make run    run the broker with embedded defaults (0.0.0.0:1883)
#   make test   the whole test suite (what CI runs through .ci/run)

GO ?= go
FUZZTIME ?= 10s

.PHONY: run build test test-short vet fuzz bench bench-tls bench-store bench-auth bench-acl bench-metrics million million-cluster decompose hostile clean config-example

run:
	$(GO) run ./cmd/cp7

build:
	$(GO) build -o bin/cp7 ./cmd/cp7
	$(GO) build -o bin/cp7bench ./cmd/cp7bench

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed on:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

# The whole suite: installs what the tests need (Debian packages, npm
# modules), vets, runs every test with the race detector, then each fuzz
# target briefly on top of its checked-in seed corpus.
test: vet
	./scripts/install-deps.sh
	./scripts/install-e2e-deps.sh
	$(GO) test -race -count=1 -timeout 15m ./...
	# The allocation and struct-size tests are built with !race (the race
	# detector allocates on its own): run them again without it.
	$(GO) test -count=1 -run 'Alloc|Size' ./...
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz-brief.sh

# Quick loop for development: no race detector, no installs, no fuzzing.
test-short:
	$(GO) test -count=1 ./...

fuzz:
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz-brief.sh

clean:
	rm -rf bin
bench:
	./benchmarks/compare.sh

bench-tls:
	./benchmarks/tls.sh

# The durable store: recovery time and memory, QoS 1 into persistent sessions
# (sizes: RETAINED=, SESSIONS=, QUEUED=, PAIRS=, RATE=, WINDOW=).
bench-store:
	./benchmarks/store.sh

# authentication cost next to Mosquitto: connect rates, publish latency during a credential storm
bench-auth:
	./benchmarks/auth.sh

# Broker CPU per message with a 10,000-rule ACL against none, CP7 and
# Mosquitto on the same acl_file (prints a Markdown table).
bench-acl:
	./benchmarks/acl.sh

# What /metrics costs: fan-in CPU per message scraped vs not, one scrape at 19,000 connections.
bench-metrics:
	./benchmarks/metrics.sh

million:
	./benchmarks/million.sh

# A cluster of N/19000 nodes holding N subscribed clients (N=..., NODES=...),
# and cross-node CPU per message and latency beside a single node.
million-cluster:
	RESULTS=benchmarks/RESULTS.md ./benchmarks/million-cluster.sh

# What each hostile-client case costs two builds (OLD=ref NEW=ref; default main and HEAD).
hostile:
	./benchmarks/hostile.sh $(or $(OLD),main) $(or $(NEW),HEAD)

# Where a scenario's CPU goes, layer by layer (SCEN=p2p|fanout|fanin, PASSES=N).
decompose:
	./benchmarks/decompose.sh

# deploy/cp7.example.yaml: every config key at its default, with its help
# text (TestExampleConfigIsCurrent fails when it is out of date).
config-example:
	$(GO) run ./cmd/cp7 config example > deploy/cp7.example.yaml
