#!/usr/bin/env bash
# Runs the kernel-free code's tests on the host (cargo test over host/), and checks the
# module's layering.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../host"
RUSTFLAGS="-D warnings" cargo test --locked
# The layering rules of Documentation/design.rst ("The tree"), and the checker's own test.
python3 "$here/check-layers.py" --self-test
python3 "$here/stat/infinisock-ss" --self-test
python3 "$here/check-layers.py" --min-host-share 0.5
