//! The fixtures in `tests/fixtures` are copies of the providers' reference set, which lives
//! outside this repository. When that reference happens to sit beside the checkout (in
//! `../shared/providers`, as on the maintainers' machines), every copy must be identical to it;
//! on a clone with nothing beside it this test checks only that the copies are there.

use std::{fs, path::Path};

const HERE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
const REFERENCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/providers");

/// (path in the reference, path here)
fn pairs() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for provider in ["zernio", "ayrshare"] {
        let dir = format!("{HERE}/{provider}");
        let mut names: Vec<_> = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("reading {dir}: {e}"))
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .filter(|name| name.ends_with(".json"))
            .collect();
        names.sort();
        assert!(
            names.len() > 10,
            "{provider}: only {} fixtures",
            names.len()
        );
        for name in names {
            out.push((
                format!("fixtures/{provider}/{name}"),
                format!("{provider}/{name}"),
            ));
        }
    }
    out.push((
        "schemas/zernio-webhooks.schema.json".into(),
        "spec/zernio-webhooks.schema.json".into(),
    ));
    out.push(("zernio.md".into(), "spec/zernio.md".into()));
    out.push(("ayrshare.md".into(), "spec/ayrshare.md".into()));
    out
}

#[test]
fn copies_are_in_the_repository_and_match_the_reference_when_it_is_there() {
    let reference = Path::new(REFERENCE).is_dir();
    if !reference {
        eprintln!("note: no reference set at {REFERENCE}; checking only that the copies exist");
    }
    for (theirs, ours) in pairs() {
        let ours_bytes = fs::read(format!("{HERE}/{ours}"))
            .unwrap_or_else(|e| panic!("tests/fixtures/{ours}: {e}"));
        assert!(!ours_bytes.is_empty(), "tests/fixtures/{ours} is empty");
        if reference {
            let theirs_bytes = fs::read(format!("{REFERENCE}/{theirs}"))
                .unwrap_or_else(|e| panic!("{REFERENCE}/{theirs}: {e}"));
            assert!(
                theirs_bytes == ours_bytes,
                "tests/fixtures/{ours} differs from the reference {theirs}: copy it again"
            );
        }
    }
    if reference {
        // Nothing in the reference that we lack.
        for provider in ["zernio", "ayrshare"] {
            for entry in fs::read_dir(format!("{REFERENCE}/fixtures/{provider}")).unwrap() {
                let name = entry.unwrap().file_name().into_string().unwrap();
                assert!(
                    Path::new(&format!("{HERE}/{provider}/{name}")).exists(),
                    "reference fixture {provider}/{name} has no copy in tests/fixtures"
                );
            }
        }
    }
}
