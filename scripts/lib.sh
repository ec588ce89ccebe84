# Shared by the scripts in scripts/: installs what is missing (once, in parallel where the two
# cores allow) and times each step. Sourced, not executed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
mkdir -p target
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$ROOT/end2end/node_modules/.bin:$ROOT/bench/node_modules/.bin:$PATH"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

CARGO_LEPTOS_VERSION="0.3.10"
# wasm-bindgen CLI must match the crate in Cargo.lock exactly
WASM_BINDGEN_VERSION="$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)"

log() { printf '\n==> %s\n' "$*"; }

# --- timing ----------------------------------------------------------------------------------
# `step NAME` ends the step before it (printing how long it took) and starts NAME; background
# work records its own time with `timed`. `slowest_steps` prints the five slowest at the end.
SCRIPT_START=$(date +%s)
STEP_TIMES="$ROOT/target/step-times.$$"
: > "$STEP_TIMES"
STEP_NAME=""
STEP_START=0

duration() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

record_time() { printf '%s\t%s\n' "$1" "$2" >> "$STEP_TIMES"; }

step_end() {
  if [ -n "$STEP_NAME" ]; then
    local took=$(($(date +%s) - STEP_START))
    record_time "$took" "$STEP_NAME"
    printf '    %s took %s\n' "$STEP_NAME" "$(duration "$took")"
    STEP_NAME=""
  fi
}

step() {
  step_end
  STEP_NAME="$*"
  STEP_START=$(date +%s)
  printf '\n==> [%s] %s\n' "$(duration $((STEP_START - SCRIPT_START)))" "$*"
}

# timed NAME CMD...: runs CMD and records its time under NAME (for work in the background).
timed() {
  local name=$1 start
  shift
  start=$(date +%s)
  "$@"
  record_time "$(($(date +%s) - start))" "$name"
}

slowest_steps() {
  step_end
  echo "slowest steps (total $(duration $(($(date +%s) - SCRIPT_START)))):"
  sort -t$'\t' -k1,1rn "$STEP_TIMES" | head -5 | while IFS=$'\t' read -r secs name; do
    printf '  %8s  %s\n' "$(duration "$secs")" "$name"
  done
  rm -f "$STEP_TIMES"
}

# --- background work -------------------------------------------------------------------------
# `background NAME CMD...` runs CMD in its own process group with its output in
# target/setup-NAME.log; `wait_background NAME` waits for it and shows the log if it failed.
# `track NAME PID` adds a job started otherwise. Whatever still runs when the script exits
# (a failed step, Ctrl-C) is stopped with everything it started (rustc, test servers, npm).
declare -A BACKGROUND_PIDS=()

# in_group CMD...: runs CMD in the background as the leader of a new process group
in_group() {
  set -m
  "$@" < /dev/null &
  set +m
}

background() {
  local name=$1
  shift
  in_group run_logged "$name" "$@"
  BACKGROUND_PIDS[$name]=$!
}
run_logged() {
  local name=$1
  ( timed "$@" ) > "target/setup-$name.log" 2>&1
}

track() { BACKGROUND_PIDS[$1]=$2; }

wait_background() {
  local name=$1 pid=${BACKGROUND_PIDS[$1]:-} status=0
  [ -n "$pid" ] || return 0
  wait "$pid" || status=$?
  unset "BACKGROUND_PIDS[$name]"
  if [ "$status" != 0 ]; then
    echo "error: $name failed:" >&2
    cat "target/setup-$name.log" >&2
    return 1
  fi
  rm -f "target/setup-$name.log"
}

on_exit() {
  local pid
  for pid in "${BACKGROUND_PIDS[@]}"; do
    kill -TERM -- "-$pid" 2>/dev/null || true
  done
  rm -f "$STEP_TIMES"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# hand_over CMD...: ends this script's bookkeeping and replaces it with CMD.
hand_over() {
  on_exit
  trap - EXIT
  exec "$@"
}

# --- installs --------------------------------------------------------------------------------
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else echo "error: root is needed to run: $*" >&2; return 1
  fi
}

# apt_install PKG... — installs the Debian packages that are missing.
apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]} (apt)"
  # `|| return`: callers may run this where a failure does not stop the script (`|| fallback`)
  as_root apt-get update -qq || return
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_wasm_target() {
  rustup target list --installed 2>/dev/null | grep -q '^wasm32-unknown-unknown$' \
    || { log "adding the wasm32-unknown-unknown target"; rustup target add wasm32-unknown-unknown; }
}

have_cargo_leptos() { cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; }
have_wasm_bindgen() { wasm-bindgen --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; }

# The two build tools are built for a short install rather than peak speed: cargo-leptos (550
# crates; it mostly waits for cargo and rustc) unoptimised and without debug info, which takes
# a third of the time its release profile (whole-program LTO) does; wasm-bindgen lightly
# optimised, as it rewrites every wasm build. Each builds in cargo's own temporary directory
# (not CARGO_TARGET_DIR), so the two go side by side and never lock the app's target/.
tool_install() { env -u CARGO_TARGET_DIR -u RUSTFLAGS cargo install "$@"; }
# cargo-leptos depends on cargo-generate, which asks for a vendored OpenSSL: built from its C
# sources that takes 3 to 4 minutes and heads the install's longest chain of crates. With
# the system's OpenSSL (libssl-dev, kept up to date by Debian) found by pkg-config,
# OPENSSL_NO_VENDOR tells openssl-sys to link that instead; without it, the vendored build.
install_cargo_leptos() {
  if pkg-config --exists openssl 2>/dev/null; then local -x OPENSSL_NO_VENDOR=1; fi
  CARGO_PROFILE_DEV_DEBUG=0 tool_install cargo-leptos@"$CARGO_LEPTOS_VERSION" --locked --debug
}
install_wasm_bindgen() {
  # `--locked` fails on a yanked dependency of this version; the fallback resolver picks
  # versions that build with this toolchain. Only the `wasm-bindgen` program, without TLS
  # (its test runner's downloads are the only use): cargo-leptos runs nothing else of it.
  CARGO_RESOLVER_INCOMPATIBLE_RUST_VERSIONS=fallback CARGO_PROFILE_RELEASE_OPT_LEVEL=1 \
    tool_install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force \
    --no-default-features --bin wasm-bindgen
}

# start_rust_tools: starts installing cargo-leptos and wasm-bindgen-cli (whichever is missing)
# in the background; wait_rust_tools waits for them. ensure_rust_tools does both.
# Runs apt itself (for the OpenSSL headers, see install_cargo_leptos) before anything else
# starts: callers start their own apt work after it, never beside it.
start_rust_tools() {
  ensure_wasm_target
  local missing=()
  if ! have_cargo_leptos; then
    # a second or two when present; far shorter than building OpenSSL when not
    apt_install libssl-dev pkg-config || log "no libssl-dev: cargo-leptos builds its own OpenSSL"
    missing+=("cargo-leptos $CARGO_LEPTOS_VERSION")
    background cargo-leptos install_cargo_leptos
  fi
  have_wasm_bindgen || { missing+=("wasm-bindgen-cli $WASM_BINDGEN_VERSION"); background wasm-bindgen install_wasm_bindgen; }
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]} in the background (once: about 5 minutes alone on 2 cores, about twice that while the app builds beside them; output in target/setup-*.log)"
  fi
}

wait_rust_tools() {
  wait_background cargo-leptos
  wait_background wasm-bindgen
  have_cargo_leptos || { echo "error: cargo-leptos $CARGO_LEPTOS_VERSION is not on PATH after installing it" >&2; return 1; }
  have_wasm_bindgen || { echo "error: wasm-bindgen $WASM_BINDGEN_VERSION is not on PATH after installing it" >&2; return 1; }
}

ensure_rust_tools() {
  start_rust_tools
  wait_rust_tools
}

# ensure_npm DIR: `npm ci` in DIR when its node_modules is missing or older than the lock file.
ensure_npm() {
  command -v npm >/dev/null 2>&1 || apt_install nodejs npm
  if [ ! -f "$1/node_modules/.package-lock.json" ] || [ "$1/package-lock.json" -nt "$1/node_modules/.package-lock.json" ]; then
    log "installing npm packages in $1 (npm ci)"
    (cd "$1" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

ensure_node_modules() {
  ensure_npm end2end
  ensure_npm bench
}

# free_ports N: prints N distinct free TCP ports on loopback (all held open while drawn, so
# two of them can never be the same port).
free_ports() {
  python3 -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks: s.close()' "$1"
}

free_port() { free_ports 1; }

# e2e_ports: exports the ports the Playwright configuration reads (end2end/playwright.config.ts).
e2e_ports() {
  read -r E2E_DEV_APP_PORT E2E_DEV_OP_PORT E2E_OP_APP_PORT E2E_OP_PORT E2E_IDLE_APP_PORT \
    E2E_IDLE_OP_PORT E2E_MULTI_APP_PORT E2E_MULTI_OP_PORT < <(free_ports 8)
  export E2E_DEV_APP_PORT E2E_DEV_OP_PORT E2E_OP_APP_PORT E2E_OP_PORT E2E_IDLE_APP_PORT \
    E2E_IDLE_OP_PORT E2E_MULTI_APP_PORT E2E_MULTI_OP_PORT
}
