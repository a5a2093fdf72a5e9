//! After a tuning, when the trace file holds entries of several ISAs for the
//! tuning machine's CPU class (`tune --isa avx2` then `--isa avx512`, or
//! `--isa all`): the ISA that class runs the kernel with.
//!
//! The dispatch takes the running CPU class's entry of the best ISA the CPU
//! runs (`ir/src/codegen/kernel.rs`), so where a lower ISA's entry is the
//! faster one on this class — on a Zen 4 (AMD EPYC family 25 model 17), whose
//! 512-bit FMAs run at the rate of two 256-bit ones, `linear0` took 3.84–3.88
//! µs as AVX2 and 4.08–4.18 as AVX-512 — the higher ISA's class entry is
//! removed and the lower one's runs on this class. The generic entries stay
//! (for the CPUs of other classes). The class entries are timed side by side
//! in interleaved rounds (`confirm::time_together_isas`), not compared by
//! the figures their tunings measured minutes apart.

use kiln_ir::target::{Isa, Target};
use kiln_ir::tracefile::TraceFile;

use crate::builder::Toolchain;
use crate::commit::KEEP_MARGIN;
use crate::confirm::time_together_isas;
use crate::error::{Error, Result};
use crate::options::TuneOptions;
use crate::runner::kernel_data;
use crate::task::{Program, Task};

/// The ISAs whose class entries give way, given each ISA's time (µs) on this
/// class: those above the fastest ISA (in `Isa`'s order, best first) that are
/// slower than it by more than [`KEEP_MARGIN`] — a higher ISA within the
/// margin keeps its entry (the difference is noise).
pub fn slower_higher_isas(times: &[(Isa, f64)]) -> Vec<Isa> {
    let Some(&(fastest, best)) = times.iter().min_by(|a, b| a.1.total_cmp(&b.1)) else { return vec![] };
    let rank = |isa: Isa| Isa::ALL.iter().position(|i| *i == isa).unwrap_or(usize::MAX);
    times
        .iter()
        .filter(|(isa, us)| rank(*isa) < rank(fastest) && *us > best * KEEP_MARGIN)
        .map(|(isa, _)| *isa)
        .collect()
}

/// For `task`, whose file may hold entries of `isas` (those this machine
/// runs) for this machine's class: times those class
/// entries side by side and removes those of [`slower_higher_isas`] from the
/// trace file. Returns what it did, for the report (`None`: nothing to
/// compare).
pub fn prefer_faster_isa(task: &Task, isas: &[Isa], opts: &TuneOptions, tc: &Toolchain) -> Result<Option<String>> {
    let Some(class) = opts.cpu_class.as_deref() else { return Ok(None) };
    let Ok(Some(mut file)) = TraceFile::read(&task.trace_path) else { return Ok(None) };
    let mut entries: Vec<(Program, Isa)> = Vec::new();
    for isa in isas.iter().copied().filter(|i| *i != Isa::Scalar) {
        let target = Target::cpu(isa, class);
        if !file.targets.contains_key(&target.key()) {
            continue;
        }
        if let Ok(p) = task.committed_program(&target, opts.threads) {
            entries.push((p, isa));
        }
    }
    if entries.len() < 2 {
        return Ok(None);
    }
    let data = kernel_data(&task.func, &opts.work_dir)?;
    let refs: Vec<(&Program, Isa)> = entries.iter().map(|(p, i)| (p, *i)).collect();
    let timed = time_together_isas(tc, &task.func, &refs, &data, &opts.run, &format!("isas-{}", task.name));
    let times: Vec<(Isa, f64)> = entries.iter().filter_map(|(p, i)| timed.get(&p.key).map(|us| (*i, *us))).collect();
    let shown: Vec<String> = times.iter().map(|(i, us)| format!("{} {us:.2} µs", i.name())).collect();
    let drop = slower_higher_isas(&times);
    if drop.is_empty() {
        return Ok(Some(format!("{} on {class}, side by side: {}; entries kept", task.name, shown.join(", "))));
    }
    for isa in &drop {
        file.targets.remove(&Target::cpu(*isa, class).key());
    }
    file.write(&task.trace_path).map_err(Error::io("write", &task.trace_path))?;
    let dropped: Vec<&str> = drop.iter().map(|i| i.name()).collect();
    Ok(Some(format!(
        "{} on {class}, side by side: {}; removed the {class} entry of {} (a lower ISA runs faster here)",
        task.name,
        shown.join(", "),
        dropped.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_higher_isa_gives_way_only_beyond_the_margin() {
        // linear0 on Zen 4: AVX2 faster by 6 %: the AVX-512 class entry goes.
        assert_eq!(slower_higher_isas(&[(Isa::Avx512, 4.10), (Isa::Avx2, 3.86)]), vec![Isa::Avx512]);
        // Within 2 %: noise, both stay.
        assert!(slower_higher_isas(&[(Isa::Avx512, 3.90), (Isa::Avx2, 3.86)]).is_empty());
        // The higher ISA faster: nothing goes (the lower entry is never taken).
        assert!(slower_higher_isas(&[(Isa::Avx512, 3.0), (Isa::Avx2, 3.86)]).is_empty());
        assert!(slower_higher_isas(&[]).is_empty());
        assert!(slower_higher_isas(&[(Isa::Avx2, 1.0)]).is_empty());
    }
}
