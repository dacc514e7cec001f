# Sourced by scripts/page-weight and scripts/speed, which measure the site
# the way a browser gets it: builds it, then starts it on SQLite with the dev
# outbox on a free local port, stopped again when the script exits.

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# build_site full|frontend|none: sets $server to the binary to run.
#   full      the release site (cargo leptos build --release --precompress)
#   frontend  only the release front end (wasm, JS, CSS), served by the
#             debug server: the HTML is the same in both profiles, and CI
#             saves a release build of the server
#   none      what is already in target/ (release server and site)
build_site() {
  server=target/release/passcode
  case "$1" in
    full)
      say "building the release site (cargo leptos build --release --precompress)"
      cargo leptos build --release --precompress ;;
    frontend)
      # Always through cargo-leptos: a server built by plain `cargo build` or
      # `cargo test` names the wasm differently from the site it would serve.
      say "building the debug server (cargo leptos build --server-only)"
      cargo leptos build --server-only
      say "building the release front end (cargo leptos build --release --precompress --frontend-only)"
      cargo leptos build --release --precompress --frontend-only
      server=target/debug/passcode ;;
  esac
}

# start_site [NAME=value ...]: starts $server with the given extra
# environment and sets $base to its address once it answers.
start_site() {
  data=$(mktemp -d)
  local port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  # localhost, not the address: passkeys are off where the public URL's host
  # is an IP address, and their markup and script count too.
  env PASSCODE_ADDR="127.0.0.1:$port" PASSCODE_PUBLIC_URL="http://localhost:$port" PASSCODE_DATA_DIR="$data" \
    LEPTOS_SITE_ROOT=target/site PASSCODE_LOG=warn "$@" "$server" &
  pid=$!
  trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break
    kill -0 $pid 2>/dev/null || { echo "the server did not start" >&2; exit 1; }
    sleep 0.1
  done
  base="http://localhost:$port"
}
