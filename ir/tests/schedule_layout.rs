//! `transform_layout` (primitive/layout.rs): expected IR, trace round trips,
//! unchanged results, and one failure per check.

use kiln_ir::schedule::index_map::IndexMap;
use kiln_ir::schedule::testing::{assert_round_trips, assert_same_results, fails, matmul};
use kiln_ir::schedule::{BufferSide, Schedule};

fn map(text: &str) -> IndexMap {
    IndexMap::parse(text).unwrap()
}

const PACK_B: &str = "lambda k, j: (T.floordiv(j, 16), k, j % 16)";

/// Packs `b[k, j]` into `b_global[j // 16, k, j % 16]` and gives the matmul a
/// 16-wide vectorized inner loop over the packed panel.
fn pack_b(sch: &mut Schedule, vectorize: bool) {
    let c = sch.get_block("C").unwrap();
    sch.cache_read(c, 1, "global").unwrap();
    sch.transform_layout(c, (BufferSide::Read, 1), &map(PACK_B)).unwrap();
    if vectorize {
        let l = sch.get_loops(c).unwrap();
        let js = sch.split(l[1], &[None, Some(16.into())]).unwrap();
        sch.reorder(&[l[0], js[0], l[2], js[1]]).unwrap();
        sch.decompose_reduction(c, l[2]).unwrap();
        sch.vectorize(js[1]).unwrap();
    }
}

#[test]
fn pack_a_read_only_operand() {
    let mut sch = Schedule::new(matmul(128, 128, 128), 0);
    pack_b(&mut sch, false);
    insta::assert_snapshot!("pack_b_ir", sch.func().to_string());
    insta::assert_snapshot!("pack_b_trace", sch.trace().to_string());
    assert_eq!(sch.func().buffer("b_global").unwrap().shape, [8, 128, 16]);

    let func = matmul(24, 48, 16);
    let mut sch = Schedule::new(func.clone(), 0);
    pack_b(&mut sch, false);
    assert_eq!(sch.func().buffer("b_global").unwrap().shape, [3, 16, 16]);
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);
}

#[test]
fn pack_then_vectorize_the_panel() {
    let mut sch = Schedule::new(matmul(128, 128, 128), 0);
    pack_b(&mut sch, true);
    insta::assert_snapshot!("pack_b_vectorized_ir", sch.func().to_string());

    let func = matmul(8, 32, 12);
    let mut sch = Schedule::new(func.clone(), 0);
    pack_b(&mut sch, true);
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);
}

#[test]
fn transform_through_the_write_side() {
    // The copy block writes the cache: the same buffer seen from its producer.
    let func = matmul(16, 40, 8);
    let mut sch = Schedule::new(func.clone(), 0);
    let c = sch.get_block("C").unwrap();
    let copy = sch.cache_read(c, 1, "global").unwrap();
    sch.transform_layout(copy, (BufferSide::Write, 0), &map("lambda k, j: (T.floordiv(j, 8), k, j % 8)")).unwrap();
    assert_eq!(
        kiln_ir::trace::print_inst_for_error(sch.trace().insts.last().unwrap()),
        "sch.transform_layout(block=b1, buffer=(\"write\", 0), index_map=lambda k, j: (T.floordiv(j, 8), k, j % 8))"
    );
    assert_eq!(sch.func().buffer("b_global").unwrap().shape, [5, 8, 8]);
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);
}

#[test]
fn padding_and_transposing_maps_are_accepted() {
    // 40 = 2 * 16 + 8: the packed buffer has a partially used last panel.
    let func = matmul(8, 40, 8);
    let mut sch = Schedule::new(func.clone(), 0);
    let c = sch.get_block("C").unwrap();
    sch.cache_read(c, 1, "global").unwrap();
    sch.transform_layout(c, (BufferSide::Read, 1), &map(PACK_B)).unwrap();
    assert_eq!(sch.func().buffer("b_global").unwrap().shape, [3, 8, 16]);
    sch.cache_read(c, 0, "global").unwrap();
    sch.transform_layout(c, (BufferSide::Read, 0), &map("lambda i, k: (k, i)")).unwrap();
    assert_eq!(sch.func().buffer("a_global").unwrap().shape, [8, 8]);
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);
}

#[test]
fn other_injective_maps_are_checked_by_enumeration() {
    // Flattening is injective but not a split or reorder: enumeration proves it.
    let func = matmul(8, 16, 12);
    let mut sch = Schedule::new(func.clone(), 0);
    let c = sch.get_block("C").unwrap();
    sch.cache_read(c, 1, "global").unwrap();
    sch.transform_layout(c, (BufferSide::Read, 1), &map("lambda k, j: (k * 16 + j,)")).unwrap();
    assert_eq!(sch.func().buffer("b_global").unwrap().shape, [192]);
    let update = sch.func().block("C").unwrap();
    assert!(update.block.body.value.to_string().contains("b_global[vk * 16 + vj]"), "{}", update.block.body.value);
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);
}

#[test]
fn large_buffers_accept_a_split_and_reorder_without_enumeration() {
    // c has 4097 * 4096 > 2^24 elements.
    let mut sch = Schedule::new(matmul(4097, 4096, 2), 0);
    let c = sch.get_block("C").unwrap();
    sch.cache_write(c, 0, "global").unwrap();
    sch.transform_layout(c, (BufferSide::Write, 0), &map("lambda i, j: (T.floordiv(j, 16), i, j % 16)")).unwrap();
    assert_eq!(sch.func().buffer("c_global").unwrap().shape, [256, 4097, 16]);
}

#[test]
fn large_buffers_accept_mixed_radix_panels_without_enumeration() {
    // The panels of operand packing: j split in three digits, k whole.
    let func = matmul(8, 4096, 4097);
    let mut sch = Schedule::new(func, 0);
    let c = sch.get_block("C").unwrap();
    sch.cache_read(c, 1, "global").unwrap();
    let panels = map("lambda k, j: (T.floordiv(j, 32), k, T.floordiv(j, 8) % 4, j % 8)");
    sch.transform_layout(c, (BufferSide::Read, 1), &panels).unwrap();
    assert_eq!(sch.func().buffer("b_global").unwrap().shape, [128, 4097, 4, 8]);
}

#[test]
fn mixed_radix_panels_keep_results() {
    let func = matmul(5, 24, 7);
    let mut sch = Schedule::new(func.clone(), 0);
    let c = sch.get_block("C").unwrap();
    sch.cache_read(c, 1, "global").unwrap();
    let panels = map("lambda k, j: (T.floordiv(j, 12), k, T.floordiv(j, 4) % 3, j % 4)");
    sch.transform_layout(c, (BufferSide::Read, 1), &panels).unwrap();
    assert_eq!(sch.func().buffer("b_global").unwrap().shape, [2, 7, 3, 4]);
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);
}

// ---- failures: one per condition of `check_transform_layout` ----

fn cached_matmul() -> (Schedule, kiln_ir::schedule::BlockRV) {
    let mut sch = Schedule::new(matmul(32, 32, 32), 0);
    let c = sch.get_block("C").unwrap();
    sch.cache_read(c, 1, "global").unwrap();
    (sch, c)
}

#[test]
fn rejects_an_index_out_of_range() {
    let (mut sch, c) = cached_matmul();
    let err = fails(&mut sch, "IndexOutOfRange", |s| {
        s.transform_layout(c, (BufferSide::Write, 1), &map("lambda i, j: (j, i)"))
    });
    assert!(err.to_string().contains("block \"C\" has 1 write buffer(s), so (\"write\", 1) is out of range"), "{err}");
}

#[test]
fn rejects_a_parameter() {
    let (mut sch, c) = cached_matmul();
    let err =
        fails(&mut sch, "ParamBuffer", |s| s.transform_layout(c, (BufferSide::Read, 0), &map("lambda i, k: (k, i)")));
    assert!(err.to_string().contains("buffer `a` of block \"C\" is a parameter"), "{err}");
}

#[test]
fn rejects_a_map_of_the_wrong_arity() {
    let (mut sch, c) = cached_matmul();
    fails(&mut sch, "ArityMismatch", |s| s.transform_layout(c, (BufferSide::Read, 1), &map("lambda n: (n,)")));
}

#[test]
fn rejects_a_non_constant_divisor() {
    let (mut sch, c) = cached_matmul();
    let m = map("lambda k, j: (T.floordiv(j, k), k)");
    let err = fails(&mut sch, "BadExpression", |s| s.transform_layout(c, (BufferSide::Read, 1), &m));
    assert!(err.to_string().contains("result `T.floordiv(j, k)`"), "{err}");
}

#[test]
fn rejects_a_map_not_starting_at_zero() {
    let (mut sch, c) = cached_matmul();
    let err = fails(&mut sch, "OutOfRange", |s| {
        s.transform_layout(c, (BufferSide::Read, 1), &map("lambda k, j: (k - 1, j)"))
    });
    assert!(err.to_string().contains("result 0 of the index map ranges over -1..=30"), "{err}");
}

#[test]
fn rejects_a_non_injective_map() {
    let (mut sch, c) = cached_matmul();
    let m = map("lambda k, j: (T.floordiv(j, 2), k)");
    let err = fails(&mut sch, "NotInjective", |s| s.transform_layout(c, (BufferSide::Read, 1), &m));
    assert!(err.to_string().contains("sends both `b_global[0, 0]` and `b_global[0, 1]` to [0, 0]"), "{err}");
}

#[test]
fn rejects_digits_that_skip_part_of_a_dimension() {
    // j // 8 and j % 4 leave out the digit (j // 4) % 2: two indices clash.
    let (mut sch, c) = cached_matmul();
    let m = map("lambda k, j: (T.floordiv(j, 8), k, j % 4)");
    fails(&mut sch, "NotInjective", |s| s.transform_layout(c, (BufferSide::Read, 1), &m));
    // On a large buffer, the same shape of map cannot be enumerated: not proven.
    let mut sch = Schedule::new(matmul(4097, 4096, 2), 0);
    let c = sch.get_block("C").unwrap();
    sch.cache_write(c, 0, "global").unwrap();
    let m = map("lambda i, j: (T.floordiv(j, 8), i, j % 4)");
    fails(&mut sch, "CannotProveInjective", |s| s.transform_layout(c, (BufferSide::Write, 0), &m));
}

#[test]
fn rejects_an_unprovable_map_on_a_large_buffer() {
    let mut sch = Schedule::new(matmul(4097, 4096, 2), 0);
    let c = sch.get_block("C").unwrap();
    sch.cache_write(c, 0, "global").unwrap();
    let m = map("lambda i, j: (i + j, j)");
    fails(&mut sch, "CannotProveInjective", |s| s.transform_layout(c, (BufferSide::Write, 0), &m));
}
