//! The builder and the runner contain bad candidates: one that crashes, one
//! that hangs, one that computes the wrong result and one that does not
//! compile are each rejected and reported, and the good ones around them are
//! still measured.

mod common;

use std::time::Duration;

use quote::quote;

use kiln_ir::schedule::testing::matmul;
use kiln_ir::schedule::Schedule;
use kiln_ir::target::Isa;
use tuner::builder::{build_batch, prepare, Candidate};
use tuner::runner::{run_batch, write_data, Outcome, RunOptions};

fn tiled(isa: Isa) -> Candidate {
    let f = matmul(64, 64, 64);
    let mut sch = Schedule::new(f, 0);
    let c = sch.get_block("C").unwrap();
    let l = sch.get_loops(c).unwrap();
    let i = sch.split(l[0], &[None, Some(4.into())]).unwrap();
    let j = sch.split(l[1], &[None, Some(16.into())]).unwrap();
    sch.reorder(&[i[0], j[0], l[2], i[1], j[1]]).unwrap();
    sch.decompose_reduction(c, l[2]).unwrap();
    sch.unroll(i[1]).unwrap();
    sch.vectorize(j[1]).unwrap();
    Candidate::new(sch.into_parts().0, isa)
}

#[test]
fn bad_candidates_are_contained() {
    common::share_harness();
    let work = std::env::temp_dir().join(format!("kiln-harness-test-{}", std::process::id()));
    let tc = prepare(&work).expect("runtime builds");
    let func = matmul(64, 64, 64);
    let data = work.join("data");
    write_data(&func, &data, 7).unwrap();
    let raw = |body: proc_macro2::TokenStream| {
        Candidate::raw(quote! {
            #[allow(unused)]
            pub unsafe fn run(a: &[f32], b: &[f32], c: &mut [f32]) { #body }
        })
    };
    let cands = vec![
        Candidate::new(func.clone(), Isa::Scalar),
        raw(quote!(std::process::abort();)),
        tiled(Isa::Avx2),
        raw(quote!(loop {
            std::hint::spin_loop();
        })),
        raw(quote!(for x in c.iter_mut() {
            *x = 1.0;
        })),
        raw(quote!(let x: u32 = "not a number";)),
        tiled(Isa::Scalar),
    ];
    let built = build_batch(&tc, &func, &cands, "harness_test");
    assert_eq!(built.failed.len(), 1, "{:?}", built.failed);
    assert_eq!(built.failed[0].0, 5);
    let ids: Vec<usize> = (0..built.included.len()).collect();
    let opts = RunOptions { timeout: Duration::from_secs(3), min_sample_us: 50.0, repeats: 3, ..RunOptions::default() };
    let out = run_batch(&built.exe, &data, &ids, &opts);
    let by_cand = |c: usize| &out[built.included.iter().position(|x| *x == c).unwrap()].1;
    assert!(matches!(by_cand(0), Outcome::Ok { .. }), "{:?}", by_cand(0));
    assert!(matches!(by_cand(1), Outcome::Crashed(_)), "{:?}", by_cand(1));
    assert!(matches!(by_cand(3), Outcome::Timeout), "{:?}", by_cand(3));
    assert!(matches!(by_cand(4), Outcome::Wrong(_)), "{:?}", by_cand(4));
    assert!(matches!(by_cand(6), Outcome::Ok { .. }), "{:?}", by_cand(6));
    let avx2 = std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma");
    if avx2 {
        assert!(matches!(by_cand(2), Outcome::Ok { .. }), "{:?}", by_cand(2));
    } else {
        assert!(matches!(by_cand(2), Outcome::Unsupported(_)), "{:?}", by_cand(2));
    }
    let _ = std::fs::remove_dir_all(&work);
}
