//! jnet-epair: an epair for a VNET jail (see jnet-epair(8)).

fn main() {
    jnet::cli::main::<jnet::epair::EpairArgs>()
}
