//! Helpers shared by the `parse_errors*` tests.

use kiln_ir::parse::{parse_kernel_str, ParseFailure};

/// Every error of `src` as (message, the source text it spans), in order.
pub fn errors(src: &str) -> Vec<(String, String)> {
    match parse_kernel_str(src) {
        Ok(k) => panic!("expected errors, parsed:\n{}", k.func),
        Err(f) => f.error.into_iter().map(|e| (e.to_string(), e.span().source_text().unwrap_or_default())).collect(),
    }
}

/// The single error of `src`: (message, spanned text).
pub fn error(src: &str) -> (String, String) {
    let mut all = errors(src);
    assert_eq!(all.len(), 1, "expected one error, got {all:#?}");
    all.remove(0)
}

pub fn failure(src: &str) -> ParseFailure {
    parse_kernel_str(src).expect_err("an error")
}

pub fn ok(src: &str) {
    if let Err(f) = parse_kernel_str(src) {
        panic!("expected success, got:\n{f}");
    }
}

/// A kernel over `a: [f32; 8, 8]`, `b: [f32; 8]`, `v: [f64; 8]` and the output
/// `c: &mut [f32; 8, 8]` whose body is one `grid(8, 8)` loop nest around `block`.
pub fn in_block(block_body: &str) -> String {
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
pub fn store(s: &str) -> String {
    in_block(&format!("let (vi, vj) = axis::remap(\"SS\", (i, j));\n{s}"))
}

/// A body writing `c: [f32; 4]`.
pub const WRITES_C: &str = "{ for i in 0..4 { block(\"C\") { let vi = axis::spatial(4, i); c[vi] = 0.0; } } }";

pub fn pair(msg: &str, text: &str) -> (String, String) {
    (msg.to_string(), text.to_string())
}
