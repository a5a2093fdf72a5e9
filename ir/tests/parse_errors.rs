//! One test per error of the `tensor_func!` language, part 1 (names, indices,
//! writes, blocks, axes): the exact message and the exact tokens it points at.
//! Part 2 is `parse_errors_syntax.rs`.

mod common;

use common::parse::*;
use kiln_ir::parse::parse_kernel_str;

// ---- names ---------------------------------------------------------------

#[test]
fn unknown_buffer() {
    assert_eq!(error(&store("c[vi, vj] = d[vi, vj];")), pair("unknown buffer `d`", "d"));
}

#[test]
fn unknown_variable() {
    assert_eq!(error(&store("c[vi, vj] = a[vi, vk];")), pair("unknown variable `vk`: not an axis of this block", "vk"));
}

#[test]
fn loop_variable_in_block_body() {
    assert_eq!(
        error(&store("c[vi, vj] = a[i, vj];")),
        pair("loop variable `i` cannot be used in a block body; use a block axis bound to `i`, such as `vi`", "i")
    );
    assert_eq!(
        error(&in_block("let vi = axis::spatial(8, i);\nc[vi, j] = 0.0;")),
        pair("loop variable `j` cannot be used in a block body; use a block axis bound to `j`", "j")
    );
}

#[test]
fn buffer_used_as_a_value() {
    assert_eq!(error(&store("c[vi, vj] = b;")), pair("`b` is a buffer; read an element with `b[..]`", "b"));
    assert_eq!(error(&store("c[vi, vj] = vi[0];")), pair("`vi` is a variable, not a buffer", "vi"));
}

#[test]
fn duplicate_buffers() {
    assert_eq!(error("fn f(a: [f32; 4], a: &mut [f32; 4]) {}"), pair("the parameter name `a` is used twice", "a"));
    // Uses of the name are not checked: which declaration they mean is unknown.
    let used = "fn f(a: [f32; 4], a: &mut [f32; 4]) {
        for i in 0..4 { block(\"C\") { let vi = axis::spatial(4, i); a[vi] = 1.0; } }
    }";
    assert_eq!(error(used), pair("the parameter name `a` is used twice", "a"));
    let src = "fn f(a: [f32; 4], c: &mut [f32; 4]) {
        let a = alloc([f32; 4]);
        for i in 0..4 { block(\"C\") { let vi = axis::spatial(4, i); c[vi] = a[vi]; } }
    }";
    assert_eq!(error(src), pair("the buffer name `a` is already used", "a"));
}

#[test]
fn duplicate_loop_variables() {
    let nested = "fn f(c: &mut [f32; 4]) {
        for i in 0..4 { for i in 0..4 { block(\"C\") { let vi = axis::spatial(4, i); c[vi] = 0.0; } } }
    }";
    assert_eq!(error(nested), pair("the name `i` is already used by an enclosing loop", "i"));
    let pattern = "fn f(c: &mut [f32; 4, 4]) {
        for (i, i) in grid(4, 4) { block(\"C\") { let vi = axis::spatial(4, i); c[vi, 0] = 0.0; } }
    }";
    assert_eq!(error(pattern), pair("the name `i` is bound twice in this pattern", "i"));
}

#[test]
fn loop_variable_shadowing_a_buffer() {
    let src = "fn f(c: &mut [f32; 4]) {
        for c in 0..4 { block(\"C\") { let vi = axis::spatial(4, c); c[vi] = 0.0; } }
    }";
    assert_eq!(error(src), pair("the name `c` is already used by a buffer", "c"));
}

#[test]
fn duplicate_axes() {
    assert_eq!(
        error(&in_block("let (vi, vi) = axis::remap(\"SS\", (i, j));\nc[vi, vi] = 0.0;")),
        pair("the name `vi` is bound twice in this pattern", "vi")
    );
    assert_eq!(
        error(&in_block("let vi = axis::spatial(8, i);\nlet vi = axis::spatial(8, j);\nc[vi, vi] = 0.0;")),
        pair("the name `vi` is already used by an axis of this block", "vi")
    );
    assert_eq!(
        error(&in_block("let (i, vj) = axis::remap(\"SS\", (i, j));\nc[i, vj] = 0.0;")),
        pair("the name `i` is already used by an enclosing loop", "i")
    );
}

#[test]
fn raw_identifiers() {
    let src = "fn r#f(r#a: [f32; 4], c: &mut [f32; 4]) {
        for r#i in 0..4 { block(\"C\") { let vi = axis::spatial(4, r#i); c[vi] = r#a[vi]; } }
    }";
    let msg = "raw identifiers are not supported";
    assert_eq!(errors(src), vec![pair(msg, "r#f"), pair(msg, "r#a"), pair(msg, "r#i")]);
}

#[test]
fn duplicate_block_names() {
    let src = "fn f(c: &mut [f32; 4]) {
        for i in 0..4 { block(\"C\") { let vi = axis::spatial(4, i); c[vi] = 0.0; } }
        for i in 0..4 { block(\"C\") { let vi = axis::spatial(4, i); c[vi] = 1.0; } }
    }";
    assert_eq!(error(src), pair("the block name \"C\" is already used", "\"C\""));
    let bad =
        "fn f(c: &mut [f32; 4]) { for i in 0..4 { block(\"a b\") { let vi = axis::spatial(4, i); c[vi] = 0.0; } } }";
    assert_eq!(
        error(bad),
        pair("block names must be non-empty and contain only ASCII letters, digits and `_`", "\"a b\"")
    );
}

#[test]
fn sibling_loops_and_axes_may_reuse_names() {
    let src = "fn f(a: [f32; 4], c: &mut [f32; 4]) {
        let y = alloc([f32; 4]);
        for i in 0..4 { block(\"Y\") { let vi = axis::spatial(4, i); y[vi] = a[vi] * 2.0; } }
        for i in 0..4 { block(\"C\") { let vi = axis::spatial(4, i); c[vi] = y[vi] + 1.0; } }
    }";
    let k = parse_kernel_str(src).unwrap();
    let text = k.func.to_string();
    assert!(text.contains("for i in range(4):") && text.contains("for i_1 in range(4):"), "{text}");
    // Axes are scoped to their block: both blocks keep `vi`, as in TVM.
    assert!(text.contains("c[vi] = y[vi] + T.float32(1.0)"), "{text}");
}

// ---- indices and bounds --------------------------------------------------

#[test]
fn wrong_number_of_indices() {
    assert_eq!(error(&store("c[vi, vj] = a[vi];")), pair("`a` has 2 dimensions but is indexed with 1 index", "a[vi]"));
    assert_eq!(
        error(&store("c[vi, vj] = b[vi, vj];")),
        pair("`b` has 1 dimension but is indexed with 2 indices", "b[vi, vj]")
    );
    assert_eq!(error(&store("c[vi] = 0.0;")), pair("`c` has 2 dimensions but is indexed with 1 index", "c[vi]"));
}

#[test]
fn constant_index_out_of_bounds() {
    assert_eq!(
        error(&store("c[vi, vj] = b[8];")),
        pair("index 8 is out of bounds: dimension 0 of `b` has size 8", "8")
    );
    assert_eq!(
        error(&store("c[vi, vj] = a[vi, -1];")),
        pair("index -1 is out of bounds: dimension 1 of `a` has size 8", "-1")
    );
}

#[test]
fn index_range_out_of_bounds() {
    assert_eq!(
        error(&store("c[vi, vj] = a[vi + 1, vj];")),
        pair("index out of bounds: it takes values 1..=8 but dimension 0 of `a` has size 8", "vi + 1")
    );
    assert_eq!(
        error(&store("c[vi, vj] = b[vi + vj];")),
        pair("index out of bounds: it takes values 0..=14 but dimension 0 of `b` has size 8", "vi + vj")
    );
    assert_eq!(
        error(&store("c[vi, vj * 2] = 0.0;")),
        pair("index out of bounds: it takes values 0..=14 but dimension 1 of `c` has size 8", "vj * 2")
    );
}

#[test]
fn index_type_and_size() {
    assert_eq!(
        error(&store("c[vi, vj] = b[a[vi, vj]];")),
        pair(
            "a buffer index must be an index expression (of block axes and integer constants), found `f32`",
            "a[vi, vj]"
        )
    );
    assert_eq!(
        error(&store("c[vi, vj] = b[vi * 1000000000 * 1000000000];")),
        pair(
            "index arithmetic too large: values beyond 4503599627370496 are not supported",
            "vi * 1000000000 * 1000000000"
        )
    );
    assert_eq!(
        error(&in_block("let vi = axis::spatial(8, i as f32);\nc[vi, 0] = 0.0;")),
        pair(
            "an axis binding must be an index expression (of loop variables and integer constants), found `f32`",
            "i as f32"
        )
    );
}

#[test]
fn guarded_indices_are_accepted() {
    let conv_pad = "fn pad(a: [f32; 1, 2, 32, 32], p: &mut [f32; 1, 2, 34, 34]) {
        for (n, c, h, w) in grid(1, 2, 34, 34) {
            block(\"pad\") {
                let (vn, vc, vh, vw) = axis::remap(\"SSSS\", (n, c, h, w));
                p[vn, vc, vh, vw] = if vh >= 1 && vh < 33 && vw >= 1 && vw < 33 { a[vn, vc, vh - 1, vw - 1] } else { 0.0 };
            }
        }
    }";
    ok(conv_pad);
    ok(&conv_pad.replace(
        "if vh >= 1 && vh < 33 && vw >= 1 && vw < 33 { a[vn, vc, vh - 1, vw - 1] } else { 0.0 }",
        "select(1 <= vh && vh <= 32 && 1 <= vw && vw <= 32, a[vn, vc, vh - 1, vw - 1], 0.0)",
    ));
    ok(&conv_pad.replace(
        "if vh >= 1 && vh < 33 && vw >= 1 && vw < 33 { a[vn, vc, vh - 1, vw - 1] } else { 0.0 }",
        "if vh < 1 || vh >= 33 || vw < 1 || vw >= 33 { 0.0 } else { a[vn, vc, vh - 1, vw - 1] }",
    ));
    // A guard that does not cover the access is still an error.
    let half = conv_pad.replace("vh >= 1 && vh < 33 && vw >= 1", "vh >= 1 && vw >= 1");
    assert_eq!(
        error(&half),
        pair("index out of bounds: it takes values 0..=32 but dimension 2 of `a` has size 32", "vh - 1")
    );
    // Guards on sums of axes (padding fused into a convolution).
    ok(&store("c[vi, vj] = if vi + vj < 8 { b[vi + vj] } else { 0.0 };"));
    // One-axis conditions narrow that axis, in both branches.
    ok(&store("c[vi, vj] = if vi < 4 { b[vi + 4] } else { b[vi - 4] };"));
    assert_eq!(
        error(&store("c[vi, vj] = if vi < 4 { b[vi + 5] } else { 0.0 };")),
        pair("index out of bounds: it takes values 5..=8 but dimension 0 of `b` has size 8", "vi + 5")
    );
    // What the ranges cannot express switches the check off rather than guess.
    ok(&store("c[vi, vj] = if vi != 0 { b[vi - 1] } else { 0.0 };"));
}

// ---- writes --------------------------------------------------------------

#[test]
fn writing_an_input() {
    assert_eq!(
        errors(&store("a[vi, vj] = 0.0;")),
        vec![
            pair("output `c` is never written", "c"),
            pair("cannot write to `a`: it is an input; declare it `a: &mut [..]` to make it an output", "a"),
        ]
    );
}

#[test]
fn reduce_axis_indexing_the_output() {
    // One error, at the store, even though `init` repeats the indices.
    let body = "let (vi, vk) = axis::remap(\"SR\", (i, j));\ninit { c[vi, vk] = 0.0; }\nc[vi, vk] += a[vi, vk];";
    let (msg, at) = error(&in_block(body));
    assert!(msg.starts_with("reduce axis `vk` cannot index the stored buffer `c`"), "{msg}");
    assert_eq!(at, "vk");
    assert_eq!(
        error(&in_block("let (vi, vk) = axis::remap(\"SR\", (i, j));\nc[vi, vk] += a[vi, vk];")),
        pair(
            "reduce axis `vk` cannot index the stored buffer `c`: a reduction stores to one element for all values of its reduce axes",
            "vk"
        )
    );
}

#[test]
fn init_without_reduce_axis() {
    assert_eq!(
        error(&store("init { c[vi, vj] = 0.0; }\nc[vi, vj] = a[vi, vj];")),
        pair("`init` is only allowed in a block with a reduce axis", "init")
    );
}

#[test]
fn init_to_another_element() {
    let body = "let (vi, vk) = axis::remap(\"SR\", (i, j));\ninit { c[vi, 0] = 0.0; }\nc[vi, 1] += a[vi, vk];";
    assert_eq!(error(&in_block(body)), pair("`init` must store to the element the block stores to", "c[vi, 0]"));
}

#[test]
fn block_structure() {
    assert_eq!(
        error(&in_block("c[0, 0] = 0.0;")),
        pair(
            "block \"B\" has no axes: declare them with `let vi = axis::spatial(extent, i);` or `axis::remap(..)`",
            "\"B\""
        )
    );
    assert_eq!(
        error(&in_block("let vi = axis::spatial(8, i);")),
        pair("block \"B\" has no store `buf[..] = value;`", "\"B\"")
    );
    assert_eq!(
        error(&store("c[vi, vj] = 0.0;\nc[vi, vj] = 1.0;")),
        pair("a block holds exactly one store; split the computation into several blocks", "c[vi, vj] = 1.0")
    );
    // The second store's buffer is not then reported as never written.
    let two = "fn f(c: &mut [f32; 4], d: &mut [f32; 4]) {
        for i in 0..4 { block(\"C\") { let vi = axis::spatial(4, i); c[vi] = 0.0; d[vi] = 1.0; } }
    }";
    assert_eq!(
        error(two),
        pair("a block holds exactly one store; split the computation into several blocks", "d[vi] = 1.0")
    );
    assert_eq!(
        error(&store("c[vi, vj] = 0.0;\nlet vk = axis::spatial(8, j);")),
        pair("axis declarations must come before `init` and the store", "let")
    );
    let late_init = "let (vi, vk) = axis::remap(\"SR\", (i, j));\nc[vi, 0] += a[vi, vk];\ninit { c[vi, 0] = 0.0; }";
    assert_eq!(error(&in_block(late_init)), pair("`init` must come before the block's store", "init"));
    assert_eq!(
        error(&store("for k in 0..2 { }")),
        pair("a block holds axes, an optional `init` and one store; it cannot contain loops or blocks", "for")
    );
}

#[test]
fn output_never_written() {
    let src = "fn f(a: [f32; 4], c: &mut [f32; 4], d: &mut [f32; 4]) {
        for i in 0..4 { block(\"C\") { let vi = axis::spatial(4, i); c[vi] = a[vi]; } }
    }";
    assert_eq!(error(src), pair("output `d` is never written", "d"));
}

#[test]
fn intermediate_read_but_never_written() {
    let src = "fn f(a: [f32; 4], c: &mut [f32; 4]) {
        let y = alloc([f32; 4]);
        for i in 0..4 { block(\"C\") { let vi = axis::spatial(4, i); c[vi] = a[vi] + y[vi]; } }
    }";
    assert_eq!(error(src), pair("intermediate buffer `y` is read but never written", "y[vi]"));
    let before = "fn f(a: [f32; 4], c: &mut [f32; 4]) {
        let y = alloc([f32; 4]);
        for i in 0..4 { block(\"C\") { let vi = axis::spatial(4, i); c[vi] = y[vi]; } }
        for i in 0..4 { block(\"Y\") { let vi = axis::spatial(4, i); y[vi] = a[vi]; } }
    }";
    assert_eq!(error(before), pair("intermediate buffer `y` is read before any block writes it", "y[vi]"));
    let uninit_sum = "fn f(a: [f32; 4, 4], c: &mut [f32; 4]) {
        let y = alloc([f32; 4]);
        for (i, k) in grid(4, 4) { block(\"Y\") { let (vi, vk) = axis::remap(\"SR\", (i, k)); y[vi] += a[vi, vk]; } }
        for i in 0..4 { block(\"C\") { let vi = axis::spatial(4, i); c[vi] = y[vi]; } }
    }";
    assert_eq!(error(uninit_sum), pair("intermediate buffer `y` is read before any block writes it", "y[vi]"));
    ok(&uninit_sum.replace("y[vi] += a", "init { y[vi] = 0.0; } y[vi] += a"));
}

// ---- axes ----------------------------------------------------------------

#[test]
fn axis_bound_to_unknown_loop_variable() {
    assert_eq!(
        error(&in_block("let vi = axis::spatial(8, q);\nc[vi, 0] = 0.0;")),
        pair("unknown loop variable `q`: axes bind to enclosing loop variables", "q")
    );
    assert_eq!(
        error(&in_block("let (vi, vj) = axis::remap(\"SS\", (i, q));\nc[vi, vj] = 0.0;")),
        pair("unknown loop variable `q`: axes bind to enclosing loop variables", "q")
    );
    assert_eq!(
        error(&in_block("let vi = axis::spatial(8, i);\nlet vj = axis::spatial(8, vi);\nc[vi, vj] = 0.0;")),
        pair("`vi` is an axis of this block; bindings are expressions of the enclosing loop variables", "vi")
    );
    assert_eq!(
        error(&in_block("let vi = axis::spatial(8, b[i]);\nc[vi, 0] = 0.0;")),
        pair("axis bindings cannot read buffers: they are expressions of the enclosing loop variables", "b[i]")
    );
}

#[test]
fn axis_extent_exceeded_by_binding() {
    assert_eq!(
        error(&in_block("let vi = axis::spatial(4, i);\nc[vi, 0] = 0.0;")),
        pair("the binding takes values 0..=7, outside the axis domain 0..4", "i")
    );
    ok(&in_block("let vi = axis::spatial(16, i * 2 + 1);\nc[vi / 2, 0] = 0.0;"));
    assert_eq!(
        error(&in_block("let vi = axis::spatial(15, i * 2 + 1);\nc[vi / 2, 0] = 0.0;")),
        pair("the binding takes values 1..=15, outside the axis domain 0..15", "i * 2 + 1")
    );
    assert_eq!(
        error(&in_block("let vi = axis::spatial(0, i);\nc[vi, 0] = 0.0;")),
        pair("an axis extent must be positive", "0")
    );
}

#[test]
fn remap_kinds() {
    assert_eq!(
        error(&in_block("let (vi, vj) = axis::remap(\"S\", (i, j));\nc[vi, vj] = 0.0;")),
        pair("the kinds \"S\" declare 1 axis but the pattern binds 2", "\"S\"")
    );
    assert_eq!(
        error(&in_block("let (vi, vj) = axis::remap(\"SX\", (i, j));\nc[vi, vj] = 0.0;")),
        pair("axis kind `X` is neither `S` (spatial) nor `R` (reduce)", "\"SX\"")
    );
    assert_eq!(
        error(&in_block("let (vi, vj) = axis::remap(\"SS\", (i));\nc[vi, vj] = 0.0;")),
        pair("`axis::remap` binds 2 axes to 1 loop variable", "(\"SS\", (i))")
    );
    assert_eq!(
        error(&in_block("let vi = axis::remap(\"S\", i + 1);\nc[vi, 0] = 0.0;")),
        pair("`axis::remap` takes loop variables; bind an expression with `axis::spatial(extent, expr)`", "i + 1")
    );
    assert_eq!(
        error(&in_block("let vi = axis::remap(\"S\", i);\nlet vj = axis::grid(8, j);\nc[vi, vj] = 0.0;")),
        pair("unknown axis function `axis::grid`; expected `axis::remap`, `axis::spatial` or `axis::reduce`", "grid")
    );
    assert_eq!(
        error(&in_block("let (vi, vj) = axis::spatial(8, i);\nc[vi, vj] = 0.0;")),
        pair("`axis::spatial` declares one axis: `let vi = axis::spatial(128, i);`", "(vi, vj)")
    );
}
