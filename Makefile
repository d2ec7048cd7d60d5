# The README's two commands are `make demo` and `make test`; both run the
# idempotent set-up first (scripts/setup.sh), which builds or finds FFmpeg
# 7.1 and writes build/env.mk. Each then re-enters make so that the fresh
# build/env.mk (PKG_CONFIG_PATH, rpath, tool paths) is included.
SHELL := bash
GO ?= go
# The caller's own values, before build/env.mk overrides them: the set-up
# must look for FFmpeg with these, not with what its last run wrote.
CALLER_PKG_CONFIG_PATH := $(PKG_CONFIG_PATH)
CALLER_CGO_LDFLAGS := $(CGO_LDFLAGS)
-include build/env.mk

.PHONY: all setup test demo server check vet lint test-pure test-race cover bench build examples clean

all: test

setup:
	@PKG_CONFIG_PATH='$(CALLER_PKG_CONFIG_PATH)' CGO_LDFLAGS='$(CALLER_CGO_LDFLAGS)' scripts/setup.sh

## test: set up, then vet, lint and run the whole suite with the race detector.
test: setup
	@$(MAKE) --no-print-directory check

## demo: set up what the demo needs (not the test tools), then run the
## bot's self-contained demo on 127.0.0.1.
demo:
	@SETUP_FOR=demo PKG_CONFIG_PATH='$(CALLER_PKG_CONFIG_PATH)' CGO_LDFLAGS='$(CALLER_CGO_LDFLAGS)' scripts/setup.sh
	@$(MAKE) --no-print-directory run-demo

run-demo:
	$(GO) run ./examples/bot

## server: set up what the demo needs, then run the recording service on
## 127.0.0.1:8080 (examples/server).
server:
	@SETUP_FOR=demo PKG_CONFIG_PATH='$(CALLER_PKG_CONFIG_PATH)' CGO_LDFLAGS='$(CALLER_CGO_LDFLAGS)' scripts/setup.sh
	$(GO) run ./examples/server

check: vet lint build test-pure test-race

vet:
	$(GO) vet ./...

lint:
	golangci-lint run ./...

build:
	$(GO) build ./...

# timeline and mix must build and pass without cgo.
test-pure:
	CGO_ENABLED=0 $(GO) test -count=1 ./timeline/... ./mix/...

# Tests that need a network or mount namespace, Chromium, livekit-server or
# versitygw fail instead of skipping when their part is missing: the set-up
# installs them.
#
# The packages whose publishers encode in real time and are judged to a
# frame run afterwards with the machine to themselves, one at a time: the
# two room packages (livekit-server, two Chromiums and four publishers in
# one namespace) and the WHIP end-to-end tests (SVT-AV1 and x264 senders).
# Alongside another package's end-to-end tests on 2 cores their publishers
# send frames a second late: a CI run saw the AV1 sender make 38 frames in
# 5 s instead of 150, and its tile was still the placeholder at 3 s.
SERIAL_PKGS = ./recorder/whip ./recorder/browser ./recorder/livekit
REQUIRE = ROOMTAPE_REQUIRE_NETNS=1 ROOMTAPE_REQUIRE_BROWSER=1 ROOMTAPE_REQUIRE_LIVEKIT=1 ROOMTAPE_REQUIRE_S3=1 ROOMTAPE_BROWSER_AV=1
test-race:
	$(REQUIRE) scripts/gotest.sh -race -count=1 -timeout 30m $$($(GO) list ./... | grep -v -e '/recorder/whip$$' -e '/recorder/browser$$' -e '/recorder/livekit$$')
	$(REQUIRE) GOTEST_LOG=build/test-serial.log scripts/gotest.sh -race -count=1 -timeout 30m -p 1 $(SERIAL_PKGS)

cover:
	CGO_ENABLED=0 $(GO) test -count=1 -cover ./timeline/... ./mix/...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf build
