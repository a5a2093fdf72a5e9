//! One test per error of the `tensor_func!` language, part 2 (loops, the
//! signature, expressions and types, syntax errors and recovery): the exact
//! message and the exact tokens it points at; several errors come out of one
//! parse.

mod common;

use common::parse::*;
use kiln_ir::parse::parse_kernel_str;

// ---- loops ---------------------------------------------------------------

fn in_loop(header: &str) -> String {
    format!("fn f(c: &mut [f32; 8]) {{ {header} {{ block(\"C\") {{ let vi = axis::spatial(8, i); c[vi] = 0.0; }} }} }}")
}

#[test]
fn loop_ranges() {
    assert_eq!(error(&in_loop("for i in 1..8")), pair("loop ranges must start at 0", "1"));
    assert_eq!(
        error(&in_loop("for i in 0..n")),
        pair(
            "unknown dimension `n` in a loop extent: extents are integer literals or symbolic dimensions declared \
             `where n: dim(1..=4096, tune = 64)`",
            "n"
        )
    );
    assert_eq!(error(&in_loop("for i in 0..=7")), pair("inclusive ranges are not supported; write `0..n`", "..="));
    assert_eq!(error(&in_loop("for i in range(0)")), pair("a loop extent must be positive", "0"));
    assert_eq!(error(&in_loop("for i in range(2, 8)")), pair("loop ranges must start at 0", "2"));
    ok(&in_loop("for i in range(0, 8)"));
    ok(&in_loop("for i in range(8)"));
    ok(&in_loop("for i in grid(8)"));
}

#[test]
fn grid_arity() {
    assert_eq!(
        error(&in_loop("for (i, j) in grid(8)")),
        pair("`grid` has 1 extent but the pattern binds 2 variables", "grid(8)")
    );
    assert_eq!(
        error(&in_loop("for (i, j) in 0..8")),
        pair("a range binds one variable; use `grid(..)` for several", "i, j")
    );
}

#[test]
fn loop_and_alloc_placement() {
    assert_eq!(
        errors("fn f(c: &mut [f32; 8]) { for i in 0..8 { } }"),
        vec![pair("output `c` is never written", "c"), pair("empty loop body", "{ }")]
    );
    let src = "fn f(c: &mut [f32; 8]) { for i in 0..8 { let y = alloc([f32; 8]); block(\"C\") { let vi = axis::spatial(8, i); c[vi] = 0.0; } } }";
    assert_eq!(error(src), pair("`alloc` is only allowed directly in the function body, outside loops", "let y"));
}

// ---- signature -----------------------------------------------------------

#[test]
fn dimensions() {
    // The body writes `c`, but the broken shape is not checked further.
    let with = |shape: &str| format!("fn f(c: &mut [f32; {shape}]) {WRITES_C}");
    assert_eq!(error(&with("0")), pair("dimensions must be positive", "0"));
    assert_eq!(error(&with("-4")), pair("dimensions must be positive", "-4"));
    assert_eq!(error(&with("4, N")), pair("a symbolic dimension must be the first dimension: `[f32; N, ..]`", "N"));
    assert_eq!(error(&with("4, N + 1")), pair("dimensions must be integer literals: shapes are static", "N + 1"));
    assert_eq!(error(&with("")), pair("a tensor needs at least one dimension", "[f32; ]"));
    assert_eq!(error(&with("4294967296")), pair("dimension too large: at most 2147483647", "4294967296"));
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
        error(&format!("fn f<T: Copy>(c: &mut [f32; 4]) {WRITES_C}")),
        pair("tensor functions cannot be generic: shapes and types are static", "<T: Copy>")
    );
    assert_eq!(
        error(&format!("fn f(c: &mut [f32; 4]) where f32: Copy {WRITES_C}")),
        pair(
            "expected `dim(min..=max, tune = value)`: the `where` clause of a tensor function declares symbolic \
             dimensions, as in `n: dim(1..=4096, tune = 64)` (there are no trait bounds)",
            "Copy"
        )
    );
    assert_eq!(
        error(&format!("fn f(c: &mut [f32; 4]) where {WRITES_C}")),
        pair("expected a symbolic dimension after `where`: `n: dim(1..=4096, tune = 64)`", "where")
    );
    assert_eq!(
        error("fn f(c: &mut [f32; 4]) -> f32 { for i in 0..4 { block(\"C\") { let vi = axis::spatial(4, i); c[vi] = 0.0; } } }"),
        pair("tensor functions return nothing: write results through `&mut` parameters", "-> f32")
    );
    // Whatever follows `->` up to the body is the return type, even if it is no type.
    assert_eq!(
        error(&format!("fn f(c: &mut [f32; 4]) -> -> Vec<f32> {WRITES_C}")),
        pair("tensor functions return nothing: write results through `&mut` parameters", "-> -> Vec<f32>")
    );
    assert_eq!(
        error(&format!("fn f(c: &mut [f32 4]) {WRITES_C}")),
        pair("expected `;` between the element type and the dimensions: `[f32; 128, 64]`", "4")
    );
    assert_eq!(
        error("fn f(a: &[f32; 4], c: &mut [f32; 4]) { for i in 0..4 { block(\"C\") { let vi = axis::spatial(4, i); c[vi] = 0.0; } } }").0,
        "inputs are written without `&`: `a: [f32; ..]`; outputs are `a: &mut [f32; ..]`"
    );
    assert_eq!(
        error("fn f(a: [f32; 4]) {}"),
        pair("a tensor function needs an output: declare one parameter `name: &mut [f32; ..]`", "f(a: [f32; 4])")
    );
    assert_eq!(error("struct S;").0, "expected `fn`: a `tensor_func!` holds one function, `fn name(params) { .. }`");
}

#[test]
fn trailing_garbage() {
    let src = "fn f(c: &mut [f32; 4]) { for i in 0..4 { block(\"C\") { let vi = axis::spatial(4, i); c[vi] = 0.0; } } } fn g() {}";
    assert_eq!(
        error(src),
        pair(
            "unexpected tokens after the kernel: a `tensor_func!` holds one `fn` and an optional `schedule { .. }`",
            "fn"
        )
    );
    let two = src.replace("fn g() {}", "schedule { } schedule { }");
    assert_eq!(error(&two), pair("a kernel has at most one `schedule { .. }`", "schedule"));
}

// ---- expressions and types -----------------------------------------------

#[test]
fn unknown_function_and_method() {
    let methods = "max, min, exp, ln, sqrt, rsqrt, tanh, sigmoid and abs";
    assert_eq!(
        error(&store("c[vi, vj] = tahn(a[vi, vj]);")),
        pair(
            &format!(
                "unknown function `tahn` (did you mean `tanh`?); the functions are {}",
                methods.replace(" and abs", ", abs and select")
            ),
            "tahn"
        )
    );
    assert_eq!(
        error(&store("c[vi, vj] = a[vi, vj].tahn();")),
        pair(&format!("unknown method `tahn` (did you mean `tanh`?); the methods are {methods}"), "tahn")
    );
    assert_eq!(
        error(&store("c[vi, vj] = a[vi, vj].log();")),
        pair(&format!("unknown method `log` (did you mean `ln`?); the methods are {methods}"), "log")
    );
    assert_eq!(
        error(&store("c[vi, vj] = a[vi, vj].sigmod();")),
        pair(&format!("unknown method `sigmod` (did you mean `sigmoid`?); the methods are {methods}"), "sigmod")
    );
    assert_eq!(
        error(&store("c[vi, vj] = a[vi, vj].cos();")),
        pair(&format!("unknown method `cos`; the methods are {methods}"), "cos")
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
        error(&store("c[vi, vj] = a[vi, vj].tanh(1.0);")),
        pair("`.tanh()` takes 0 arguments, found 1", "a[vi, vj].tanh(1.0)")
    );
    assert_eq!(
        error(&store("c[vi, vj] = f32::tan(a[vi, vj]);")),
        pair(&format!("unknown function `f32::tan` (did you mean `tanh`?); the functions are {methods}"), "tan")
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
        pair("mismatched types: storing a `f64` value into `c`, which holds `f32`", "v[vi]")
    );
    assert_eq!(
        error(&store("c[vi, vj] = a[vi, vj] + v[vj];")),
        pair("mismatched types: `f32` and `f64` operands of `+`", "+")
    );
    assert_eq!(
        error(&store("c[vi, vj] = select(a[vi, vj] < vi, 1.0, 0.0);")),
        pair("mismatched types: `f32` and `index` operands of `<`; convert the index with `as f32`", "<")
    );
    assert_eq!(
        error(&store("c[vi, vj] = if a[vi, vj] && vi < 4 { 1.0 } else { 0.0 };")),
        pair("`&&` needs bool operands, found `f32`", "a[vi, vj]")
    );
    assert_eq!(
        error(&store("c[vi, vj] = vi;")),
        pair(
            "mismatched types: storing a `index` value into `c`, which holds `f32`; convert the index with `as f32`",
            "vi"
        )
    );
    assert_eq!(
        error(&store("c[vi, vj] = (vi + 1).exp();")),
        pair("`exp` needs a `f32` or `f64` argument, found `index`; convert the index with `as f32`", "(vi + 1)")
    );
    assert_eq!(
        error(&store("c[vi, vj] = vi.sigmoid();")),
        pair("`sigmoid` needs a `f32` or `f64` argument, found `index`; convert the index with `as f32`", "vi")
    );
    assert_eq!(
        error(&store("c[vi, vj] = if a[vi, vj] { 1.0 } else { 0.0 };")),
        pair("a condition must be a `bool`, found `f32`", "a[vi, vj]")
    );
    assert_eq!(
        error(&store("c[vi, vj] = if vi < 4 { a[vi, vj] } else { v[vj] };")),
        pair(
            "mismatched types: `f32` and `f64` operands of the branches of a select",
            "if vi < 4 { a[vi, vj] } else { v[vj] }"
        )
    );
    assert_eq!(
        error(&store("c[vi, vj] = !a[vi, vj];")),
        pair("`!` needs a bool operand, found `f32` (bitwise not is not supported)", "!a[vi, vj]")
    );
    assert_eq!(error(&store("c[vi, vj] = -(vi < 3);")).0, "cannot negate a `bool`; use `!`");
    assert_eq!(
        error(&store("c[vi, vj] = a[vi, vj] * 1.0f64;")),
        pair("mismatched types: `f32` and `f64` operands of `*`", "*")
    );
    assert_eq!(error(&store("c[vi, vj] = b[vi + 0.5];")), pair("expected `index`, found a float literal", "0.5"));
    assert_eq!(
        error(&store("c[vi, vj] = b[vi] as usize;")),
        pair("cannot cast to `usize`: casts convert to f32, f64 or i32", "usize")
    );
    assert_eq!(error(&store("c[vi, vj] = ((vi < 2) as f32);")).0, "cannot cast a `bool` to `f32`");
    assert_eq!(error(&store("c[vi, vj] = a[vi, vj] + 1e39;")), pair("float literal out of range for `f32`", "1e39"));
    assert_eq!(error(&store("c[vi, vj] = 1u8;")), pair("unsupported literal suffix `u8`; use f32, f64 or i32", "1u8"));
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
    ok(&store("c[vi, vj] = max(a[vi, vj], -f32::INFINITY).min(f32::MAX);"));
    ok(&store("c[vi, vj] = f32::max(a[vi, vj], 0.0);"));
    ok(&store("c[vi, vj] = (i32::max(vi as i32, 2) * 2) as f32;"));
    assert_eq!(error(&store("c[vi, vj] = f32::max(v[vi], 0.0) as f32;")).0, "`f32::max` applied to `f64` values");
    ok(&store("c[vi, vj] = (v[vi] * 2.0) as f32;"));
    // Untyped literals under a cast compute in their own type, as in Rust.
    let k = parse_kernel_str(&store("c[vi, vj] = (7 / 2) as f32 + (0.5 + 1.0) as f32 + 3 as f32;")).unwrap();
    let text = k.func.to_string();
    assert!(
        text.contains("c[vi, vj] = T.Cast(\"float32\", 7 // 2) + (T.float32(0.5) + T.float32(1.0)) + T.float32(3.0)"),
        "{text}"
    );
    let k =
        parse_kernel_str(&store("c[vi, vj] = a[vi, vj] * 2 - b[(vi * 3 + vj) % 8] / 4.0 + (vi / 2) as f32;")).unwrap();
    let text = k.func.to_string();
    assert!(
        text.contains("c[vi, vj] = a[vi, vj] * T.float32(2.0) - b[(vi * 3 + vj) % 8] / T.float32(4.0) + T.Cast(\"float32\", vi // 2)"),
        "{text}"
    );
}

#[test]
fn operators() {
    assert_eq!(
        error(&store("c[vi, vj] = if vi < vj < 3 { 1.0 } else { 0.0 };")),
        pair("comparison operators cannot be chained; use `&&`", "<")
    );
    assert_eq!(error(&store("c[vi, vj] = b[vi / 0];")), pair("division by zero", "0"));
    assert_eq!(
        error(&store("c[vi, vj] = if vi < 3 { 1.0 };")),
        pair("`if` without `else` has no value; add an `else` branch", "if vi < 3 { 1.0 }")
    );
    assert_eq!(
        error(&store("c[vi, vj] = a[vi, vj] & 1.0;")).0,
        "bitwise operators are not supported; use `&&` and `||` on conditions"
    );
    assert_eq!(error(&store("c[vi, vj] = (a[vi, vj], 1.0);")).0, "tuples are not supported");
    assert_eq!(error(&store("c[vi, vj] = \"x\";")).0, "string literals are not expressions");
}

// ---- syntax errors and recovery ------------------------------------------

#[test]
fn syntax_errors() {
    assert_eq!(error(&store("c[vi, vj] = a[vi, vj] +;")), pair("expected an expression", ";"));
    assert_eq!(error(&store("c[vi, vj] = a[vi, vj]")).0, "expected `;`");
    assert_eq!(
        error(&store("c = 0.0;")),
        pair("a store writes one element: index `c` with its axes, `c[vi, ..] = ..`", "c")
    );
    assert_eq!(error(&store("c[vi, vj] == 0.0;")).0, "expected `=`, `+=`, `-=`, `*=` or `/=`");
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
    assert_eq!((sig.params[0].shape.clone(), sig.params[0].output), (vec![4, 2], false));
    assert_eq!((sig.params[1].dtype, sig.params[1].output), (kiln_ir::ir::DataType::F64, true));
    assert!(failure("fn k(a: [f16; 4], c: &mut [f32; 4]) {}").sig.is_none());
    assert!(failure("fn k(a [f32; 4], c: &mut [f32; 4]) {}").sig.is_none());
}
