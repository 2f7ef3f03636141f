//! Every seed of the fuzz corpus (`fuzz/corpus/<target>/`) and every input that ever crashed a
//! harness (`fuzz/regressions/<target>/`) replayed through the same harness, so a crash the
//! fuzzer found stays fixed.

use std::path::Path;

#[test]
fn corpus_and_regressions_replay_cleanly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut replayed = 0;
    for (name, harness) in fuzzing::TARGETS {
        let mut seeds = 0;
        for dir in ["corpus", "regressions"] {
            let Ok(entries) = std::fs::read_dir(root.join(dir).join(name)) else {
                continue;
            };
            for e in entries.flatten() {
                let data = std::fs::read(e.path()).unwrap();
                harness(&data);
                seeds += 1;
            }
        }
        assert!(seeds > 0, "{name} has no seed corpus");
        replayed += seeds;
    }
    assert!(replayed >= fuzzing::TARGETS.len());
}
