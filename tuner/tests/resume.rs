//! A tuner killed with `kill -9` mid-run loses nothing it measured, and a
//! rerun resumes: the earlier records stay intact, count towards the budget,
//! and are never measured again. A second tuner on the same work directory
//! is turned away with a clear message.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tuner::database::{Database, Role};

const KERNEL: &str = "linear1";
const TRIALS: &str = "20";

fn tuner(work: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tuner"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["tune", "--kernel", KERNEL, "--trials", TRIALS, "--per-iter", "4", "--jobs", "1", "--dry-run"])
        .arg("--work-dir")
        .arg(work)
        .stdin(Stdio::null());
    c
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(String::from).collect()
}

#[test]
fn killed_tuner_resumes_without_losing_or_remeasuring() {
    common::share_harness();
    let work = common::temp_dir("resume");
    let records = work.join("records.jsonl");
    let mut first = tuner(&work).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    // Wait for a few records (the baseline and some trials), then kill -9.
    let start = Instant::now();
    while lines(&records).len() < 6 {
        assert!(first.try_wait().unwrap().is_none(), "the tuner finished before it could be killed");
        assert!(start.elapsed() < Duration::from_secs(400), "no records appeared");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Meanwhile a second tuner is turned away by the lock.
    let second = tuner(&work).output().unwrap();
    let msg = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success());
    assert!(msg.contains(&format!("another tuner (PID {}) is using the work directory", first.id())), "{msg}");
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    let before = lines(&records);
    assert!(std::fs::read_to_string(work.join("tuner.lock")).is_ok(), "kill -9 leaves the lock behind");

    // The rerun takes the stale lock over and finishes the budget.
    let out = tuner(&work).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let after = lines(&records);
    // Every complete line written before the kill is still there, unchanged.
    let complete = before.iter().filter(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()).count();
    assert!(complete >= 5);
    assert_eq!(&after[..complete], &before[..complete]);
    let db = Database::open(&work).unwrap();
    let recs = db.all();
    let search = recs.iter().filter(|r| r.role == Role::Search).count();
    assert_eq!(search, TRIALS.parse::<usize>().unwrap(), "earlier trials count towards the budget");
    let keys: BTreeSet<&str> = recs.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys.len(), recs.len(), "a program was measured twice");
    let earlier = before[..complete].iter().filter(|l| l.contains("\"role\":\"search\"")).count();
    let new = search - earlier;
    assert!(stdout.contains(&format!("{TRIALS} ({new} new)")), "{stdout}");
    assert!(!work.join("tuner.lock").exists(), "the lock is released at the end");
    let _ = std::fs::remove_dir_all(&work);
}

#[test]
fn lock_names_a_live_owner_and_takes_over_a_dead_one() {
    let work = common::temp_dir("lock");
    // A live process holding the lock.
    let mut sleeper = Command::new("sleep").arg("30").spawn().unwrap();
    std::fs::write(work.join("tuner.lock"), format!("{}\n", sleeper.id())).unwrap();
    let err = tuner::database::lock(&work).unwrap_err();
    assert!(matches!(err, tuner::Error::Locked { pid, .. } if pid == sleeper.id()), "{err:?}");
    let err = err.to_string();
    assert!(err.contains(&format!("another tuner (PID {})", sleeper.id())), "{err}");
    assert!(err.contains("--work-dir"), "{err}");
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
    // Its PID is now dead: the lock is stale and taken over.
    let lock = tuner::database::lock(&work).expect("a stale lock is taken over");
    let pid: u32 = std::fs::read_to_string(work.join("tuner.lock")).unwrap().trim().parse().unwrap();
    assert_eq!(pid, std::process::id());
    drop(lock);
    assert!(!work.join("tuner.lock").exists());
    let _ = std::fs::remove_dir_all(&work);
}
