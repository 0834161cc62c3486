#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: installs the Debian packages
# the demo's hosts need and lacks (scripts/install-deps.sh: gcc, musl-tools,
# ...; needs root or sudo), then runs the report and the demo in every host
# (`cargo run --release`). Arguments go to the CLI.
set -eu
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
exec cargo run --release -- "$@"
