#!/bin/sh
# The jnet demo: a simulated FreeBSD host on any Linux or FreeBSD machine. It builds the
# programs, makes a host with the NICs igb0, igb1 and igb2, then starts and stops every
# jail of jail.conf.sample the way jail(8) would, its jnet hooks running for real, and
# shows the host's network after each step.
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

say "what jnet-epair would do for jail www (a dry run: ifconfig commands, nothing changed)"
step jnet-epair -n -b bridge0 --uplink igb0 -- www

# Recipe 8's jail waits in exec.poststart for the address and the default router a router
# advertisement gives it: rtadvd on the host, played here by jnet-sim ra every 100 ms.
rtadvd() { while :; do jnet-sim ra jails0 2001:db8:8::/64 >/dev/null 2>&1 || :; sleep 0.1; done; }

for j in web www app db mail cache dmz gw vlan20; do
    say "jail -c $j (jail.conf.sample)"
    if [ "$j" = gw ]; then
        rtadvd & rtadvd_pid=$!
        say "(rtadvd on the host: jnet-sim ra jails0 2001:db8:8::/64, every 100 ms)"
        step jnet-sim jail start "$j" -f jail.conf.sample
        kill "$rtadvd_pid"
    else
        step jnet-sim jail start "$j" -f jail.conf.sample
    fi
done

say "what jnet owns now, and the host as ifconfig and ngctl would show it"
step jnet-release --list
step jnet-sim show

say "a jail name too long for an interface name: hashed, or chosen with --short"
step jnet-epair -b bridge0 -- customer-portal.example.org
step jnet-release -- customer-portal.example.org
step jnet-epair -b bridge0 --short cportal -- customer-portal.example.org
step jnet-release --short cportal -- customer-portal.example.org

for j in web www app db mail cache gw vlan20; do
    say "jail -r $j"
    step jnet-sim jail stop "$j" -f jail.conf.sample
done
say "jail -r dmz: its vnet lingers 60 s (TIME_WAIT), yet poststop takes igb2 back at once"
step jnet-sim jail stop dmz -f jail.conf.sample --linger 60

say "afterwards: the NICs, the shared bridges, and nothing of the jails"
step jnet-sim show

say "the kernel operations the hooks made"
step jnet-sim ops
