//! The parser never panics: random token soups and random mutations of the
//! bundled kernels give `Ok` or `Err`, an accepted kernel verifies, prints and
//! runs in the interpreter, and no error is an internal one.

use std::str::FromStr;

use kiln_ir::interp::{self, InterpError, Tensor};
use kiln_ir::ir::{flops, func_to_string};
use kiln_ir::parse::{parse_kernel, parse_kernel_str, Kernel, ParseFailure};
use proc_macro2::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};
use proptest::prelude::*;

const FIXTURES: &[&str] = &[
    include_str!("../../kernels/src/matmul.rs"),
    include_str!("../../kernels/src/matmul_odd.rs"),
    include_str!("../../kernels/src/linear0.rs"),
    include_str!("../../kernels/src/relu.rs"),
    include_str!("../../kernels/src/softmax.rs"),
    include_str!("../../kernels/src/softmax_fast.rs"),
    include_str!("../../kernels/src/rmsnorm.rs"),
    include_str!("../../kernels/src/layernorm.rs"),
    include_str!("../../kernels/src/gelu.rs"),
    include_str!("../../kernels/src/bias_gelu.rs"),
    include_str!("../../kernels/src/conv2d.rs"),
];

const IDENTS: &[&str] = &[
    "fn",
    "for",
    "in",
    "let",
    "block",
    "axis",
    "remap",
    "spatial",
    "reduce",
    "init",
    "grid",
    "range",
    "alloc",
    "schedule",
    "i",
    "j",
    "k",
    "vi",
    "vj",
    "vk",
    "a",
    "b",
    "c",
    "y",
    "max",
    "min",
    "exp",
    "sqrt",
    "abs",
    "select",
    "f32",
    "f64",
    "i32",
    "f16",
    "if",
    "else",
    "as",
    "mut",
    "pub",
    "true",
    "false",
    "INFINITY",
    "NEG_INFINITY",
    "self",
    "r#fn",
    "_",
];
const PUNCTS: &[char] = &['+', '-', '*', '/', '%', '<', '>', '=', '!', '&', '|', '.', ',', ';', ':', '#', '^'];
const LITERALS: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "4",
    "128",
    "-1",
    "-2.5",
    "0.0",
    "1.5",
    "1e40",
    "1.5f32",
    "2f64",
    "7i32",
    "3u8",
    "2147483647",
    "2147483648",
    "4294967296",
    "9223372036854775807",
    "\"SSR\"",
    "\"S\"",
    "\"C\"",
    "\"\"",
    "\"SX\"",
    "'c'",
];

/// The token `n` of the vocabulary (idents, puncts, literals, empty groups).
fn vocab(n: usize, joint: bool) -> TokenTree {
    let n = n % (IDENTS.len() + PUNCTS.len() + LITERALS.len() + 3);
    if n < IDENTS.len() {
        let s = IDENTS[n];
        return match s.strip_prefix("r#") {
            Some(raw) => TokenTree::Ident(Ident::new_raw(raw, Span::call_site())),
            None => TokenTree::Ident(Ident::new(s, Span::call_site())),
        };
    }
    let n = n - IDENTS.len();
    if n < PUNCTS.len() {
        let spacing = if joint { Spacing::Joint } else { Spacing::Alone };
        return TokenTree::Punct(Punct::new(PUNCTS[n], spacing));
    }
    let n = n - PUNCTS.len();
    if n < LITERALS.len() {
        return TokenTree::Literal(Literal::from_str(LITERALS[n]).expect("valid literal"));
    }
    let d = [Delimiter::Parenthesis, Delimiter::Bracket, Delimiter::Brace][n - LITERALS.len()];
    TokenTree::Group(Group::new(d, TokenStream::new()))
}

/// A token stream, flattened so that mutations keep the delimiters balanced.
#[derive(Clone)]
enum Flat {
    Open(Delimiter),
    Close,
    Leaf(TokenTree),
}

fn flatten(ts: TokenStream, out: &mut Vec<Flat>) {
    for tt in ts {
        match tt {
            TokenTree::Group(g) => {
                out.push(Flat::Open(g.delimiter()));
                flatten(g.stream(), out);
                out.push(Flat::Close);
            }
            leaf => out.push(Flat::Leaf(leaf)),
        }
    }
}

fn rebuild(flat: &[Flat]) -> TokenStream {
    let mut stack: Vec<(Option<Delimiter>, Vec<TokenTree>)> = vec![(None, vec![])];
    for f in flat {
        match f {
            Flat::Open(d) => stack.push((Some(*d), vec![])),
            Flat::Close => {
                let (d, toks) = stack.pop().expect("balanced");
                let g = Group::new(d.expect("group"), toks.into_iter().collect());
                stack.last_mut().expect("outer").1.push(TokenTree::Group(g));
            }
            Flat::Leaf(t) => stack.last_mut().expect("outer").1.push(t.clone()),
        }
    }
    stack.pop().expect("root").1.into_iter().collect()
}

/// A mutation: what to do, where (an index into the leaves), with which token.
#[derive(Clone, Debug)]
enum Mutation {
    Delete(usize),
    Replace(usize, usize, bool),
    Insert(usize, usize, bool),
    Duplicate(usize),
    Swap(usize, usize),
    /// Replace an identifier by another identifier of the same kernel.
    Rename(usize, usize),
    /// Replace a literal by a small integer or float.
    Renumber(usize, i8, bool),
}

fn apply(flat: &mut Vec<Flat>, m: &Mutation) {
    let leaves: Vec<usize> = (0..flat.len()).filter(|i| matches!(flat[*i], Flat::Leaf(_))).collect();
    if leaves.is_empty() {
        return;
    }
    let at = |n: usize| leaves[n % leaves.len()];
    match *m {
        Mutation::Delete(p) => {
            flat.remove(at(p));
        }
        Mutation::Replace(p, v, j) => flat[at(p)] = Flat::Leaf(vocab(v, j)),
        Mutation::Insert(p, v, j) => flat.insert(at(p), Flat::Leaf(vocab(v, j))),
        Mutation::Duplicate(p) => {
            let t = flat[at(p)].clone();
            flat.insert(at(p), t);
        }
        Mutation::Swap(p, q) => flat.swap(at(p), at(q)),
        Mutation::Rename(p, q) => {
            let idents: Vec<usize> =
                leaves.iter().copied().filter(|i| matches!(flat[*i], Flat::Leaf(TokenTree::Ident(_)))).collect();
            if !idents.is_empty() {
                let (p, q) = (idents[p % idents.len()], idents[q % idents.len()]);
                flat[p] = flat[q].clone();
            }
        }
        Mutation::Renumber(p, n, float) => {
            let lits: Vec<usize> =
                leaves.iter().copied().filter(|i| matches!(flat[*i], Flat::Leaf(TokenTree::Literal(_)))).collect();
            if !lits.is_empty() {
                let lit =
                    if float { Literal::f64_unsuffixed(n as f64 / 4.0) } else { Literal::i64_unsuffixed(n as i64) };
                flat[lits[p % lits.len()]] = Flat::Leaf(TokenTree::Literal(lit));
            }
        }
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Delete),
        (any::<usize>(), any::<usize>(), any::<bool>()).prop_map(|(p, v, j)| Mutation::Replace(p, v, j)),
        (any::<usize>(), any::<usize>(), any::<bool>()).prop_map(|(p, v, j)| Mutation::Insert(p, v, j)),
        any::<usize>().prop_map(Mutation::Duplicate),
        (any::<usize>(), any::<usize>()).prop_map(|(p, q)| Mutation::Swap(p, q)),
        (any::<usize>(), any::<usize>()).prop_map(|(p, q)| Mutation::Rename(p, q)),
        (any::<usize>(), any::<i8>(), any::<bool>()).prop_map(|(p, n, f)| Mutation::Renumber(p, n, f)),
    ]
}

/// Random token trees: vocabulary tokens and groups of them.
fn soup() -> impl Strategy<Value = TokenStream> {
    let leaf = (any::<usize>(), any::<bool>()).prop_map(|(n, j)| vec![vocab(n, j)]);
    leaf.prop_recursive(5, 120, 12, |inner| {
        (0usize..3, prop::collection::vec(inner, 0..12)).prop_map(|(d, parts)| {
            let d = [Delimiter::Parenthesis, Delimiter::Bracket, Delimiter::Brace][d];
            let stream: TokenStream = parts.into_iter().flatten().collect();
            vec![TokenTree::Group(Group::new(d, stream))]
        })
    })
    .prop_map(|v| v.into_iter().collect())
}

/// What must hold of any parse result.
fn check(result: Result<Kernel, ParseFailure>) {
    match result {
        Err(f) => {
            for e in f.error {
                assert!(!e.to_string().contains("internal error"), "{e}");
            }
        }
        Ok(k) => {
            let _ = func_to_string(&k.func);
            let _ = flops(&k.func);
            let small_buffers = k.func.buffers().all(|b| b.numel() <= 1 << 16);
            let iterations: i64 = k
                .func
                .blocks()
                .iter()
                .map(|br| {
                    let loops = k.func.loops_of_block(&br.block.name).unwrap_or_default();
                    loops.iter().map(|l| l.extent).product::<i64>()
                })
                .sum();
            if small_buffers && iterations <= 1 << 16 {
                let mut args: Vec<Tensor> = k
                    .func
                    .params
                    .iter()
                    .map(|p| Tensor::filled(p.buffer.dtype, p.buffer.numel() as usize, 0.5))
                    .collect();
                match interp::run(&k.func, &mut args) {
                    Ok(()) | Err(InterpError::OutOfBounds { .. }) => {}
                    Err(e) => panic!("accepted kernel fails to run: {e}"),
                }
            }
        }
    }
}

/// The tokens inside the `tensor_func! { .. }` of a fixture.
fn fixture_tokens(src: &str) -> TokenStream {
    let start = src.find("tensor_func! {").expect("invocation") + "tensor_func! ".len();
    let group: TokenStream = src[start..].parse().expect("tokenizes");
    match group.into_iter().next() {
        Some(TokenTree::Group(g)) => g.stream(),
        _ => panic!("no group"),
    }
}

proptest! {
    // 256 cases each; set PROPTEST_CASES for a longer run.

    #[test]
    fn token_soup_never_panics(ts in soup()) {
        check(parse_kernel(ts));
    }

    #[test]
    fn soup_after_a_signature_never_panics(ts in soup()) {
        let mut input: TokenStream = "fn f(a: [f32; 4], c: &mut [f32; 4])".parse().unwrap();
        input.extend([TokenTree::Group(Group::new(Delimiter::Brace, ts))]);
        check(parse_kernel(input));
    }

    #[test]
    fn mutated_kernels_never_panic(
        which in 0..FIXTURES.len(),
        muts in prop::collection::vec(mutation(), 1..5),
    ) {
        let mut flat = Vec::new();
        flatten(fixture_tokens(FIXTURES[which]), &mut flat);
        for m in &muts {
            apply(&mut flat, m);
        }
        check(parse_kernel(rebuild(&flat)));
    }

    #[test]
    fn random_text_never_panics(src in "\\PC{0,200}") {
        check(parse_kernel_str(&src));
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let parens = format!("{}a[vi]{}", "(".repeat(600), ")".repeat(600));
    let negs = format!("{}a[vi]", "-".repeat(5000));
    let chain = vec!["a[vi]"; 5000].join(" + ");
    let methods = format!("a[vi]{}", ".exp()".repeat(3000));
    let ifs = format!("{}a[vi]{}", "if true { ".repeat(300), " } else { 0.0 }".repeat(300));
    for value in [parens, negs, chain, methods, ifs] {
        let src = format!(
            "fn f(a: [f32; 4], c: &mut [f32; 4]) {{ for i in 0..4 {{ block(\"C\") {{ let vi = axis::spatial(4, i); c[vi] = {value}; }} }} }}"
        );
        let err = parse_kernel_str(&src).expect_err("too deep");
        assert!(err.to_string().contains("nested too deeply"), "{err}");
    }
    let loops = format!(
        "fn f(c: &mut [f32; 4]) {{ {} }}",
        (0..300).map(|n| format!("for l{n} in 0..1 {{")).collect::<String>() + &"}".repeat(300)
    );
    let err = parse_kernel_str(&loops).expect_err("too deep");
    assert!(err.to_string().contains("loops nested too deeply"), "{err}");
}
