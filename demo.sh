#!/bin/sh
# The jnet demo: a simulated FreeBSD host on any Linux or FreeBSD machine.
# Builds the programs, makes a host with two NICs and walks a VNET jail through its life.
set -eu
cd "$(dirname "$0")"
cargo build --release -q
PATH="$PWD/target/release:$PATH"
JNET_SIM="${TMPDIR:-/tmp}/jnet-demo-$$.json"
export JNET_SIM
trap 'rm -f "$JNET_SIM" "$JNET_SIM.lock" "$JNET_SIM.ops"' EXIT

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

step jnet-sim init --phys igb0,igb1 --dad-ms 200
step jnet-sim jail create www --vnet
step jnet-sim jail create shared --ip6 'igb0|2001:db8::80/64'
step jnet-sim show
step jnet-sim jail remove www --linger 60
step jnet-sim show --json
step jnet-sim ops
