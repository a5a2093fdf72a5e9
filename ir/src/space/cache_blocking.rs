//! Cache blocking for the `SSRSRS` tile (GotoBLAS/BLIS's loop structure,
//! expressed as tile decisions of `multi_level_tiling.rs`).
//!
//! The rule's loop order is `S0 S1 R0 S2 R1 S3` — for a product
//! `C[i, j] += A[i, k]·B[k, j]` tiled into `i0..i3`, `j0..j3`, `k0, k1`:
//!
//! ```text
//! i0 j0 | i1 j1 | k0 | i2 j2 | k1 | i3 j3 lane
//! ```
//!
//! Sampled uniformly, the four factors of `i` and of `j` are independent, and
//! the samples that block for the caches are rare: the usual sample walks all
//! of `B` for every few rows of `A`, so `B` streams from L3 once per register
//! tile row — on two cores that is more than L3 delivers. The *blocked* plan
//! fixes the structure and samples only what matters:
//!
//! ```text
//! i0 = m/mc   (row blocks; the parallel loop with threads)
//!   j1 = n/nr   (micro-panels of B: k × nr, reused by every row tile of the block)
//!     i2 = mc/mr   (row tiles: the block of A, mc × k, stays in L2 across the panels)
//!     k0 = k/kc   (BLIS's kc blocks: a micro-panel kc × nr stays in L1)
//!       i2 = mc/mr   (row tiles: the block of A, mc × kc, stays in L2 across the panels)
//!         k1 = kc
//!           i3 = mr, j3 = nr/lanes   (the register tile)
//! ```
//!
//! with `j0 = i1 = j2 = 1`. With `kc = k` (the default) the whole reduction
//! runs inside a row tile and the tile is written back after `k1`; with
//! `kc < k` the accumulators of the row block live in a local buffer between
//! the blocks of `k` (written back per panel), and the code generator keeps
//! each register tile's window of it in registers across `k1`
//! (`codegen/registers.rs`: without it, LLVM kept them there only when it
//! unrolled `i2`, and 16 row tiles per block ran 4× slower on Zen 1).
//! Sampled (one `sample_categorical` each, in this order): the register
//! tile's rows `mr` and vectors, `kc` among `k` and the divisors of `k` from
//! [`MIN_KC`] whose micro-panel fits half of L1, and `mc` among the multiples
//! of `mr` whose block of `A` (`mc × kc`) fits half of L2 — the cache sizes
//! are the tuning machine's (`SpaceOptions::l1_bytes`, `l2_bytes`, read from
//! the OS by the tuner; nominal 32 KiB and 512 KiB for the default schedule,
//! so that builds do not depend on the building machine). With threads, `mc`
//! leaves at least one row block per thread. The perfect-tile decisions that
//! follow are derived from these choices (the trace records both; replay
//! uses the recorded tiles).

use crate::schedule::Schedule;
use crate::target::TileShapes;

use super::common::choose;
use super::{Mode, SpaceError, SpaceOptions};

/// The nominal L2 size (per core) the default schedule assumes.
pub const NOMINAL_L2_BYTES: i64 = 512 * 1024;

/// The nominal L1 data cache size (per core) the default schedule assumes.
pub const NOMINAL_L1_BYTES: i64 = 32 * 1024;

/// The smallest `kc` sampled: a shorter reduction loop pays more for
/// loading and storing the register tile around it (and LLVM unrolls it
/// whole: a kc of 32 took a second to compile).
pub const MIN_KC: i64 = 64;

/// The blocked plan's choices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Blocking {
    /// Register tile rows (`mr`).
    pub rows: i64,
    /// Register tile vectors (`nr / lanes`).
    pub vectors: i64,
    /// Row tiles per row block (`mc / mr`).
    pub row_tiles: i64,
    /// The reduction's block (`kc`; `k` when not blocked).
    pub kc: i64,
}

/// The shape of the product the plan blocks.
#[derive(Clone, Copy, Debug)]
pub struct Product {
    /// Rows (`m`).
    pub rows: i64,
    /// Vectors along the lanes (`⌈n / lanes⌉`).
    pub vectors: i64,
    /// The reduction's extent (`k`).
    pub reduce: i64,
    /// Lanes per vector.
    pub lanes: i64,
    /// Bytes per element.
    pub bytes: i64,
}

fn divisors(n: i64) -> Vec<i64> {
    (1..=n).filter(|d| n % d == 0).collect()
}

/// The index of the largest candidate `<= cap` (0 when none is).
fn largest_at_most(cands: &[i64], cap: i64) -> usize {
    cands.iter().rposition(|c| *c <= cap).unwrap_or(0)
}

/// The row-tile counts (`mc / mr`) whose block of `A` (`mc × kc`) fits half
/// of L2, and that leave one row block per thread where the rows allow it.
pub fn row_tile_candidates(p: &Product, rows: i64, kc: i64, l2_bytes: i64, threads: usize) -> Vec<i64> {
    let tiles = p.rows / rows;
    let fits = |d: &i64| d * rows * kc * p.bytes <= l2_bytes / 2;
    let spread = |d: &i64| tiles / d >= threads as i64;
    let all = divisors(tiles);
    let good: Vec<i64> = all.iter().copied().filter(|d| fits(d) && spread(d)).collect();
    if !good.is_empty() {
        return good;
    }
    let fitting: Vec<i64> = all.iter().copied().filter(fits).collect();
    if fitting.is_empty() {
        vec![1]
    } else {
        fitting
    }
}

/// The `kc` sampled for a register tile of `vectors` vectors: the divisors
/// of `k` from [`MIN_KC`] whose micro-panel of the lane operand
/// (`kc × nr`) fits half of L1, then `k` itself (the default, last).
pub fn kc_candidates(p: &Product, vectors: i64, l1_bytes: i64) -> Vec<i64> {
    let panel = |kc: i64| kc * vectors * p.lanes * p.bytes;
    let mut c: Vec<i64> =
        divisors(p.reduce).into_iter().filter(|d| *d >= MIN_KC && *d < p.reduce && panel(*d) <= l1_bytes / 2).collect();
    c.push(p.reduce);
    c
}

/// Samples the blocked plan (or takes its defaults): four categoricals.
pub fn sample(
    sch: &mut Schedule,
    p: &Product,
    shapes: &TileShapes,
    opts: &SpaceOptions,
    mode: &mut Mode,
) -> Result<Blocking, SpaceError> {
    let row_c: Vec<i64> = divisors(p.rows).into_iter().filter(|d| *d <= shapes.max_rows).collect();
    let rows = choose(sch, &row_c, largest_at_most(&row_c, shapes.rows), mode)?;
    let vec_c: Vec<i64> = divisors(p.vectors).into_iter().filter(|d| *d <= shapes.max_vectors).collect();
    let vectors = choose(sch, &vec_c, largest_at_most(&vec_c, shapes.vectors), mode)?;
    let kc_c = kc_candidates(p, vectors, opts.l1_bytes);
    let kc = choose(sch, &kc_c, kc_c.len() - 1, mode)?;
    let tile_c = row_tile_candidates(p, rows, kc, opts.l2_bytes, opts.threads);
    let row_tiles = choose(sch, &tile_c, tile_c.len() - 1, mode)?;
    Ok(Blocking { rows, vectors, row_tiles, kc })
}

impl Blocking {
    /// The four factors of the row loop (extent `m`).
    pub fn row_tile(&self, m: i64) -> Vec<i64> {
        vec![m / (self.rows * self.row_tiles), 1, self.row_tiles, self.rows]
    }

    /// The four factors of the lane loop (extent `⌈n / lanes⌉` vectors).
    pub fn lane_tile(&self, vectors: i64) -> Vec<i64> {
        vec![1, vectors / self.vectors, 1, self.vectors]
    }

    /// The two factors of the reduction loop (extent `k`): `k/kc` blocks
    /// outside the row tiles, `kc` inside.
    pub fn reduce_tile(&self, k: i64) -> Vec<i64> {
        vec![k / self.kc, self.kc]
    }

    /// Any other spatial loop: outermost.
    pub fn other_tile(extent: i64) -> Vec<i64> {
        vec![extent, 1, 1, 1]
    }
}

/// The blocked plan pays when the operand along the lanes (`k × n`) no
/// longer fits half of L2: then it is blocked by default.
pub fn blocked_by_default(p: &Product, l2_bytes: i64) -> bool {
    p.reduce * p.vectors * p.lanes * p.bytes > l2_bytes / 2 && p.rows >= 16
}

#[cfg(test)]
mod tests {
    use super::*;

    const MM512: Product = Product { rows: 512, vectors: 64, reduce: 512, lanes: 8, bytes: 4 };

    #[test]
    fn the_block_of_a_fits_half_of_l2() {
        // 4 rows × 512 × 4 bytes = 8 KiB per row tile: at most 32 tiles in 256 KiB.
        let c = row_tile_candidates(&MM512, 4, 512, 512 << 10, 1);
        assert_eq!(c, vec![1, 2, 4, 8, 16, 32]);
        // With kc = 128 the block of A is a quarter of that: all 128 tiles fit.
        assert_eq!(*row_tile_candidates(&MM512, 4, 128, 512 << 10, 1).last().unwrap(), 128);
        // A 2 MiB L2 (Sapphire Rapids) holds all 128 row tiles; two threads need two blocks.
        let c = row_tile_candidates(&MM512, 4, 512, 2 << 20, 2);
        assert_eq!(*c.last().unwrap(), 64);
        // Nothing fits: one row tile per block.
        assert_eq!(row_tile_candidates(&MM512, 4, 512, 16 << 10, 1), vec![1]);
    }

    #[test]
    fn the_micro_panel_fits_half_of_l1() {
        // nr = 16 floats: 64 bytes per step of k; 16 KiB hold 256 steps.
        assert_eq!(kc_candidates(&MM512, 2, 32 << 10), vec![64, 128, 256, 512]);
        // A 48 KiB L1 (Sapphire Rapids) and nr = 32 (AVX-512, 2 vectors of 16).
        let zmm = Product { lanes: 16, vectors: 32, ..MM512 };
        assert_eq!(kc_candidates(&zmm, 2, 48 << 10), vec![64, 128, 512]);
        // A short reduction is never blocked.
        let short = Product { reduce: 48, ..MM512 };
        assert_eq!(kc_candidates(&short, 2, 32 << 10), vec![48]);
    }

    #[test]
    fn tiles_multiply_to_the_extents() {
        let b = Blocking { rows: 4, vectors: 2, row_tiles: 16, kc: 128 };
        assert_eq!(b.row_tile(512), vec![8, 1, 16, 4]);
        assert_eq!(b.lane_tile(64), vec![1, 32, 1, 2]);
        assert_eq!(b.reduce_tile(512), vec![4, 128]);
        for (t, e) in [(b.row_tile(512), 512), (b.lane_tile(64), 64), (b.reduce_tile(512), 512)] {
            assert_eq!(t.iter().product::<i64>(), e);
        }
    }

    /// The extents of the product's loops in the default program, outermost first.
    fn default_loops(m: i64, threads: usize) -> (Vec<i64>, crate::ir::PrimFunc, crate::trace::Trace) {
        let func = crate::schedule::testing::matmul(m, m, m);
        let opts = SpaceOptions::threads(crate::target::Isa::Avx2, threads);
        let sch = crate::space::default_trace(&func, &opts).unwrap();
        let f = sch.func().clone();
        let loops: Vec<i64> = f.loops_of_block("C_update").unwrap().iter().map(|l| l.extent).collect();
        (loops, f, sch.trace().clone())
    }

    #[test]
    fn the_default_program_of_a_large_product_is_blocked() {
        // 512³ on AVX2: 4 × 16 register tile, kc = 512, mc = 128 (A's block is
        // 256 KiB: half the nominal L2); the panels of B loop outside the row tiles.
        let (loops, f, trace) = default_loops(512, 1);
        assert_eq!(loops, vec![4, 1, 1, 32, 1, 32, 1, 512, 4, 2, 8]);
        // The same decisions rebuild the same program (the tuner's mutations).
        let decisions: Vec<_> = trace.decisions().into_iter().map(|d| d.cloned()).collect();
        let opts = SpaceOptions::new(crate::target::Isa::Avx2);
        let again = crate::space::regenerate(&crate::schedule::testing::matmul(512, 512, 512), &opts, &decisions, 1);
        assert_eq!(again.unwrap().func(), &f);
        // Two threads: the row blocks and the packing of A and B (both 1 MiB,
        // packed by default) are parallel.
        let (_, f, _) = default_loops(512, 2);
        let parallel = crate::ir::func_to_string(&f).matches("T.parallel").count();
        assert_eq!(parallel, 3, "{}", crate::ir::func_to_string(&f));
        // 128³: B fits L2; the default is not blocked: every register tile
        // is an iteration of the two outermost loops.
        let (loops, _, _) = default_loops(128, 1);
        assert_eq!(loops[0] * loops[1], 128 / 4 * 128 / 16, "{loops:?}");
    }

    #[test]
    fn blocked_by_default_when_b_outgrows_l2() {
        assert!(blocked_by_default(&MM512, NOMINAL_L2_BYTES));
        // matmul 128³: B is 64 KiB.
        assert!(!blocked_by_default(
            &Product { rows: 128, vectors: 16, reduce: 128, lanes: 8, bytes: 4 },
            NOMINAL_L2_BYTES
        ));
    }
}
