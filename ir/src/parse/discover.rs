//! Finding the `tensor_func!` invocations of a Rust source file (the tuner's
//! view of a kernel crate).

use super::{parse_kernel, Kernel, ParseFailure};

/// Every `tensor_func! { .. }` invocation in a Rust source file, in order, with
/// its parse result. Invocations at item level are found, also inside inline
/// `mod m { .. }`; invocations inside function bodies are not. The macro may be
/// named by a path (`kiln::tensor_func!`). The error is for a file that is not
/// valid Rust.
pub fn find_kernels_in_file(src: &str) -> Result<Vec<Result<Kernel, ParseFailure>>, syn::Error> {
    let file = syn::parse_file(src)?;
    let mut out = Vec::new();
    collect(&file.items, &mut out);
    Ok(out)
}

fn collect(items: &[syn::Item], out: &mut Vec<Result<Kernel, ParseFailure>>) {
    for item in items {
        match item {
            syn::Item::Macro(m) if is_tensor_func(&m.mac.path) => {
                out.push(parse_kernel(m.mac.tokens.clone()))
            }
            syn::Item::Mod(m) => {
                if let Some((_, items)) = &m.content {
                    collect(items, out);
                }
            }
            _ => {}
        }
    }
}

fn is_tensor_func(path: &syn::Path) -> bool {
    path.segments
        .last()
        .is_some_and(|s| s.ident == "tensor_func" && s.arguments.is_none())
}
