//! jnet-ngattach: a netgraph interface for a VNET jail (see jnet-ngattach(8)).

fn main() {
    jnet::cli::main::<jnet::ngattach::NgAttachArgs>()
}
