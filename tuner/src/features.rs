//! Cost-model features of a scheduled function (MetaSchedule's
//! `per_store_feature`, reduced to what decides speed on a CPU core).
//!
//! For the function's main block (the one doing the most arithmetic), and
//! averaged over all blocks weighted by their arithmetic:
//!
//! - **loop structure**: trip count, loop count, vector lanes, unrolled
//!   extent, parallel extent, the innermost serial loop;
//! - **register tile**: accumulator vectors kept in registers, arithmetic
//!   per loaded vector inside the unrolled region;
//! - **memory**: per access (the store and the three largest operands):
//!   stride along the vector loop and along the innermost serial loop, reuse
//!   (iterations of the inner loops that do not move the access), buffer
//!   size; the working set of each loop level and the bytes that must come
//!   from L2 and from memory (the footprint of the outermost level that fits
//!   in L1 / L2, times the trips around it), and the arithmetic intensity
//!   against each.
//!
//! Footprints are the boxes the index expressions span over the inner loops
//! (`Analyzer::range`), so they are exact for affine accesses and an
//! over-estimate otherwise. Every feature is a `f32`; sizes are `log2(1 + x)`.

use kiln_ir::ir::flops::expr_ops;
use kiln_ir::ir::nest::{accesses, footprint, lanes_of, register_run, sites, stride, Access, Site};
use kiln_ir::ir::{ForKind, PrimFunc, Scope, Stmt};
use kiln_ir::space::accumulator_vectors;
use kiln_ir::target::Isa;

/// The features of one block site.
const SITE: usize = 18 + 4 * ACCESS_FEATURES;
/// The number of features [`extract`] returns: the main block's, their
/// mean over all blocks weighted by arithmetic, and six of the function.
pub const COUNT: usize = 2 * SITE + 6;
const ACCESS_FEATURES: usize = 5;

const L1_BYTES: f64 = 32.0 * 1024.0;
const L2_BYTES: f64 = 512.0 * 1024.0;

fn lg(x: f64) -> f32 {
    (1.0 + x.max(0.0)).log2() as f32
}

/// Features of one block site; returns them and the site's arithmetic.
fn site_features(func: &PrimFunc, s: &Site, isa: Isa) -> (Vec<f32>, f64) {
    let loops = &s.loops;
    let trips: f64 = loops.iter().map(|l| l.extent as f64).product();
    let ops = trips * expr_ops(&s.br.block.body.value).max(1) as f64;
    let vec_lanes = lanes_of(loops);
    let unrolled: i64 = loops.iter().filter(|l| l.kind == ForKind::Unrolled).map(|l| l.extent).product();
    let parallel: i64 = loops.iter().filter(|l| l.kind == ForKind::Parallel).map(|l| l.extent).product();
    let run = register_run(loops);
    let k_run = loops.len() - run.len();
    let inner_serial = loops[..k_run].iter().rev().find(|l| l.extent > 1);
    let acc = accesses(func, s.br);
    // Register tile: arithmetic per vector (or broadcast) loaded inside the run.
    let run_iters: f64 = run.iter().map(|l| l.extent as f64).product();
    let vec_var = run.iter().rev().find(|l| l.kind == ForKind::Vectorized).map(|l| l.var.clone());
    let mut loads = 0.0;
    for a in acc.iter().filter(|a| !a.store) {
        let fp = footprint(a, &loops[..k_run], &run);
        let contiguous = vec_var.as_ref().is_some_and(|v| stride(a, v) == 1);
        loads += if contiguous { fp / vec_lanes as f64 } else { fp };
    }
    let run_ops = run_iters * expr_ops(&s.br.block.body.value).max(1) as f64 / vec_lanes as f64;
    // Working sets per loop level and traffic from L2 / memory.
    let level_bytes =
        |k: usize| -> f64 { acc.iter().map(|a| footprint(a, &loops[..k], &loops[k..]) * a.bytes as f64).sum() };
    let traffic = |cap: f64| -> f64 {
        let k = (0..=loops.len()).find(|k| level_bytes(*k) <= cap).unwrap_or(loops.len());
        let outer: f64 = loops[..k].iter().map(|l| l.extent as f64).product();
        level_bytes(k) * outer
    };
    let (t1, t2) = (traffic(L1_BYTES), traffic(L2_BYTES));
    let mut f = vec![
        lg(trips),
        loops.len() as f32,
        loops.iter().filter(|l| l.extent > 1).count() as f32,
        lg(vec_lanes as f64),
        (vec_lanes as f32) / isa.lanes(s.br.block.body.value.dtype()).max(1) as f32,
        lg(unrolled as f64),
        lg(parallel as f64),
        lg(run_iters),
        accumulator_vectors(func, s, isa) as f32,
        lg(inner_serial.map_or(1, |l| l.extent) as f64),
        (run_ops / loads.max(1.0)) as f32,
        lg(loads),
        lg(level_bytes(k_run)),
        lg(inner_serial.map_or(0.0, |_| level_bytes(k_run.saturating_sub(1)))),
        lg(t1),
        lg(t2),
        (ops / t1.max(1.0)) as f32,
        (ops / t2.max(1.0)) as f32,
    ];
    // Per access: the store, then the three largest operands.
    let mut operands: Vec<&Access> = acc.iter().filter(|a| !a.store).collect();
    operands.sort_by_key(|a| std::cmp::Reverse(a.shape.iter().product::<i64>()));
    let picked: Vec<Option<&Access>> =
        std::iter::once(acc.iter().find(|a| a.store)).chain((0..3).map(|i| operands.get(i).copied())).collect();
    for a in picked {
        match a {
            None => f.extend([0.0; ACCESS_FEATURES]),
            Some(a) => {
                let sv = vec_var.as_ref().map_or(0, |v| stride(a, v));
                let si = inner_serial.map_or(0, |l| stride(a, &l.var));
                // Reuse: iterations of the innermost loops that do not move the access.
                let reuse: f64 =
                    loops.iter().rev().take_while(|l| stride(a, &l.var) == 0).map(|l| l.extent as f64).product();
                let total: i64 = a.shape.iter().product();
                let _ = &a.buffer;
                f.extend([
                    lg(sv.unsigned_abs() as f64),
                    lg(si.unsigned_abs() as f64),
                    lg(reuse),
                    lg((total as usize * a.bytes) as f64),
                    if sv == 1 { 1.0 } else { 0.0 },
                ]);
            }
        }
    }
    (f, ops)
}

/// The feature vector of a scheduled function for `isa` ([`COUNT`] values).
pub fn extract(func: &PrimFunc, isa: Isa) -> Vec<f32> {
    let all = sites(func);
    let per: Vec<(Vec<f32>, f64)> = all.iter().map(|s| site_features(func, s, isa)).collect();
    let total_ops: f64 = per.iter().map(|(_, o)| o).sum();
    let main = per.iter().enumerate().max_by(|a, b| a.1 .1.total_cmp(&b.1 .1)).map(|(i, _)| i);
    let mut f = match main {
        Some(i) => per[i].0.clone(),
        None => vec![0.0; SITE],
    };
    // Every block counts (a softmax's reductions are not its biggest block).
    let mut mean = vec![0.0f32; SITE];
    for (p, ops) in &per {
        let w = (ops / total_ops.max(1.0)) as f32;
        for (m, x) in mean.iter_mut().zip(p) {
            *m += w * x;
        }
    }
    f.extend(mean);
    let vector_ops: f64 = all
        .iter()
        .zip(&per)
        .filter(|(s, _)| s.loops.iter().any(|l| l.kind == ForKind::Vectorized))
        .map(|(_, (_, o))| o)
        .sum();
    let locals = func.allocs.iter().filter(|b| b.scope == Scope::Local).count();
    let loops = {
        let mut n = 0;
        func.body.walk(&mut |s, _| n += matches!(s, Stmt::For(_)) as usize);
        n
    };
    f.extend([
        lg(total_ops),
        all.len() as f32,
        locals as f32,
        lg(loops as f64),
        (vector_ops / total_ops.max(1.0)) as f32,
        per.iter().map(|(p, _)| p[6]).fold(0.0, f32::max),
    ]);
    debug_assert_eq!(f.len(), COUNT);
    f
}
