# The few verbs everyone uses. `make run` and `make test` are the README's two commands.
GO      ?= go
# The version is a release tag on HEAD (v2.5.1 gives 2.5.1); untagged builds
# report internal/version.Release. Every surface reads internal/version.
VERSION ?= $(shell git describe --tags --exact-match 2>/dev/null | sed 's/^v//')
COMMIT  ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null)$(shell git diff --quiet HEAD 2>/dev/null || echo -dirty)
VPKG    := github.com/mutt-go/mutt/internal/version
LDFLAGS := -s -w -X $(VPKG).version=$(VERSION) -X $(VPKG).commit=$(COMMIT)

.PHONY: build run test lint bench fuzz clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/mutt ./cmd/mutt

# On a terminal the demo runs as a job of its own (set -m), so Ctrl-C reaches
# the demo, which stops cleanly and exits 0, and not make, which would
# report an interrupt whatever the demo's exit status.
run: build
	@bash -c 'if [ -t 0 ] && [ -t 2 ]; then set -m; fi; scripts/run.sh; exit $$?'

test:
	scripts/test.sh

lint:
	gofmt -l $$(git ls-files '*.go')
	$(GO) vet ./...

bench: build
	scripts/bench.sh

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzNormalize -fuzztime 30s ./internal/event/
	$(GO) test -run '^$$' -fuzz FuzzMatch -fuzztime 30s ./internal/rules/
	$(GO) test -run '^$$' -fuzz FuzzIngestHandler -fuzztime 30s ./internal/ingest/
	$(GO) test -run '^$$' -fuzz FuzzBody -fuzztime 30s ./internal/forward/
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 30s ./internal/syslog/
	$(GO) test -run '^$$' -fuzz FuzzFramer -fuzztime 30s ./internal/syslog/
	$(GO) test -run '^$$' -fuzz FuzzRFC5424MatchesGoSyslog -fuzztime 30s ./internal/syslog/
	$(GO) test -run '^$$' -fuzz FuzzPeekHeader -fuzztime 30s ./internal/snmptrap/

clean:
	rm -rf bin artifacts
