#!/usr/bin/env bash
# Runs the kernel-free code's tests on the host (cargo test over host/).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../host"
RUSTFLAGS="-D warnings" cargo test --locked
