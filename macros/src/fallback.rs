//! What the macro emits next to its `compile_error!`s: stubs of the kernel's
//! functions, so that callers type-check and the only errors reported are the
//! kernel's own (thiserror's `fallback.rs`).

use proc_macro2::{Delimiter, Span, TokenStream, TokenTree};
use quote::{format_ident, quote};

use kiln_ir::parse::KernelSig;

/// `name`, `try_name` and `try_name_on` with the declared signature and
/// bodies that only panic.
pub fn stub(sig: &KernelSig) -> TokenStream {
    let params: Vec<TokenStream> = sig
        .params
        .iter()
        .map(|p| {
            let n = &p.name;
            let t = format_ident!("{}", p.dtype.rust_name(), span = Span::call_site());
            if p.output {
                quote!(#n: &mut [#t])
            } else {
                quote!(#n: &[#t])
            }
        })
        .collect();
    let attrs = &sig.attrs;
    let vis = &sig.vis;
    emit(quote!(#(#attrs)*), quote!(#vis), &sig.name, &quote!(), &params)
}

/// For a kernel whose signature has an error (so its parameter types are
/// unknown): the three functions, generic over each parameter, so that any
/// call with the right number of arguments type-checks. `None` when not even
/// `fn name(..)` can be found.
pub fn loose_stub(input: TokenStream) -> Option<TokenStream> {
    let toks: Vec<TokenTree> = input.into_iter().collect();
    let fn_at = toks.iter().position(|t| matches!(t, TokenTree::Ident(i) if i == "fn"))?;
    let TokenTree::Ident(name) = toks.get(fn_at + 1)? else { return None };
    // Not a keyword (which `fn` cannot take) nor a raw identifier (which the
    // parser rejected).
    if syn::parse2::<syn::Ident>(TokenTree::Ident(name.clone()).into()).is_err() || name.to_string().starts_with("r#") {
        return None;
    }
    // The visibility, `pub` or `pub(..)` before `fn`; any other qualifier is
    // left out (the stubs are plain functions).
    let head = &toks[..fn_at];
    let vis_at = head.iter().position(|t| matches!(t, TokenTree::Ident(i) if i == "pub"));
    let vis: TokenStream = match vis_at {
        Some(k) => {
            let group = matches!(head.get(k + 1), Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis);
            head[k..k + 1 + usize::from(group)].iter().cloned().collect()
        }
        None => TokenStream::new(),
    };
    // The parameter list is the first parenthesized group after the name.
    let params = toks[fn_at + 2..].iter().find_map(|t| match t {
        TokenTree::Group(g) if g.delimiter() == Delimiter::Parenthesis => Some(g.stream()),
        _ => None,
    })?;
    let mut count = 0;
    let mut pending = false;
    for t in params {
        match t {
            TokenTree::Punct(p) if p.as_char() == ',' => {
                count += usize::from(pending);
                pending = false;
            }
            _ => pending = true,
        }
    }
    count += usize::from(pending);
    let tys: Vec<_> = (0..count).map(|k| format_ident!("__KilnT{}", k)).collect();
    let params: Vec<TokenStream> = tys.iter().map(|t| quote!(_: #t)).collect();
    Some(emit(quote!(), vis, name, &quote!(<#(#tys),*>), &params))
}

fn emit(
    attrs: TokenStream,
    vis: TokenStream,
    name: &proc_macro2::Ident,
    generics: &TokenStream,
    params: &[TokenStream],
) -> TokenStream {
    let try_name = format_ident!("try_{}", name);
    let on_name = format_ident!("try_{}_on", name);
    quote! {
        #attrs
        #[allow(unused_variables, dead_code, clippy::all)]
        #vis fn #name #generics (#(#params),*) {
            ::core::unreachable!("kernel failed to compile")
        }
        #[allow(unused_variables, dead_code, clippy::all)]
        #vis fn #try_name #generics (#(#params),*) -> ::core::result::Result<(), ::kiln::Error> {
            ::core::unreachable!("kernel failed to compile")
        }
        #[allow(unused_variables, dead_code, clippy::all)]
        #vis fn #on_name #generics (__kiln_isa: ::kiln::Isa, #(#params),*) -> ::core::result::Result<(), ::kiln::Error> {
            ::core::unreachable!("kernel failed to compile")
        }
    }
}
