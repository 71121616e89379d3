#!/bin/sh
# The jnet demo: a simulated FreeBSD host on any Linux or FreeBSD machine.
# Builds the programs, makes a host with three NICs and runs VNET jails through their
# lives with the hooks jail(8) would call, showing the network after each step.
set -eu
cd "$(dirname "$0")"
cargo build --release -q
PATH="$PWD/target/release:$PATH"
JNET_SIM="${TMPDIR:-/tmp}/jnet-demo-$$.json"
export JNET_SIM
trap 'rm -f "$JNET_SIM" "$JNET_SIM.lock" "$JNET_SIM.ops"' EXIT

say() { printf '\n\033[1m# %s\033[0m\n' "$*"; }
step() { printf '\033[1m$ %s\033[0m\n' "$*"; "$@"; }

say "a FreeBSD host with three NICs"
step jnet-sim init --phys igb0,igb1,igb2 --dad-ms 200

say "recipe 1, jail web: an IP-sharing jail whose daemons need their IPv6 address"
step jnet-sim jail create web --ip6 'igb0|2001:db8::80/64'
step jnet-ip6wait web

say "recipe 2, jail www: exec.prestart (dry run first, then for real)"
step jnet-epair -n -b bridge0 --uplink igb0 www
step jnet-epair -b bridge0 --uplink igb0 www
say "jail(8) creates www and moves vnet.interface e0b_www in"
step jnet-sim jail create www --vnet --interface e0b_www

say "recipe 3, jail app: created first, then exec.created configures it from the host"
step jnet-sim jail create app --vnet
step jnet-epair -b bridge0 --ifname vnet0 --addr 2001:db8::5/64 --addr 192.0.2.5/24 --json app
say "recipe 3 goes on: wait until the jail's IPv6 addresses have passed DAD"
step jnet-ip6wait --json app

say "a jail name too long for an interface name"
step jnet-epair -b bridge0 customer-portal.example.org

say "recipe 5, jail mail: netgraph, an ng_bridge spliced onto igb1 (dry run, then for real)"
step jnet-ngattach -n --uplink igb1 mail
step jnet-ngattach --uplink igb1 mail
step jnet-sim jail create mail --vnet --interface ng0_mail

say "what jnet owns, and the host as ifconfig would show it"
step jnet-release --list
step jnet-sim show

say "recipe 7, jail dmz: a dedicated NIC, taken back in prestop while the jail runs"
step jnet-sim jail create dmz --vnet --interface igb2
step jnet-release --iface igb2 dmz
step jnet-sim jail remove dmz --linger 60

say "stop: the jails are removed (www lingers in TIME_WAIT), exec.poststop releases"
step jnet-sim jail remove www --linger 60
step jnet-sim jail remove app
step jnet-sim jail remove web
step jnet-sim jail remove mail
step jnet-release --prune mail
step jnet-release www
step jnet-release app
step jnet-release customer-portal.example.org
step jnet-release www
step jnet-sim show

say "the kernel operations the hooks made"
step jnet-sim ops
