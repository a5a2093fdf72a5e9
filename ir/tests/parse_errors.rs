//! One test per error of the `tensor_func!` language: the exact message and the
//! exact tokens it points at; several errors come out of one parse.

use kiln_ir::parse::{parse_kernel_str, ParseFailure};

/// Every error of `src` as (message, the source text it spans), in order.
fn errors(src: &str) -> Vec<(String, String)> {
    match parse_kernel_str(src) {
        Ok(k) => panic!("expected errors, parsed:\n{}", k.func),
        Err(f) => f
            .error
            .into_iter()
            .map(|e| (e.to_string(), e.span().source_text().unwrap_or_default()))
            .collect(),
    }
}

/// The single error of `src`: (message, spanned text).
fn error(src: &str) -> (String, String) {
    let mut all = errors(src);
    assert_eq!(all.len(), 1, "expected one error, got {all:#?}");
    all.remove(0)
}

fn failure(src: &str) -> ParseFailure {
    parse_kernel_str(src).expect_err("an error")
}

fn ok(src: &str) {
    if let Err(f) = parse_kernel_str(src) {
        panic!("expected success, got:\n{f}");
    }
}

/// A kernel over `a: [f32; 8, 8]`, `b: [f32; 8]`, `v: [f64; 8]` and the output
/// `c: &mut [f32; 8, 8]` whose body is one `grid(8, 8)` loop nest around `block`.
fn in_block(block_body: &str) -> String {
    format!(
        "fn f(a: [f32; 8, 8], b: [f32; 8], v: [f64; 8], c: &mut [f32; 8, 8]) {{
            for (i, j) in grid(8, 8) {{
                block(\"B\") {{
                    {block_body}
                }}
            }}
        }}"
    )
}

/// `in_block` with the axes `vi`, `vj` declared and one store.
fn store(s: &str) -> String {
    in_block(&format!("let (vi, vj) = axis::remap(\"SS\", (i, j));\n{s}"))
}

/// A body writing `c: [f32; 4]`.
const WRITES_C: &str =
    "{ for i in 0..4 { block(\"C\") { let vi = axis::spatial(4, i); c[vi] = 0.0; } } }";

fn pair(msg: &str, text: &str) -> (String, String) {
    (msg.to_string(), text.to_string())
}

// ---- names ---------------------------------------------------------------

#[test]
fn unknown_buffer() {
    assert_eq!(
        error(&store("c[vi, vj] = d[vi, vj];")),
        pair("unknown buffer `d`", "d")
    );
}

#[test]
fn unknown_variable() {
    assert_eq!(
        error(&store("c[vi, vj] = a[vi, vk];")),
        pair("unknown variable `vk`: not an axis of this block", "vk")
    );
}

#[test]
fn loop_variable_in_block_body() {
    assert_eq!(
        error(&store("c[vi, vj] = a[i, vj];")),
        pair("loop variable `i` cannot be used in a block body; use a block axis bound to `i`, such as `vi`", "i")
    );
    assert_eq!(
        error(&in_block("let vi = axis::spatial(8, i);\nc[vi, j] = 0.0;")),
        pair(
            "loop variable `j` cannot be used in a block body; use a block axis bound to `j`",
            "j"
        )
    );
}

#[test]
fn buffer_used_as_a_value() {
    assert_eq!(
        error(&store("c[vi, vj] = b;")),
        pair("`b` is a buffer; read an element with `b[..]`", "b")
    );
    assert_eq!(
        error(&store("c[vi, vj] = vi[0];")),
        pair("`vi` is a variable, not a buffer", "vi")
    );
}

#[test]
fn duplicate_buffers() {
    assert_eq!(
        error("fn f(a: [f32; 4], a: &mut [f32; 4]) {}"),
        pair("the parameter name `a` is used twice", "a")
    );
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
    assert_eq!(
        error(nested),
        pair("the name `i` is already used by an enclosing loop", "i")
    );
    let pattern = "fn f(c: &mut [f32; 4, 4]) {
        for (i, i) in grid(4, 4) { block(\"C\") { let vi = axis::spatial(4, i); c[vi, 0] = 0.0; } }
    }";
    assert_eq!(
        error(pattern),
        pair("the name `i` is bound twice in this pattern", "i")
    );
}

#[test]
fn loop_variable_shadowing_a_buffer() {
    let src = "fn f(c: &mut [f32; 4]) {
        for c in 0..4 { block(\"C\") { let vi = axis::spatial(4, c); c[vi] = 0.0; } }
    }";
    assert_eq!(
        error(src),
        pair("the name `c` is already used by a buffer", "c")
    );
}

#[test]
fn duplicate_axes() {
    assert_eq!(
        error(&in_block(
            "let (vi, vi) = axis::remap(\"SS\", (i, j));\nc[vi, vi] = 0.0;"
        )),
        pair("the name `vi` is bound twice in this pattern", "vi")
    );
    assert_eq!(
        error(&in_block(
            "let vi = axis::spatial(8, i);\nlet vi = axis::spatial(8, j);\nc[vi, vi] = 0.0;"
        )),
        pair(
            "the name `vi` is already used by an axis of this block",
            "vi"
        )
    );
    assert_eq!(
        error(&in_block(
            "let (i, vj) = axis::remap(\"SS\", (i, j));\nc[i, vj] = 0.0;"
        )),
        pair("the name `i` is already used by an enclosing loop", "i")
    );
}

#[test]
fn raw_identifiers() {
    let src = "fn r#f(r#a: [f32; 4], c: &mut [f32; 4]) {
        for r#i in 0..4 { block(\"C\") { let vi = axis::spatial(4, r#i); c[vi] = r#a[vi]; } }
    }";
    let msg = "raw identifiers are not supported";
    assert_eq!(
        errors(src),
        vec![pair(msg, "r#f"), pair(msg, "r#a"), pair(msg, "r#i")]
    );
}

#[test]
fn duplicate_block_names() {
    let src = "fn f(c: &mut [f32; 4]) {
        for i in 0..4 { block(\"C\") { let vi = axis::spatial(4, i); c[vi] = 0.0; } }
        for i in 0..4 { block(\"C\") { let vi = axis::spatial(4, i); c[vi] = 1.0; } }
    }";
    assert_eq!(
        error(src),
        pair("the block name \"C\" is already used", "\"C\"")
    );
    let bad = "fn f(c: &mut [f32; 4]) { for i in 0..4 { block(\"a b\") { let vi = axis::spatial(4, i); c[vi] = 0.0; } } }";
    assert_eq!(
        error(bad),
        pair(
            "block names must be non-empty and contain only ASCII letters, digits and `_`",
            "\"a b\""
        )
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
    assert!(
        text.contains("for i in range(4):") && text.contains("for i_1 in range(4):"),
        "{text}"
    );
    assert!(text.contains("c[vi_1] = y[vi_1] + T.float32(1)"), "{text}");
}

// ---- indices and bounds --------------------------------------------------

#[test]
fn wrong_number_of_indices() {
    assert_eq!(
        error(&store("c[vi, vj] = a[vi];")),
        pair("`a` has 2 dimensions but is indexed with 1 index", "a[vi]")
    );
    assert_eq!(
        error(&store("c[vi, vj] = b[vi, vj];")),
        pair(
            "`b` has 1 dimension but is indexed with 2 indices",
            "b[vi, vj]"
        )
    );
    assert_eq!(
        error(&store("c[vi] = 0.0;")),
        pair("`c` has 2 dimensions but is indexed with 1 index", "c[vi]")
    );
}

#[test]
fn constant_index_out_of_bounds() {
    assert_eq!(
        error(&store("c[vi, vj] = b[8];")),
        pair(
            "index 8 is out of bounds: dimension 0 of `b` has size 8",
            "8"
        )
    );
    assert_eq!(
        error(&store("c[vi, vj] = a[vi, -1];")),
        pair(
            "index -1 is out of bounds: dimension 1 of `a` has size 8",
            "-1"
        )
    );
}

#[test]
fn index_range_out_of_bounds() {
    assert_eq!(
        error(&store("c[vi, vj] = a[vi + 1, vj];")),
        pair(
            "index out of bounds: it takes values 1..=8 but dimension 0 of `a` has size 8",
            "vi + 1"
        )
    );
    assert_eq!(
        error(&store("c[vi, vj] = b[vi + vj];")),
        pair(
            "index out of bounds: it takes values 0..=14 but dimension 0 of `b` has size 8",
            "vi + vj"
        )
    );
    assert_eq!(
        error(&store("c[vi, vj * 2] = 0.0;")),
        pair(
            "index out of bounds: it takes values 0..=14 but dimension 1 of `c` has size 8",
            "vj * 2"
        )
    );
}

#[test]
fn index_type_and_size() {
    assert_eq!(
        error(&store("c[vi, vj] = b[a[vi, vj]];")),
        pair("a buffer index must be an index expression (of block axes and integer constants), found `f32`", "a[vi, vj]")
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
        pair("an axis binding must be an index expression (of loop variables and integer constants), found `f32`", "i as f32")
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
        pair(
            "index out of bounds: it takes values 0..=32 but dimension 2 of `a` has size 32",
            "vh - 1"
        )
    );
    // Guards on sums of axes (padding fused into a convolution).
    ok(&store(
        "c[vi, vj] = if vi + vj < 8 { b[vi + vj] } else { 0.0 };",
    ));
    // One-axis conditions narrow that axis, in both branches.
    ok(&store(
        "c[vi, vj] = if vi < 4 { b[vi + 4] } else { b[vi - 4] };",
    ));
    assert_eq!(
        error(&store("c[vi, vj] = if vi < 4 { b[vi + 5] } else { 0.0 };")),
        pair(
            "index out of bounds: it takes values 5..=8 but dimension 0 of `b` has size 8",
            "vi + 5"
        )
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
        pair(
            "`init` is only allowed in a block with a reduce axis",
            "init"
        )
    );
}

#[test]
fn init_to_another_element() {
    let body = "let (vi, vk) = axis::remap(\"SR\", (i, j));\ninit { c[vi, 0] = 0.0; }\nc[vi, 1] += a[vi, vk];";
    assert_eq!(
        error(&in_block(body)),
        pair(
            "`init` must store to the element the block stores to",
            "c[vi, 0]"
        )
    );
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
        pair(
            "a block holds exactly one store; split the computation into several blocks",
            "c[vi, vj] = 1.0"
        )
    );
    assert_eq!(
        error(&store("c[vi, vj] = 0.0;\nlet vk = axis::spatial(8, j);")),
        pair(
            "axis declarations must come before `init` and the store",
            "let"
        )
    );
    let late_init = "let (vi, vk) = axis::remap(\"SR\", (i, j));\nc[vi, 0] += a[vi, vk];\ninit { c[vi, 0] = 0.0; }";
    assert_eq!(
        error(&in_block(late_init)),
        pair("`init` must come before the block's store", "init")
    );
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
    assert_eq!(
        error(src),
        pair("intermediate buffer `y` is read but never written", "y[vi]")
    );
    let before = "fn f(a: [f32; 4], c: &mut [f32; 4]) {
        let y = alloc([f32; 4]);
        for i in 0..4 { block(\"C\") { let vi = axis::spatial(4, i); c[vi] = y[vi]; } }
        for i in 0..4 { block(\"Y\") { let vi = axis::spatial(4, i); y[vi] = a[vi]; } }
    }";
    assert_eq!(
        error(before),
        pair(
            "intermediate buffer `y` is read before any block writes it",
            "y[vi]"
        )
    );
    let uninit_sum = "fn f(a: [f32; 4, 4], c: &mut [f32; 4]) {
        let y = alloc([f32; 4]);
        for (i, k) in grid(4, 4) { block(\"Y\") { let (vi, vk) = axis::remap(\"SR\", (i, k)); y[vi] += a[vi, vk]; } }
        for i in 0..4 { block(\"C\") { let vi = axis::spatial(4, i); c[vi] = y[vi]; } }
    }";
    assert_eq!(
        error(uninit_sum),
        pair(
            "intermediate buffer `y` is read before any block writes it",
            "y[vi]"
        )
    );
    ok(&uninit_sum.replace("y[vi] += a", "init { y[vi] = 0.0; } y[vi] += a"));
}

// ---- axes ----------------------------------------------------------------

#[test]
fn axis_bound_to_unknown_loop_variable() {
    assert_eq!(
        error(&in_block("let vi = axis::spatial(8, q);\nc[vi, 0] = 0.0;")),
        pair(
            "unknown loop variable `q`: axes bind to enclosing loop variables",
            "q"
        )
    );
    assert_eq!(
        error(&in_block(
            "let (vi, vj) = axis::remap(\"SS\", (i, q));\nc[vi, vj] = 0.0;"
        )),
        pair(
            "unknown loop variable `q`: axes bind to enclosing loop variables",
            "q"
        )
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
        pair(
            "the binding takes values 0..=7, outside the axis domain 0..4",
            "i"
        )
    );
    ok(&in_block(
        "let vi = axis::spatial(16, i * 2 + 1);\nc[vi / 2, 0] = 0.0;",
    ));
    assert_eq!(
        error(&in_block(
            "let vi = axis::spatial(15, i * 2 + 1);\nc[vi / 2, 0] = 0.0;"
        )),
        pair(
            "the binding takes values 1..=15, outside the axis domain 0..15",
            "i * 2 + 1"
        )
    );
    assert_eq!(
        error(&in_block("let vi = axis::spatial(0, i);\nc[vi, 0] = 0.0;")),
        pair("an axis extent must be positive", "0")
    );
}

#[test]
fn remap_kinds() {
    assert_eq!(
        error(&in_block(
            "let (vi, vj) = axis::remap(\"S\", (i, j));\nc[vi, vj] = 0.0;"
        )),
        pair(
            "the kinds \"S\" declare 1 axes but the pattern binds 2",
            "\"S\""
        )
    );
    assert_eq!(
        error(&in_block(
            "let (vi, vj) = axis::remap(\"SX\", (i, j));\nc[vi, vj] = 0.0;"
        )),
        pair(
            "axis kind `X` is neither `S` (spatial) nor `R` (reduce)",
            "\"SX\""
        )
    );
    assert_eq!(
        error(&in_block(
            "let (vi, vj) = axis::remap(\"SS\", (i));\nc[vi, vj] = 0.0;"
        )),
        pair(
            "`axis::remap` binds 2 axes to 1 loop variables",
            "(\"SS\", (i))"
        )
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
        error(&in_block(
            "let (vi, vj) = axis::spatial(8, i);\nc[vi, vj] = 0.0;"
        )),
        pair(
            "`axis::spatial` declares one axis: `let vi = axis::spatial(128, i);`",
            "(vi, vj)"
        )
    );
}

// ---- loops ---------------------------------------------------------------

fn in_loop(header: &str) -> String {
    format!("fn f(c: &mut [f32; 8]) {{ {header} {{ block(\"C\") {{ let vi = axis::spatial(8, i); c[vi] = 0.0; }} }} }}")
}

#[test]
fn loop_ranges() {
    assert_eq!(
        error(&in_loop("for i in 1..8")),
        pair("loop ranges must start at 0", "1")
    );
    assert_eq!(
        error(&in_loop("for i in 0..n")),
        pair(
            "a loop extent must be an integer literal: extents are static",
            "n"
        )
    );
    assert_eq!(
        error(&in_loop("for i in 0..=7")),
        pair("inclusive ranges are not supported; write `0..n`", "..=")
    );
    assert_eq!(
        error(&in_loop("for i in range(0)")),
        pair("a loop extent must be positive", "0")
    );
    assert_eq!(
        error(&in_loop("for i in range(2, 8)")),
        pair("loop ranges must start at 0", "2")
    );
    ok(&in_loop("for i in range(0, 8)"));
    ok(&in_loop("for i in range(8)"));
    ok(&in_loop("for i in grid(8)"));
}

#[test]
fn grid_arity() {
    assert_eq!(
        error(&in_loop("for (i, j) in grid(8)")),
        pair(
            "`grid` has 1 extent but the pattern binds 2 variables",
            "grid(8)"
        )
    );
    assert_eq!(
        error(&in_loop("for (i, j) in 0..8")),
        pair(
            "a range binds one variable; use `grid(..)` for several",
            "i, j"
        )
    );
}

#[test]
fn loop_and_alloc_placement() {
    assert_eq!(
        errors("fn f(c: &mut [f32; 8]) { for i in 0..8 { } }"),
        vec![
            pair("output `c` is never written", "c"),
            pair("empty loop body", "{ }")
        ]
    );
    let src = "fn f(c: &mut [f32; 8]) { for i in 0..8 { let y = alloc([f32; 8]); block(\"C\") { let vi = axis::spatial(8, i); c[vi] = 0.0; } } }";
    assert_eq!(
        error(src),
        pair(
            "`alloc` is only allowed directly in the function body, outside loops",
            "let y"
        )
    );
}

// ---- signature -----------------------------------------------------------

#[test]
fn dimensions() {
    // The body writes `c`, but the broken shape is not checked further.
    let with = |shape: &str| format!("fn f(c: &mut [f32; {shape}]) {WRITES_C}");
    assert_eq!(error(&with("0")), pair("dimensions must be positive", "0"));
    assert_eq!(
        error(&with("-4")),
        pair("dimensions must be positive", "-4")
    );
    assert_eq!(
        error(&with("4, N")),
        pair(
            "dimensions must be integer literals: shapes are static",
            "N"
        )
    );
    assert_eq!(
        error(&with("")),
        pair("a tensor needs at least one dimension", "[f32; ]")
    );
    assert_eq!(
        error(&with("4294967296")),
        pair("dimension too large: at most 2147483647", "4294967296")
    );
}

#[test]
fn unsupported_dtype() {
    assert_eq!(
        error("fn f(a: [f16; 4], c: &mut [f32; 4]) { for i in 0..4 { block(\"C\") { let vi = axis::spatial(4, i); c[vi] = 0.0; } } }"),
        pair("unsupported element type `f16`; expected f32, f64 or i32", "f16")
    );
}

#[test]
fn signature_shape() {
    assert_eq!(
        error("fn f<T>(c: &mut [f32; 4]) { for i in 0..4 { block(\"C\") { let vi = axis::spatial(4, i); c[vi] = 0.0; } } }").0,
        "tensor functions cannot be generic: shapes and types are static"
    );
    assert_eq!(
        error("fn f(c: &mut [f32; 4]) -> f32 { for i in 0..4 { block(\"C\") { let vi = axis::spatial(4, i); c[vi] = 0.0; } } }"),
        pair("tensor functions return nothing: write results through `&mut` parameters", "-> f32")
    );
    assert_eq!(
        error("fn f(a: &[f32; 4], c: &mut [f32; 4]) { for i in 0..4 { block(\"C\") { let vi = axis::spatial(4, i); c[vi] = 0.0; } } }").0,
        "inputs are written without `&`: `a: [f32; ..]`; outputs are `a: &mut [f32; ..]`"
    );
    assert_eq!(
        error("fn f(a: [f32; 4]) {}"),
        pair(
            "a tensor function needs an output: declare one parameter `name: &mut [f32; ..]`",
            "f(a: [f32; 4])"
        )
    );
    assert_eq!(
        error("struct S;").0,
        "expected `fn`: a `tensor_func!` holds one function, `fn name(params) { .. }`"
    );
}

#[test]
fn trailing_garbage() {
    let src = "fn f(c: &mut [f32; 4]) { for i in 0..4 { block(\"C\") { let vi = axis::spatial(4, i); c[vi] = 0.0; } } } fn g() {}";
    assert_eq!(
        error(src),
        pair("unexpected tokens after the kernel: a `tensor_func!` holds one `fn` and an optional `schedule { .. }`", "fn")
    );
    let two = src.replace("fn g() {}", "schedule { } schedule { }");
    assert_eq!(
        error(&two),
        pair("a kernel has at most one `schedule { .. }`", "schedule")
    );
}

// ---- expressions and types -----------------------------------------------

#[test]
fn unknown_function_and_method() {
    assert_eq!(
        error(&store("c[vi, vj] = tanh(a[vi, vj]);")),
        pair(
            "unknown function `tanh`; the functions are max, min, exp, sqrt, abs and select",
            "tanh"
        )
    );
    assert_eq!(
        error(&store("c[vi, vj] = a[vi, vj].tanh();")),
        pair(
            "unknown method `tanh`; the methods are max, min, exp, sqrt and abs",
            "tanh"
        )
    );
    assert_eq!(
        error(&store("c[vi, vj] = max(a[vi, vj]);")),
        pair("`max` takes 2 arguments, found 1", "max(a[vi, vj])")
    );
    assert_eq!(
        error(&store("c[vi, vj] = a[vi, vj].exp(2.0);")),
        pair("`.exp()` takes 0 arguments, found 1", "a[vi, vj].exp(2.0)")
    );
    assert_eq!(
        error(&store("c[vi, vj] = f32::tanh(a[vi, vj]);")),
        pair(
            "unknown function `f32::tanh`; the functions are max, min, exp, sqrt and abs",
            "tanh"
        )
    );
    assert_eq!(
        error(&store("c[vi, vj] = f32::PI;")),
        pair(
            "unknown constant `f32::PI`; the constants are `f32::`/`f64::` INFINITY, NEG_INFINITY, MAX, MIN, EPSILON and `i32::` MAX, MIN",
            "f32::PI"
        )
    );
}

#[test]
fn dtype_mismatches() {
    assert_eq!(
        error(&store("c[vi, vj] = v[vi];")),
        pair(
            "mismatched types: storing a `f64` value into `c`, which holds `f32`",
            "v[vi]"
        )
    );
    assert_eq!(
        error(&store("c[vi, vj] = a[vi, vj] + v[vj];")),
        pair("mismatched types: `f32` and `f64` operands of `+`", "+")
    );
    assert_eq!(
        error(&store("c[vi, vj] = select(a[vi, vj] < vi, 1.0, 0.0);")),
        pair(
            "mismatched types: `f32` and `index` operands of `<`; convert the index with `as f32`",
            "<"
        )
    );
    assert_eq!(
        error(&store(
            "c[vi, vj] = if a[vi, vj] && vi < 4 { 1.0 } else { 0.0 };"
        )),
        pair("`&&` needs bool operands, found `f32`", "a[vi, vj]")
    );
    assert_eq!(
        error(&store("c[vi, vj] = vi;")),
        pair("mismatched types: storing a `index` value into `c`, which holds `f32`; convert the index with `as f32`", "vi")
    );
    assert_eq!(
        error(&store("c[vi, vj] = (vi + 1).exp();")),
        pair(
            "`exp` needs a `f32` or `f64` argument, found `index`; convert the index with `as f32`",
            "(vi + 1)"
        )
    );
    assert_eq!(
        error(&store("c[vi, vj] = if a[vi, vj] { 1.0 } else { 0.0 };")),
        pair("a condition must be a `bool`, found `f32`", "a[vi, vj]")
    );
    assert_eq!(
        error(&store(
            "c[vi, vj] = if vi < 4 { a[vi, vj] } else { v[vj] };"
        )),
        pair(
            "mismatched types: `f32` and `f64` operands of the branches of a select",
            "if vi < 4 { a[vi, vj] } else { v[vj] }"
        )
    );
    assert_eq!(
        error(&store("c[vi, vj] = !a[vi, vj];")),
        pair(
            "`!` needs a bool operand, found `f32` (bitwise not is not supported)",
            "!a[vi, vj]"
        )
    );
    assert_eq!(
        error(&store("c[vi, vj] = -(vi < 3);")).0,
        "cannot negate a `bool`; use `!`"
    );
    assert_eq!(
        error(&store("c[vi, vj] = a[vi, vj] * 1.0f64;")),
        pair("mismatched types: `f32` and `f64` operands of `*`", "*")
    );
    assert_eq!(
        error(&store("c[vi, vj] = b[vi + 0.5];")),
        pair("expected `index`, found a float literal", "0.5")
    );
    assert_eq!(
        error(&store("c[vi, vj] = b[vi] as usize;")),
        pair(
            "cannot cast to `usize`: casts convert to f32, f64 or i32",
            "usize"
        )
    );
    assert_eq!(
        error(&store("c[vi, vj] = ((vi < 2) as f32);")).0,
        "cannot cast a `bool` to `f32`"
    );
    assert_eq!(
        error(&store("c[vi, vj] = a[vi, vj] + 1e39;")),
        pair("float literal out of range for `f32`", "1e39")
    );
    assert_eq!(
        error(&store("c[vi, vj] = 1u8;")),
        pair(
            "unsupported literal suffix `u8`; use f32, f64 or i32",
            "1u8"
        )
    );
    assert_eq!(
        error(&store("c[vi, vj] = (vi < 2) < true;")).0,
        "`<` cannot compare `bool` values; combine conditions with `&&`, `||` and `!`"
    );
}

#[test]
fn literals_take_their_context_type() {
    ok(&store("c[vi, vj] = 1;"));
    ok(&store("c[vi, vj] = a[vi, vj] * 2 + 0.5;"));
    ok(&store("c[vi, vj] = (vi as f32) * 0.5 + b[vj] / 3.0f32;"));
    ok(&store(
        "c[vi, vj] = max(a[vi, vj], -f32::INFINITY).min(f32::MAX);",
    ));
    ok(&store("c[vi, vj] = f32::max(a[vi, vj], 0.0);"));
    ok(&store("c[vi, vj] = (i32::max(vi as i32, 2) * 2) as f32;"));
    assert_eq!(
        error(&store("c[vi, vj] = f32::max(v[vi], 0.0) as f32;")).0,
        "`f32::max` applied to `f64` values"
    );
    ok(&store("c[vi, vj] = (v[vi] * 2.0) as f32;"));
    // Untyped literals under a cast compute in their own type, as in Rust.
    let k = parse_kernel_str(&store(
        "c[vi, vj] = (7 / 2) as f32 + (0.5 + 1.0) as f32 + 3 as f32;",
    ))
    .unwrap();
    let text = k.func.to_string();
    assert!(
        text.contains("c[vi, vj] = T.Cast(\"float32\", 7 // 2) + (T.float32(0.5) + T.float32(1)) + T.float32(3)"),
        "{text}"
    );
    let k = parse_kernel_str(&store(
        "c[vi, vj] = a[vi, vj] * 2 - b[(vi * 3 + vj) % 8] / 4.0 + (vi / 2) as f32;",
    ))
    .unwrap();
    let text = k.func.to_string();
    assert!(
        text.contains("c[vi, vj] = a[vi, vj] * T.float32(2) - b[(vi * 3 + vj) % 8] / T.float32(4) + T.Cast(\"float32\", vi // 2)"),
        "{text}"
    );
}

#[test]
fn operators() {
    assert_eq!(
        error(&store("c[vi, vj] = if vi < vj < 3 { 1.0 } else { 0.0 };")),
        pair("comparison operators cannot be chained; use `&&`", "<")
    );
    assert_eq!(
        error(&store("c[vi, vj] = b[vi / 0];")),
        pair("division by zero", "0")
    );
    assert_eq!(
        error(&store("c[vi, vj] = if vi < 3 { 1.0 };")),
        pair(
            "`if` without `else` has no value; add an `else` branch",
            "if vi < 3 { 1.0 }"
        )
    );
    assert_eq!(
        error(&store("c[vi, vj] = a[vi, vj] & 1.0;")).0,
        "bitwise operators are not supported; use `&&` and `||` on conditions"
    );
    assert_eq!(
        error(&store("c[vi, vj] = (a[vi, vj], 1.0);")).0,
        "tuples are not supported"
    );
    assert_eq!(
        error(&store("c[vi, vj] = \"x\";")).0,
        "string literals are not expressions"
    );
}

// ---- syntax errors and recovery ------------------------------------------

#[test]
fn syntax_errors() {
    assert_eq!(
        error(&store("c[vi, vj] = a[vi, vj] +;")),
        pair("expected an expression", ";")
    );
    assert_eq!(error(&store("c[vi, vj] = a[vi, vj]")).0, "expected `;`");
    assert_eq!(
        error(&store("c = 0.0;")),
        pair(
            "a store writes one element: index `c` with its axes, `c[vi, ..] = ..`",
            "c"
        )
    );
    assert_eq!(
        error(&store("c[vi, vj] == 0.0;")).0,
        "expected `=`, `+=`, `-=`, `*=` or `/=`"
    );
    assert_eq!(
        error(&in_block("let t = a[i, j];\nc[0, 0] = t;")).0,
        "a `let` in a block declares axes: `let vi = axis::spatial(128, i);` or `let (vi, vj) = axis::remap(\"SS\", (i, j));`"
    );
}

#[test]
fn several_errors_in_one_parse() {
    let src = "fn f(a: [f32; 8], v: [f64; 8], c: &mut [f32; 8], d: &mut [f32; 8]) {
        for i in 0..8 {
            block(\"A\") {
                let vi = axis::spatial(8, i);
                c[vi] = a[vi] + ;
            }
            block(\"B\") {
                let vi = axis::spatial(8, i);
                c[vi] = v[vi];
            }
            block(\"A\") {
                let vi = axis::spatial(8, i);
                d[vi] = a[vi + 1] + a[i];
            }
        }
        for j in 2..8 {
            block(\"D\") {
                let vj = axis::spatial(8, j);
                d[vj] = q[vj];
            }
        }
    } trailing";
    let all = errors(src);
    assert_eq!(
        all,
        vec![
            pair("expected an expression", ";"),
            pair("mismatched types: storing a `f64` value into `c`, which holds `f32`", "v[vi]"),
            pair("the block name \"A\" is already used", "\"A\""),
            pair("index out of bounds: it takes values 1..=8 but dimension 0 of `a` has size 8", "vi + 1"),
            pair("loop variable `i` cannot be used in a block body; use a block axis bound to `i`, such as `vi`", "i"),
            pair("loop ranges must start at 0", "2"),
            pair("unknown buffer `q`", "q"),
            pair(
                "unexpected tokens after the kernel: a `tensor_func!` holds one `fn` and an optional `schedule { .. }`",
                "trailing"
            ),
        ]
    );
    // The combined error reads as one message per line.
    assert_eq!(failure(src).to_string().lines().count(), all.len());
}

#[test]
fn signature_survives_body_errors() {
    let f = failure("/// Doc.\npub(crate) fn k(a: [f32; 4, 2], c: &mut [f64; 4]) { for }");
    let sig = f.sig.expect("the signature parsed");
    assert_eq!(sig.name, "k");
    assert_eq!(sig.attrs.len(), 1);
    assert!(matches!(sig.vis, syn::Visibility::Restricted(_)));
    assert_eq!(sig.params.len(), 2);
    assert_eq!(
        (sig.params[0].shape.clone(), sig.params[0].output),
        (vec![4, 2], false)
    );
    assert_eq!(
        (sig.params[1].dtype, sig.params[1].output),
        (kiln_ir::ir::DataType::F64, true)
    );
    assert!(failure("fn k(a: [f16; 4], c: &mut [f32; 4]) {}")
        .sig
        .is_none());
    assert!(failure("fn k(a [f32; 4], c: &mut [f32; 4]) {}")
        .sig
        .is_none());
}
