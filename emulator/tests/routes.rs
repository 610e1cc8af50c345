//! The README's route table is the router's: every route served has a row naming the Graph
//! document it follows, and every row is served.

use rampart_emulator::router::route_table;
use std::collections::BTreeSet;

#[test]
fn readme_lists_every_route() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("emulator/README.md");
    let mut listed = BTreeSet::new();
    for line in readme.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // | METHOD | `/path` | versions | document |
        if cells.len() < 6 || !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&cells[1]) {
            continue;
        }
        let path = cells[2].trim_matches('`').trim_start_matches('/');
        assert!(
            !cells[4].is_empty(),
            "README route {} {path} names no Graph document",
            cells[1]
        );
        if path == "$batch" {
            continue; // served by the HTTP layer, not the router
        }
        for version in cells[3].split(',').map(str::trim) {
            listed.insert((cells[1].to_string(), format!("{version}/{path}")));
        }
    }
    let served: BTreeSet<(String, String)> = route_table().into_iter().collect();
    let missing: Vec<_> = served.difference(&listed).collect();
    let extra: Vec<_> = listed.difference(&served).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "served but not in emulator/README.md: {missing:#?}\nin the README but not served: {extra:#?}"
    );
}
