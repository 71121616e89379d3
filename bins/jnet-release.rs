//! jnet-release: release what jnet made for a jail (see jnet-release(8)).

fn main() {
    jnet::cli::main::<jnet::release::ReleaseArgs>()
}
