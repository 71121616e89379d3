//! jnet-ip6wait: wait for IPv6 duplicate address detection (see jnet-ip6wait(8)).

fn main() {
    jnet::cli::main::<jnet::ip6wait::Ip6WaitArgs>()
}
