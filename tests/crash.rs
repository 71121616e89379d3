//! Issue 21: a crash (SIGKILL) at every kernel operation of every program, for the recipes
//! of jail.conf.sample, start and stop (tests/crashsweep.rs), then `jnet-release --stale
//! --prune`: the host as before, or as a clean start and stop leave it.

mod common;
mod crashsweep;

fn bin(prog: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(common::bin(prog))
}

#[test]
fn a_kill_at_every_operation_of_every_recipe_then_stale_prune() {
    let s = crashsweep::starts(bin);
    eprintln!("kill sweep: {} recipes, {} kill points", crashsweep::RECIPES.len(), s.runs);
    assert!(s.runs > 250, "the sweep ran {} kill points", s.runs);
    assert!(
        s.bad.is_empty(),
        "{} of {} kill points leave the host changed:\n{}",
        s.bad.len(),
        s.runs,
        s.bad.join("\n")
    );
}

#[test]
fn a_kill_at_every_operation_of_every_release_then_stale_prune() {
    let s = crashsweep::releases(bin);
    eprintln!("release kill sweep: {} recipes, {} kill points", crashsweep::RECIPES.len(), s.runs);
    assert!(s.runs > 120, "the sweep ran {} kill points", s.runs);
    assert!(
        s.bad.is_empty(),
        "{} of {} kill points leave the host changed:\n{}",
        s.bad.len(),
        s.runs,
        s.bad.join("\n")
    );
}
