//! Packing parameters ahead of time (TVM's layout rewrite, done at build
//! time): when a schedule copies an input parameter into a packed buffer
//! once per call, at the root of the function — a `cache_read` of the
//! parameter, usually with a `transform_layout` into panels — that copy can
//! run once, ahead of time, for a parameter that does not change between
//! calls (the weights of a layer).
//!
//! [`split`] cuts a scheduled function into the packing stage of each such
//! parameter (`<param>` in, the packed buffer out) and the rest of the
//! function, which takes the packed buffer where it took the parameter. Both
//! are ordinary functions: the code generator emits them like any other, and
//! the interpreter checks that packing then running the rest computes what
//! the whole function computes. The macro builds `<kernel>::pack_<param>` and
//! `<kernel>::with_packed_<param>` from them.
//!
//! A packing stage of parameter `p` is a top-level statement whose only block
//! stores `p`'s elements, unchanged, into an allocated buffer (the *packed*
//! buffer) that no other block writes and that is read only after that
//! statement.

use crate::ir::{Param, ParamKind, PrimFunc, Stmt};

/// A parameter's packing stage, cut out of a scheduled function.
#[derive(Clone, Debug, PartialEq)]
pub struct Packing {
    /// The parameter packed.
    pub param: String,
    /// The packed buffer (an allocation of the scheduled function).
    pub packed: String,
    /// `<kernel>_pack_<param>(param, packed: &mut)`: the stage alone.
    pub pack: PrimFunc,
    /// The scheduled function with the stage removed and the packed buffer a
    /// parameter in the place of `param`.
    pub with_packed: PrimFunc,
}

/// The block name of the single block of a statement, if it has exactly one.
fn single_block(s: &Stmt) -> Option<&crate::ir::BlockRealize> {
    let mut found = None;
    let mut count = 0;
    s.walk(&mut |x, _| {
        if let Stmt::Block(br) = x {
            count += 1;
            found = Some(&**br);
        }
    });
    (count == 1).then_some(found).flatten()
}

/// The packing stages of the input parameters of `func` (at most one per
/// parameter: the first), each with the function that takes the packed
/// buffer instead.
pub fn split(func: &PrimFunc) -> Vec<Packing> {
    let top: Vec<&Stmt> = match &func.body {
        Stmt::Seq(v) => v.iter().collect(),
        s => vec![s],
    };
    let mut out: Vec<Packing> = Vec::new();
    for (pos, s) in top.iter().enumerate() {
        let Some(br) = single_block(s) else { continue };
        let block = &br.block;
        let packed = block.body.buffer.to_string();
        // The stored value is a plain load of an input parameter.
        let crate::ir::Expr::Load(load) = &block.body.value else { continue };
        let param = load.buffer.to_string();
        // (A parameter with a symbolic dimension has no fixed packed size.)
        if block.init.is_some() || block.is_reduction() || !func.is_input(&param) || func.sym_dim_of(&param).is_some() {
            continue;
        }
        if out.iter().any(|p| p.param == param) {
            continue;
        }
        let Some(buf) = func.allocs.iter().find(|b| *b.name == *packed) else { continue };
        if buf.scope != crate::ir::Scope::Global {
            continue;
        }
        // No other block writes the packed buffer, none reads it before the stage,
        // and nothing else reads the parameter.
        let writers = func.blocks().iter().filter(|b| *b.block.body.buffer == *packed).count();
        let read_before = top[..pos].iter().any(|t| reads(t, &packed));
        let param_elsewhere = top.iter().enumerate().any(|(k, t)| k != pos && reads(t, &param));
        if writers != 1 || read_before || param_elsewhere {
            continue;
        }
        let stage = (*s).clone();
        let pack = PrimFunc {
            name: format!("{}_pack_{param}", func.name),
            params: vec![
                Param { buffer: func.param(&param).unwrap().buffer.clone(), kind: ParamKind::Input },
                Param { buffer: buf.clone(), kind: ParamKind::Output },
            ],
            allocs: vec![],
            body: stage,
            dims: vec![],
            fast_math: func.fast_math,
        };
        let rest: Vec<Stmt> = top.iter().enumerate().filter(|(k, _)| *k != pos).map(|(_, t)| (*t).clone()).collect();
        let params = func
            .params
            .iter()
            .map(|p| {
                if *p.buffer.name == *param {
                    Param { buffer: buf.clone(), kind: ParamKind::Input }
                } else {
                    p.clone()
                }
            })
            .collect();
        let with_packed = PrimFunc {
            name: func.name.clone(),
            params,
            allocs: func.allocs.iter().filter(|b| *b.name != *packed).cloned().collect(),
            body: Stmt::seq(rest),
            dims: func.dims.clone(),
            fast_math: func.fast_math,
        };
        out.push(Packing { param, packed, pack, with_packed });
    }
    out
}

/// Whether a statement reads `buffer`.
fn reads(s: &Stmt, buffer: &str) -> bool {
    let mut found = false;
    s.walk(&mut |x, _| {
        if let Stmt::Block(br) = x {
            found |= crate::ir::block_read_buffers(&br.block).iter().any(|b| **b == *buffer);
        }
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interp::{self, Tensor};
    use crate::schedule::index_map::IndexMap;
    use crate::schedule::testing::random_args;
    use crate::schedule::{BufferSide, Schedule};

    fn linear() -> PrimFunc {
        crate::schedule::testing::linear_xwt(4, 16, 12)
    }

    fn packed_linear() -> PrimFunc {
        let func = linear();
        let mut sch = Schedule::new(func, 0);
        let y = sch.get_block("Y").unwrap();
        sch.cache_read(y, 1, "global").unwrap();
        let map = IndexMap::parse("lambda j, k: (T.floordiv(j, 8), k, j % 8)").unwrap();
        sch.transform_layout(y, (BufferSide::Read, 1), &map).unwrap();
        sch.into_parts().0
    }

    /// Packing, then running the rest, computes what the whole function computes.
    #[test]
    fn pack_then_run_equals_the_whole() {
        let func = packed_linear();
        let parts = split(&func);
        assert_eq!(parts.len(), 1);
        let p = &parts[0];
        assert_eq!((p.param.as_str(), p.packed.as_str()), ("w", "w_global"));
        assert_eq!(p.pack.params[1].buffer.shape, vec![2, 12, 8]);
        let mut want = random_args(&func, 3);
        interp::run(&func, &mut want).unwrap();
        // pack(w) -> packed; with_packed(x, packed) -> z
        let mut pack_args = vec![want[1].clone(), Tensor::F32(vec![0.0; 2 * 12 * 8])];
        interp::run(&p.pack, &mut pack_args).unwrap();
        let mut got = random_args(&func, 3);
        got[1] = pack_args[1].clone();
        interp::run(&p.with_packed, &mut got).unwrap();
        assert_eq!(got[2], want[2]);
    }

    /// An unscheduled function, or a cache of an output, packs nothing.
    #[test]
    fn nothing_to_pack() {
        let func = linear();
        assert!(split(&func).is_empty());
        let mut sch = Schedule::new(func, 0);
        let y = sch.get_block("Y").unwrap();
        sch.cache_write(y, 0, "global").unwrap();
        assert!(split(sch.func()).is_empty());
    }
}
