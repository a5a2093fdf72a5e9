//! The tuner's modules have no cycles: every module uses only the modules
//! listed before it in the crate documentation ("Modules, lowest first").

use std::path::Path;

/// The module order documented in `lib.rs`.
fn documented_order(lib: &str) -> Vec<String> {
    let start = lib.find("Modules, lowest first").expect("lib.rs lists its modules");
    let list: String = lib[start..]
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("//!") && l.trim() != "//!")
        .map(|l| l.trim_start_matches("//!"))
        .collect::<Vec<_>>()
        .join(" ");
    list.split(',').map(|m| m.trim().trim_matches(|c| c == '`' || c == '.').to_string()).collect()
}

/// The crate modules a source file names (`crate::x`, `use crate::{x, ..}`).
fn uses(src: &str, modules: &[String]) -> Vec<String> {
    let code: String = src.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
    let mut out = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        let names: Vec<&str> = match rest.strip_prefix('{') {
            Some(group) => group[..group.find('}').unwrap_or(0)].split(',').collect(),
            None => vec![rest],
        };
        for n in names {
            let n: String = n.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if modules.contains(&n) && !out.contains(&n) {
                out.push(n);
            }
        }
    }
    out
}

#[test]
fn modules_only_use_the_modules_below_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let order = documented_order(&lib);
    let declared: Vec<&str> =
        lib.lines().filter_map(|l| l.strip_prefix("pub mod ").and_then(|m| m.strip_suffix(';'))).collect();
    let mut sorted_order: Vec<&str> = order.iter().map(String::as_str).collect();
    sorted_order.sort_unstable();
    assert_eq!(sorted_order, declared, "lib.rs documents every module, once");
    let mut wrong = Vec::new();
    for (k, m) in order.iter().enumerate() {
        let file = src.join(format!("{m}.rs"));
        let mut text = std::fs::read_to_string(&file).unwrap_or_default();
        for f in kiln_ir::parse::rust_files(&src.join(m)) {
            text.push_str(&std::fs::read_to_string(f).unwrap());
        }
        assert!(!text.is_empty(), "no source for module {m}");
        for used in uses(&text, &order) {
            if used != *m && order.iter().position(|o| *o == used).unwrap() > k {
                wrong.push(format!("{m} uses {used}, listed after it"));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}
