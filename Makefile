# Aisle — see README.md. `make demo` and `make test` are the two entry points.
SHELL := /bin/bash
CARGO ?= cargo
MODEL := models/SmolLM2-135M-Instruct.Q4_1.gguf

.PHONY: setup build test demo clean

setup:
	@scripts/setup.sh all

build: setup
	$(CARGO) build --release --locked

# In `make test` nothing may skip: the model and a wgpu adapter (lavapipe) are required.
test: setup
	AISLE_REQUIRE_MODEL=1 AISLE_REQUIRE_GPU=1 $(CARGO) test --release --locked -- --test-threads=1

demo: build
	$(CARGO) run --release --locked --quiet -- generate --model $(MODEL) \
		--prompt "Suggest a gift for a 10-year-old who loves science" --max-tokens 64

clean:
	$(CARGO) clean
