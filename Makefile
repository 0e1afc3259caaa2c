# Aisle — see README.md. `make demo` and `make test` are the two entry points.
SHELL := /bin/bash
CARGO ?= cargo
MODEL := models/SmolLM2-135M-Instruct.Q4_1.gguf

.PHONY: setup build test demo clean

setup:
	@scripts/setup.sh all

build: setup
	$(CARGO) build --release --locked

test: setup
	$(CARGO) test --release --locked -- --test-threads=1

demo: build
	$(CARGO) run --release --locked --quiet -- generate --model $(MODEL) \
		--prompt "Suggest a gift for a 10-year-old who loves science" --max-tokens 64

clean:
	$(CARGO) clean
