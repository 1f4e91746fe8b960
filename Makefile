# The few verbs everyone uses. `make run` and `make test` are the README's two commands.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)

.PHONY: build run test lint bench fuzz clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/mutt ./cmd/mutt

run: build
	scripts/run.sh

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
