//! jnet-nic: lend a dedicated NIC to a VNET jail (see jnet-nic(8)).

fn main() {
    jnet::cli::main::<jnet::lend::NicArgs>()
}
