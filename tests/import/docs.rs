//! `docs/settings-catalog.md` is generated from the catalog data and must stay in step.

use std::path::Path;

use rampart::catalog::Catalog;

#[test]
fn settings_catalog_doc_is_up_to_date() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/settings-catalog.md");
    let want = Catalog::builtin().markdown();
    if std::env::var_os("RAMPART_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/settings-catalog.md is out of date: run `RAMPART_BLESS=1 cargo test --test integration import::docs`"
    );
}

#[test]
fn every_readable_name_is_documented_with_its_raw_id() {
    let doc = Catalog::builtin().markdown();
    for d in Catalog::builtin().definitions() {
        assert!(
            doc.contains(&format!("`{}`", d.name)) && doc.contains(&format!("`{}`", d.id)),
            "{}",
            d.name
        );
    }
}
