//! The trust boundary, checked: the crates that run on (or think like) the cloud do not depend
//! on the owner's crate, so they cannot name the key, the original data or the extractor.

use std::path::Path;

fn manifest_dependencies(crate_dir: &str) -> String {
    let manifest = std::fs::read_to_string(Path::new(crate_dir).join("Cargo.toml")).unwrap();
    manifest
        .split("\n[")
        .filter(|section| {
            section.starts_with("dependencies") || section.starts_with("dev-dependencies")
        })
        .collect()
}

fn sources(dir: &Path) -> Vec<String> {
    let mut texts = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            texts.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            texts.push(std::fs::read_to_string(path).unwrap());
        }
    }
    texts
}

#[test]
fn cloud_and_attack_crates_cannot_reach_owner_code() {
    for crate_dir in ["crates/cloud", "crates/attack", "crates/core"] {
        let deps = manifest_dependencies(crate_dir);
        assert!(deps.contains("amalgam-core") || crate_dir == "crates/core");
        assert!(
            !deps.contains("amalgam-owner"),
            "{crate_dir} depends on the owner crate"
        );
        for text in sources(&Path::new(crate_dir).join("src")) {
            assert!(
                !text.contains("amalgam_owner"),
                "{crate_dir} names the owner crate"
            );
            assert!(
                !text.contains("SecretKey"),
                "{crate_dir} names the key type"
            );
        }
    }
}
