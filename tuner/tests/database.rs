//! The database reads past a torn last line (what a kill mid-write leaves)
//! and keeps appending whole, readable lines after it.

mod common;

use tuner::database::{Database, Record, Role};

fn record(key: &str, us: Option<f64>) -> Record {
    Record {
        workload: "fnv1a64:0".into(),
        kernel: "k".into(),
        target: "x86_64-avx2".into(),
        threads: 1,
        role: Role::Search,
        key: key.into(),
        trace: serde_json::json!({"format": 1, "insts": []}),
        median_us: us,
        error: us.is_none().then(|| "wrong result".to_string()),
        time: 1.0,
    }
}

#[test]
fn torn_and_corrupt_lines_are_skipped_and_appends_stay_whole() {
    let dir = common::temp_dir("db-torn");
    {
        let mut db = Database::open(&dir).unwrap();
        db.add(record("a", Some(1.5))).unwrap();
        db.add(record("b", None)).unwrap();
    }
    let path = dir.join("records.jsonl");
    let mut text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 2);
    // A torn last line: half a record, no newline.
    let full = serde_json::to_string(&record("c", Some(2.0))).unwrap();
    text.push_str(&full[..full.len() / 2]);
    std::fs::write(&path, &text).unwrap();
    let mut db = Database::open(&dir).unwrap();
    assert_eq!(db.skipped, 1);
    let keys: Vec<&str> = db.all().iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, ["a", "b"]);
    assert!(db.all()[0].is_ok() && !db.all()[1].is_ok());
    // A record appended after the torn line is whole and readable.
    db.add(record("d", Some(3.0))).unwrap();
    drop(db);
    let db = Database::open(&dir).unwrap();
    assert_eq!(db.skipped, 1);
    let keys: Vec<&str> = db.all().iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, ["a", "b", "d"]);
    // Garbage in the middle is skipped too.
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.insert_str(0, "not json\n\n");
    std::fs::write(&path, text).unwrap();
    let db = Database::open(&dir).unwrap();
    assert_eq!(db.all().len(), 3);
    assert_eq!(db.skipped, 2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn workloads_are_registered_once() {
    let dir = common::temp_dir("db-workloads");
    let func = common::small_matmul();
    let mut db = Database::open(&dir).unwrap();
    let h1 = db.add_workload(&func).unwrap();
    let h2 = db.add_workload(&func).unwrap();
    assert_eq!(h1, h2);
    drop(db);
    let mut db = Database::open(&dir).unwrap();
    assert!(db.has_workload(&h1));
    db.add_workload(&func).unwrap();
    let text = std::fs::read_to_string(dir.join("workloads.jsonl")).unwrap();
    assert_eq!(text.lines().count(), 1);
    assert!(text.contains("\"kernel\":\"mm\"") && text.contains("T.prim_func"));
    let _ = std::fs::remove_dir_all(&dir);
}
