//! `cache_read`, `cache_write`, `set_scope` (primitive/cache.rs): expected IR,
//! trace round trips, unchanged results, and one failure per check.

use kiln_ir::ir::{
    Block, BlockRealize, Buffer, Const, DataType, Expr, For, IterKind, IterVar, Load, Param, ParamKind, PrimFunc,
    Scope, Stmt, Store, Var,
};
use kiln_ir::schedule::testing::{assert_round_trips, assert_same_results, fails, matmul};
use kiln_ir::schedule::Schedule;

fn v(n: &str) -> Var {
    Var::new(n)
}

fn load(buf: &str, idx: Vec<Expr>) -> Expr {
    Expr::Load(Load { buffer: buf.into(), dtype: DataType::F32, indices: idx })
}

fn f32c(x: f32) -> Expr {
    Expr::Const(Const::F32(x))
}

/// `b[i] = a[i] * 2; c[i] = b[i] + 1` with `b` an intermediate, the two blocks
/// in one loop (`fused`) or in two top-level loops.
fn two_stage(fused: bool) -> PrimFunc {
    let n = 64;
    let block = |name: &str, out: &str, value: Expr, loop_var: &str| {
        let iv = IterVar { var: v("vi"), extent: n, kind: IterKind::Spatial };
        Stmt::Block(Box::new(BlockRealize {
            bindings: vec![Expr::var(&v(loop_var))],
            predicate: Expr::true_(),
            block: Block {
                name: name.into(),
                iter_vars: vec![iv],
                init: None,
                body: Store { buffer: out.into(), indices: vec![Expr::var(&v("vi"))], value },
                annotations: Default::default(),
            },
        }))
    };
    let vi = || vec![Expr::var(&v("vi"))];
    let body = if fused {
        let b = block("B", "b", load("a", vi()) * f32c(2.0), "i");
        let c = block("C", "c", load("b", vi()) + f32c(1.0), "i");
        Stmt::For(Box::new(For::new(v("i"), n, Stmt::Seq(vec![b, c]))))
    } else {
        let b = block("B", "b", load("a", vi()) * f32c(2.0), "i");
        let c = block("C", "c", load("b", vi()) + f32c(1.0), "i2");
        Stmt::Seq(vec![Stmt::For(Box::new(For::new(v("i"), n, b))), Stmt::For(Box::new(For::new(v("i2"), n, c)))])
    };
    PrimFunc {
        dims: vec![],
        name: "two_stage".into(),
        params: vec![
            Param { buffer: Buffer::new("a", DataType::F32, vec![n]), kind: ParamKind::Input },
            Param { buffer: Buffer::new("c", DataType::F32, vec![n]), kind: ParamKind::Output },
        ],
        allocs: vec![Buffer::new("b", DataType::F32, vec![n])],
        body,
        fast_math: false,
    }
}

fn cache_both_operands(sch: &mut Schedule) {
    let c = sch.get_block("C").unwrap();
    sch.cache_read(c, 0, "global").unwrap();
    sch.cache_read(c, 1, "global").unwrap();
}

#[test]
fn cache_read_both_operands_of_matmul() {
    let mut sch = Schedule::new(matmul(128, 128, 128), 0);
    cache_both_operands(&mut sch);
    insta::assert_snapshot!("cache_read_matmul_ir", sch.func().to_string());
    insta::assert_snapshot!("cache_read_matmul_trace", sch.trace().to_string());

    let func = matmul(32, 24, 16);
    let mut sch = Schedule::new(func.clone(), 0);
    cache_both_operands(&mut sch);
    assert_eq!(sch.func().allocs.iter().map(|b| &*b.name).collect::<Vec<_>>(), ["a_global", "b_global"]);
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);
}

#[test]
fn cache_read_of_an_intermediate_goes_after_its_producer() {
    let func = two_stage(false);
    let mut sch = Schedule::new(func.clone(), 0);
    let c = sch.get_block("C").unwrap();
    let copy = sch.cache_read(c, 0, "local").unwrap();
    assert_eq!(sch.block_name(copy).unwrap(), "b_local");
    assert_eq!(sch.func().body.block_names(), ["B", "b_local", "C"]);
    insta::assert_snapshot!("cache_read_intermediate_ir", sch.func().to_string());
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);
}

fn cache_write_tiled(sch: &mut Schedule, scope: &str) {
    let c = sch.get_block("C").unwrap();
    sch.cache_write(c, 0, scope).unwrap();
    let l = sch.get_loops(c).unwrap();
    let js = sch.split(l[1], &[None, Some(8.into())]).unwrap();
    sch.reorder(&[l[0], js[0], l[2], js[1]]).unwrap();
    sch.decompose_reduction(c, l[2]).unwrap();
}

#[test]
fn cache_write_local_accumulator() {
    let mut sch = Schedule::new(matmul(128, 128, 128), 0);
    cache_write_tiled(&mut sch, "local");
    insta::assert_snapshot!("cache_write_local_ir", sch.func().to_string());
    insta::assert_snapshot!("cache_write_local_trace", sch.trace().to_string());
    let local = sch.func().buffer("c_local").unwrap();
    assert_eq!((local.scope, local.shape.clone()), (Scope::Local, vec![128, 128]));

    let func = matmul(32, 24, 16);
    let mut sch = Schedule::new(func.clone(), 0);
    cache_write_tiled(&mut sch, "local");
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);
}

#[test]
fn cache_write_global() {
    let mut sch = Schedule::new(matmul(128, 128, 128), 0);
    let c = sch.get_block("C").unwrap();
    let wb = sch.cache_write(c, 0, "global").unwrap();
    assert_eq!(sch.block_name(wb).unwrap(), "c_global");
    insta::assert_snapshot!("cache_write_global_ir", sch.func().to_string());

    let func = matmul(16, 8, 24);
    let mut sch = Schedule::new(func.clone(), 0);
    let c = sch.get_block("C").unwrap();
    sch.cache_write(c, 0, "global").unwrap();
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);
}

#[test]
fn cache_write_keeps_later_readers_on_the_buffer() {
    let func = two_stage(false);
    let mut sch = Schedule::new(func.clone(), 0);
    let b = sch.get_block("B").unwrap();
    sch.cache_write(b, 0, "global").unwrap();
    assert_eq!(sch.func().body.block_names(), ["B", "b_global", "C"]);
    let c = sch.func().block("C").unwrap();
    assert!(c.block.body.value.loads().iter().all(|l| &*l.buffer == "b"));
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);
}

#[test]
fn set_scope_of_a_cache() {
    let mut sch = Schedule::new(matmul(64, 64, 64), 0);
    let c = sch.get_block("C").unwrap();
    let copy = sch.cache_read(c, 1, "global").unwrap();
    sch.set_scope(copy, 0, "local").unwrap();
    insta::assert_snapshot!("set_scope_ir", sch.func().to_string());
    assert_eq!(
        kiln_ir::trace::print_inst_for_error(sch.trace().insts.last().unwrap()),
        "sch.set_scope(block=b1, buffer_index=0, storage_scope=\"local\")"
    );
    assert_eq!(sch.func().buffer("b_global").unwrap().scope, Scope::Local);

    let func = two_stage(false);
    let mut sch = Schedule::new(func.clone(), 0);
    let b = sch.get_block("B").unwrap();
    sch.set_scope(b, 0, "local").unwrap();
    assert_eq!(sch.func().buffer("b").unwrap().scope, Scope::Local);
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);
}

// ---- cache_read failures: one per condition of `check_cache_read` ----

#[test]
fn cache_read_rejects_an_index_out_of_range() {
    let mut sch = Schedule::new(matmul(16, 16, 16), 0);
    let c = sch.get_block("C").unwrap();
    let err = fails(&mut sch, "IndexOutOfRange", |s| s.cache_read(c, 2, "global"));
    assert!(err.to_string().contains("block \"C\" reads 2 buffer(s)"), "{err}");
}

#[test]
fn cache_read_rejects_an_unknown_scope() {
    let mut sch = Schedule::new(matmul(16, 16, 16), 0);
    let c = sch.get_block("C").unwrap();
    fails(&mut sch, "UnknownScope", |s| s.cache_read(c, 0, "shared"));
}

#[test]
fn cache_read_rejects_several_writers() {
    let mut sch = Schedule::new(matmul(16, 16, 16), 0);
    let c = sch.get_block("C").unwrap();
    let l = sch.get_loops(c).unwrap();
    sch.decompose_reduction(c, l[2]).unwrap();
    // The update block (no init any more) reads c, which C_init and C_update write.
    let err = fails(&mut sch, "NotSingleWriter", |s| s.cache_read(c, 0, "global"));
    assert!(err.to_string().contains("\"C_init\", \"C_update\""), "{err}");
}

#[test]
fn cache_read_rejects_a_reader_in_the_writers_nest() {
    let mut sch = Schedule::new(two_stage(true), 0);
    let c = sch.get_block("C").unwrap();
    let err = fails(&mut sch, "ReaderNotAfterWriter", |s| s.cache_read(c, 0, "global"));
    assert!(err.to_string().contains("block \"C\" reads `b` before its writer \"B\""), "{err}");
}

// ---- cache_write failures: one per condition of `check_cache_write` ----

#[test]
fn cache_write_rejects_an_index_out_of_range() {
    let mut sch = Schedule::new(matmul(16, 16, 16), 0);
    let c = sch.get_block("C").unwrap();
    fails(&mut sch, "IndexOutOfRange", |s| s.cache_write(c, 1, "local"));
}

#[test]
fn cache_write_rejects_an_unknown_scope() {
    let mut sch = Schedule::new(matmul(16, 16, 16), 0);
    let c = sch.get_block("C").unwrap();
    fails(&mut sch, "UnknownScope", |s| s.cache_write(c, 0, "texture"));
}

#[test]
fn cache_write_rejects_several_writers() {
    let mut sch = Schedule::new(matmul(16, 16, 16), 0);
    let c = sch.get_block("C").unwrap();
    let l = sch.get_loops(c).unwrap();
    sch.decompose_reduction(c, l[2]).unwrap();
    fails(&mut sch, "NotSingleWriter", |s| s.cache_write(c, 0, "local"));
}

#[test]
fn cache_write_rejects_a_block_reading_its_output() {
    // c[i] = c[i] + a[i]: no init, so the cache would be read before being written.
    let mut func = two_stage(false);
    func.body = match func.body {
        Stmt::Seq(mut v) => {
            v.truncate(1);
            Stmt::seq(v)
        }
        other => other,
    };
    func.allocs.clear();
    func.body = func.body.map_blocks(&mut |mut br| {
        br.block.body.buffer = "c".into();
        br.block.body.value = load("c", vec![Expr::var(&v("vi"))]) + load("a", vec![Expr::var(&v("vi"))]);
        br
    });
    let mut sch = Schedule::new(func, 0);
    let b = sch.get_block("B").unwrap();
    fails(&mut sch, "ReadsOwnOutput", |s| s.cache_write(b, 0, "local"));
}

#[test]
fn cache_write_rejects_a_reader_in_the_same_nest() {
    let mut sch = Schedule::new(two_stage(true), 0);
    let b = sch.get_block("B").unwrap();
    let err = fails(&mut sch, "ReaderInSameNest", |s| s.cache_write(b, 0, "local"));
    assert!(err.to_string().contains("block \"C\" reads `b`"), "{err}");
}

// ---- set_scope failures: one per condition of `check_set_scope` ----

#[test]
fn set_scope_rejects_an_index_out_of_range() {
    let mut sch = Schedule::new(two_stage(false), 0);
    let b = sch.get_block("B").unwrap();
    fails(&mut sch, "IndexOutOfRange", |s| s.set_scope(b, 1, "local"));
}

#[test]
fn set_scope_rejects_an_unknown_scope() {
    let mut sch = Schedule::new(two_stage(false), 0);
    let b = sch.get_block("B").unwrap();
    fails(&mut sch, "UnknownScope", |s| s.set_scope(b, 0, "warp"));
}

#[test]
fn set_scope_rejects_a_parameter() {
    let mut sch = Schedule::new(matmul(16, 16, 16), 0);
    let c = sch.get_block("C").unwrap();
    let err = fails(&mut sch, "ParamBuffer", |s| s.set_scope(c, 0, "local"));
    assert!(err.to_string().starts_with("set_scope: buffer `c` written by block \"C\" is a parameter"), "{err}");
}
