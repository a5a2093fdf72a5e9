//! `get_block`, `get_loops`, `get_producers`, `get_consumers`
//! (primitive/get.rs): they leave the IR alone, record what they return, and
//! replay to the same handles; unknown names, foreign handles and malformed
//! trace instructions are errors that change nothing.

use kiln_ir::ir::{
    Block, BlockRealize, Buffer, Const, DataType, Expr, For, IterKind, IterVar, Load, Param, ParamKind, PrimFunc, Stmt,
    Store, Var,
};
use kiln_ir::schedule::testing::{assert_round_trips, assert_same_results, fails, matmul, replay_fails};
use kiln_ir::schedule::{BlockRV, Factor, Schedule};
use kiln_ir::trace::parse_trace_str;

fn v(n: &str) -> Var {
    Var::new(n)
}

fn load(buf: &str) -> Expr {
    Expr::Load(Load { buffer: buf.into(), dtype: DataType::F32, indices: vec![Expr::var(&v("vi"))] })
}

/// `b = a * 2; c = b + 1; d = b * c`, each block ("B", "C", "D") in its own loop.
fn pipeline(n: i64) -> PrimFunc {
    let stage = |name: &str, out: &str, value: Expr, loop_var: &str| {
        let block = BlockRealize {
            bindings: vec![Expr::var(&v(loop_var))],
            predicate: Expr::true_(),
            block: Block {
                name: name.into(),
                iter_vars: vec![IterVar { var: v("vi"), extent: n, kind: IterKind::Spatial }],
                init: None,
                body: Store { buffer: out.into(), indices: vec![Expr::var(&v("vi"))], value },
                annotations: Default::default(),
            },
        };
        Stmt::For(Box::new(For::new(v(loop_var), n, Stmt::Block(Box::new(block)))))
    };
    let f32c = |x: f32| Expr::Const(Const::F32(x));
    PrimFunc {
        name: "pipeline".into(),
        params: vec![
            Param { buffer: Buffer::new("a", DataType::F32, vec![n]), kind: ParamKind::Input },
            Param { buffer: Buffer::new("d", DataType::F32, vec![n]), kind: ParamKind::Output },
        ],
        allocs: vec![Buffer::new("b", DataType::F32, vec![n]), Buffer::new("c", DataType::F32, vec![n])],
        dims: vec![],
        body: Stmt::Seq(vec![
            stage("B", "b", load("a") * f32c(2.0), "i"),
            stage("C", "c", load("b") + f32c(1.0), "i1"),
            stage("D", "d", load("b") * load("c"), "i2"),
        ]),
        fast_math: false,
    }
}

fn names(sch: &Schedule, blocks: &[BlockRV]) -> Vec<String> {
    blocks.iter().map(|b| sch.block_name(*b).unwrap()).collect()
}

#[test]
fn get_block_and_loops() {
    let func = matmul(16, 8, 4);
    let mut sch = Schedule::new(func.clone(), 0);
    let c = sch.get_block("C").unwrap();
    assert_eq!(sch.block_name(c).unwrap(), "C");
    let l = sch.get_loops(c).unwrap();
    assert_eq!(l.iter().map(|l| sch.loop_name(*l).unwrap()).collect::<Vec<_>>(), ["i", "j", "k"]);
    assert_eq!(sch.func(), &func, "lookups do not change the IR");
    // A second lookup gives new handles to the same block and loops.
    let c2 = sch.get_block("C").unwrap();
    assert_ne!(c, c2);
    let l2 = sch.get_loops(c2).unwrap();
    assert_eq!(sch.loop_name(l2[2]).unwrap(), "k");
    insta::assert_snapshot!("get_block_loops_trace", sch.trace().to_string());
    assert_round_trips(&func, &sch);
}

#[test]
fn get_loops_sees_the_current_nest() {
    let func = matmul(10, 37, 3);
    let mut sch = Schedule::new(func.clone(), 0);
    let c = sch.get_block("C").unwrap();
    let l = sch.get_loops(c).unwrap();
    let js = sch.split(l[1], &[None, Some(Factor::Int(8))]).unwrap();
    sch.reorder(&[l[2], js[1]]).unwrap();
    sch.decompose_reduction(c, l[2]).unwrap();
    let loop_names = |sch: &mut Schedule, b: BlockRV| {
        let ls = sch.get_loops(b).unwrap();
        ls.iter().map(|l| sch.loop_name(*l).unwrap()).collect::<Vec<_>>()
    };
    assert_eq!(loop_names(&mut sch, c), ["i", "j_0", "k", "j_1"]);
    let init = sch.get_block("C_init").unwrap();
    assert_eq!(loop_names(&mut sch, init), ["i", "j_0", "j_1_init"]);
    assert_round_trips(&func, &sch);
}

#[test]
fn producers_and_consumers_in_program_order() {
    let func = pipeline(16);
    let mut sch = Schedule::new(func.clone(), 0);
    let [b, c, d] = ["B", "C", "D"].map(|n| sch.get_block(n).unwrap());
    let got = sch.get_producers(d).unwrap();
    assert_eq!(names(&sch, &got), ["B", "C"]);
    let got = sch.get_consumers(b).unwrap();
    assert_eq!(names(&sch, &got), ["C", "D"]);
    let got = sch.get_producers(c).unwrap();
    assert_eq!(names(&sch, &got), ["B"]);
    let got = sch.get_consumers(c).unwrap();
    assert_eq!(names(&sch, &got), ["D"]);
    // Blocks reading only inputs, or writing only outputs, have none.
    assert!(sch.get_producers(b).unwrap().is_empty());
    assert!(sch.get_consumers(d).unwrap().is_empty());
    assert_eq!(sch.func(), &func);
    insta::assert_snapshot!("producers_consumers_trace", sch.trace().to_string());
    assert_round_trips(&func, &sch);

    // The interpreter agrees that nothing changed.
    assert_same_results(&func, sch.func());
}

#[test]
fn init_and_update_blocks_depend_on_each_other() {
    // A reduction block does not count itself; after decompose_reduction the
    // init block produces what the update block reads.
    let func = matmul(8, 8, 8);
    let mut sch = Schedule::new(func.clone(), 0);
    let c = sch.get_block("C").unwrap();
    assert!(sch.get_producers(c).unwrap().is_empty());
    assert!(sch.get_consumers(c).unwrap().is_empty());
    let l = sch.get_loops(c).unwrap();
    let init = sch.decompose_reduction(c, l[2]).unwrap();
    let got = sch.get_producers(c).unwrap();
    assert_eq!(names(&sch, &got), ["C_init"]);
    let got = sch.get_consumers(init).unwrap();
    assert_eq!(names(&sch, &got), ["C_update"]);
    assert_round_trips(&func, &sch);
}

// ---- failures ----

#[test]
fn an_unknown_block_is_an_error() {
    let mut sch = Schedule::new(matmul(8, 8, 8), 0);
    let err = fails(&mut sch, "UnknownBlock", |s| s.get_block("D"));
    assert_eq!(err.to_string(), "no block is named \"D\"");
    // Renamed by decompose_reduction: the old name is gone.
    let c = sch.get_block("C").unwrap();
    let l = sch.get_loops(c).unwrap();
    sch.decompose_reduction(c, l[0]).unwrap();
    fails(&mut sch, "UnknownBlock", |s| s.get_block("C"));
    sch.get_block("C_update").unwrap();
}

#[test]
fn a_handle_from_another_schedule_is_a_bad_handle() {
    // b4 is a block in `other`; in `sch` the fourth handle is a loop, and there is no fifth.
    let mut other = Schedule::new(pipeline(8), 0);
    let ob: Vec<BlockRV> = ["B", "C", "D", "B", "C"].iter().map(|n| other.get_block(n).unwrap()).collect();
    let mut sch = Schedule::new(matmul(8, 8, 8), 0);
    let c = sch.get_block("C").unwrap();
    sch.get_loops(c).unwrap();
    let err = fails(&mut sch, "BadHandle", |s| s.get_loops(ob[3]));
    assert_eq!(err.to_string(), "b3 is not a block handle");
    fails(&mut sch, "BadHandle", |s| s.get_producers(ob[4]));
    fails(&mut sch, "BadHandle", |s| s.get_consumers(ob[4]));
}

#[test]
fn malformed_get_instructions_are_bad_instructions() {
    let prefix = "b0 = sch.get_block(name=\"C\", func_name=\"main\")\nl1, l2, l3 = sch.get_loops(block=b0)\n";
    for line in [
        "b4 = sch.get_block(name=1, func_name=\"main\")",
        "b4 = sch.get_block(func_name=\"main\")",
        "l4, l5, l6 = sch.get_loops(block=l1)",
        "l4, l5, l6 = sch.get_loops(block=b7)",
        "l4, l5 = sch.get_loops(block=b0)",
        "l4, l5, l6, l7 = sch.get_loops(block=b0)",
        "b4 = sch.get_producers(block=b0)",
        "sch.get_consumers(block=v2)",
        "sch.get_producers()",
    ] {
        let t = parse_trace_str(&format!("{prefix}{line}")).unwrap();
        let (n, err) = replay_fails(&matmul(8, 8, 8), &t, "BadInstruction");
        assert_eq!(n, 3, "{line}: {err}");
    }
    // A well-formed lookup of a missing block reports the block.
    let t = parse_trace_str("b0 = sch.get_block(name=\"X\", func_name=\"main\")").unwrap();
    let (n, _) = replay_fails(&matmul(8, 8, 8), &t, "UnknownBlock");
    assert_eq!(n, 1);
    // Outputs of the wrong kind do not even parse.
    assert!(parse_trace_str("l0 = sch.get_block(name=\"C\", func_name=\"main\")").is_err());
    assert!(parse_trace_str(&format!("{prefix}b4, b5, b6 = sch.get_loops(block=b0)")).is_err());
}
