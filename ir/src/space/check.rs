//! The checks every point of a design space passes before it is built: its
//! register tile fits the target's vector registers ([`register_use`],
//! [`Isa::check_registers`]) and its straight-line code stays small
//! ([`unrolled_statements`]). The rules apply them to what they sample, the
//! tuner to mutated and custom-space programs: one analysis of the scheduled
//! IR, so both agree.

use crate::ir::nest::{accesses, footprint, lanes_of, register_run, sites, Site};
use crate::ir::{ForKind, PrimFunc, Scope};
use crate::target::{Isa, RegisterUse};

use super::SpaceError;

/// The most straight-line statements a program may unroll to: beyond it,
/// code compiles slowly and thrashes the instruction cache (in a 709-program
/// study the fastest programs of every kernel unrolled 10–520 statements, the
/// slowest-compiling ones up to 8201).
pub const MAX_UNROLLED_STATEMENTS: i64 = 1024;

/// Rejects a program whose register tile would spill or whose unrolled code
/// is too large.
pub fn check_program(func: &PrimFunc, isa: Isa) -> Result<(), SpaceError> {
    isa.check_registers(register_use(func, isa)).map_err(|e| SpaceError::Rejected(e.to_string()))?;
    let n = unrolled_statements(func);
    if n > MAX_UNROLLED_STATEMENTS {
        return Err(SpaceError::Rejected(format!("{n} unrolled statements (at most {MAX_UNROLLED_STATEMENTS})")));
    }
    // A kernel with symbolic dimensions: the schedule must work for every value.
    if !func.dims.is_empty() {
        crate::codegen::lower::lower_checked(func).map_err(SpaceError::Rejected)?;
    }
    Ok(())
}

/// The vector registers of the largest register tile of `func`: for every
/// block that updates a local buffer inside a run of unrolled / vectorized
/// loops, its accumulator vectors, and the operand vectors it loads and
/// reuses across an unrolled loop of the run (so they stay live: the `B`
/// row of a matmul tile, shared by its rows). Operands used once and
/// broadcasts are the one transient register of [`RegisterUse::needed`].
pub fn register_use(func: &PrimFunc, isa: Isa) -> RegisterUse {
    sites(func).iter().map(|s| site_register_use(func, s, isa)).max_by_key(|u| u.needed()).unwrap_or_default()
}

/// The accumulator vectors of one block site (0 unless it accumulates into
/// a local buffer inside a register run).
pub fn accumulator_vectors(func: &PrimFunc, s: &Site, isa: Isa) -> i64 {
    site_register_use(func, s, isa).accumulators
}

fn site_register_use(func: &PrimFunc, s: &Site, isa: Isa) -> RegisterUse {
    let body = &s.br.block.body;
    // Accumulators: a local buffer that the block reads back (an update, not an init).
    let accumulates = body.value.loads().iter().any(|l| l.buffer == body.buffer);
    if !accumulates || func.buffer(&body.buffer).is_none_or(|b| b.scope != Scope::Local) {
        return RegisterUse::default();
    }
    let run = register_run(&s.loops);
    if run.is_empty() {
        return RegisterUse::default();
    }
    let acc = accesses(func, s.br);
    let k = s.loops.len() - run.len();
    let lanes = lanes_of(&run).min(isa.lanes(body.value.dtype()) as i64).max(1);
    let vectors = |elems: f64| (elems as i64 + lanes - 1) / lanes;
    let accumulators = vectors(footprint(&acc[0], &s.loops[..k], &run));
    let vector_loop = run.iter().rev().find(|l| l.kind == ForKind::Vectorized);
    let unrolled: Vec<_> = run.iter().filter(|l| l.kind == ForKind::Unrolled && l.extent > 1).collect();
    let operands = acc[1..]
        .iter()
        .filter(|a| a.buffer != acc[0].buffer)
        .filter(|a| vector_loop.is_some_and(|v| a.indices.iter().any(|e| e.uses_var(&v.var))))
        .filter(|a| unrolled.iter().any(|u| !a.indices.iter().any(|e| e.uses_var(&u.var))))
        .map(|a| vectors(footprint(a, &s.loops[..k], &run)))
        .sum();
    RegisterUse { accumulators, operands }
}

/// The statements the code generator emits as straight-line code: for every
/// block, the iterations of the unrolled loops around it (vector loops count
/// once).
pub fn unrolled_statements(func: &PrimFunc) -> i64 {
    sites(func)
        .iter()
        .map(|s| s.loops.iter().filter(|l| l.kind == ForKind::Unrolled).map(|l| l.extent).product::<i64>())
        .sum()
}
