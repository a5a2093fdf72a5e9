//! The FashionMNIST MLP on kiln kernels: the last section of the MLC chapter
//! "Automatic Program Optimization" (putting things back to end-to-end model
//! execution), in Rust.
//!
//! ```text
//! logits = relu(x·W0ᵀ + b0)·W1ᵀ + b1      x = pixels / 255 (1×784), W0 128×784, W1 10×128
//! ```
//!
//! - layer 0 is the kiln kernel [`kernels::linear0`] (the chapter's two-block
//!   form: matmul block `Y` into an intermediate, then bias block `Z`);
//! - the activation is the kiln kernel [`kernels::relu`];
//! - layer 1 is *not* a kiln kernel: [`kernels::mlp::linear1_reference`], plain
//!   Rust, plays the chapter's external `env.linear` (a torch call there).
//!
//! Batch-64 throughput uses the batched kiln kernel [`kernels::linear`]
//! (64×784 → 64×128) for layer 0, with W0 packed once ahead of time
//! (`kernels::linear::pack_w`, then `with_packed_w` per batch: the layout
//! rewrite done at load time, not per call), then the kiln `relu` kernel and
//! the plain-Rust `linear1` once per row.
//!
//! ```sh
//! cargo run --release --example mlp               # accuracy, check against numpy, latency, throughput
//! cargo run --release --example mlp -- --compare  # naive vs default schedule vs committed traces
//! cargo run --release --example mlp -- --batch 1,7,64,100  # any batch size: the symbolic kernel linear_sym
//! KILN_ISA=scalar cargo run --release --example mlp   # force a lower ISA
//! ```
//!
//! `kernels::*` are compiled from the committed traces in `kernels/traces/`
//! where a fresh trace exists for the ISA, and from the default schedule
//! otherwise; the example prints which, deciding it from the files the way
//! `tensor_func!` does (`kernels/build.rs` makes cargo rebuild `kernels` when
//! a trace changes, so `cargo run` keeps the two in step). `default::*` and `naive::*` come from
//! the root build script (`$OUT_DIR/variants.rs`): the default schedule and
//! the unscheduled loop nest of the same kernels.

use std::error::Error;
use std::process::ExitCode;
use std::time::Instant;

use kernels::mlp::{self, MlpParams, CLASS_NAMES, HIDDEN, INPUT, NUM_CLASSES};

include!(concat!(env!("OUT_DIR"), "/variants.rs"));

/// Rows of the batched `linear` kernel.
const BATCH: usize = 64;
/// Images per timed sample of the batch-1 latency (one call per image).
const LATENCY_IMAGES: usize = 64;
/// Timed samples per measurement (the median is reported).
const SAMPLES: usize = 101;
/// Timed samples of the (slow) naive build.
const NAIVE_SAMPLES: usize = 15;
/// Predictions printed.
const SHOW: usize = 8;

type Linear = fn(&[f32], &[f32], &[f32], &mut [f32]) -> Result<(), kiln::Error>;
type Relu = fn(&[f32], &mut [f32]) -> Result<(), kiln::Error>;

/// One build of the kiln kernels of the model.
#[derive(Clone, Copy)]
struct Kiln {
    name: &'static str,
    what: &'static str,
    linear0: Linear,
    relu: Relu,
    linear: Linear,
}

/// What `kernels::*` runs: the committed traces (default schedule where none).
const TRACED: Kiln = Kiln {
    name: "traced",
    what: "kernels::*  (committed traces)",
    linear0: kernels::try_linear0,
    relu: kernels::try_relu,
    linear: kernels::try_linear,
};
const DEFAULT: Kiln = Kiln {
    name: "default",
    what: "default::*  (default schedule)",
    linear0: default::try_linear0,
    relu: default::try_relu,
    linear: default::try_linear,
};
const NAIVE: Kiln = Kiln {
    name: "naive",
    what: "naive::*    (unscheduled loops)",
    linear0: naive::try_linear0,
    relu: naive::try_relu,
    linear: naive::try_linear,
};

/// The model over one build of the kernels.
struct Mlp<'a> {
    k: Kiln,
    p: &'a MlpParams,
    /// W0 packed once, ahead of time, for `kernels::linear` (the traced
    /// build): the layout the chosen schedule reads it in.
    w0_packed: Option<kernels::linear::PackedW>,
}

/// Intermediates of a batch-1 forward pass.
struct Scratch1 {
    lin0: [f32; HIDDEN],
    hidden: [f32; HIDDEN],
}

/// Intermediates of a batch-64 forward pass.
struct Scratch64 {
    lin0: Vec<f32>,
    hidden: Vec<f32>,
}

impl Scratch1 {
    fn new() -> Scratch1 {
        Scratch1 { lin0: [0.0; HIDDEN], hidden: [0.0; HIDDEN] }
    }
}

impl Scratch64 {
    fn new() -> Scratch64 {
        Scratch64 { lin0: vec![0.0; BATCH * HIDDEN], hidden: vec![0.0; BATCH * HIDDEN] }
    }
}

impl<'a> Mlp<'a> {
    fn new(k: Kiln, p: &'a MlpParams) -> Mlp<'a> {
        Mlp { k, p, w0_packed: None }
    }

    /// The traced build, with W0 packed once for the batched layer.
    fn traced(p: &'a MlpParams) -> Result<Mlp<'a>, kiln::Error> {
        Ok(Mlp { k: TRACED, p, w0_packed: Some(kernels::linear::try_pack_w(&p.w0)?) })
    }

    /// The kiln part of batch 1: `hidden = relu(linear0(x))`.
    fn layer0(&self, x: &[f32], s: &mut Scratch1) -> Result<(), kiln::Error> {
        (self.k.linear0)(x, &self.p.w0, &self.p.b0, &mut s.lin0)?;
        (self.k.relu)(&s.lin0, &mut s.hidden)
    }

    /// One image (784 values): its logits.
    fn forward1(&self, x: &[f32], s: &mut Scratch1, logits: &mut [f32]) -> Result<(), kiln::Error> {
        self.layer0(x, s)?;
        mlp::linear1_reference(&s.hidden, &self.p.w1, &self.p.b1, logits);
        Ok(())
    }

    /// The kiln part of batch 64: `hidden = relu(linear(x))`, relu row by row.
    fn layer0_64(&self, x: &[f32], s: &mut Scratch64) -> Result<(), kiln::Error> {
        match &self.w0_packed {
            Some(w) => kernels::linear::try_with_packed_w(x, w, &self.p.b0, &mut s.lin0)?,
            None => (self.k.linear)(x, &self.p.w0, &self.p.b0, &mut s.lin0)?,
        }
        for (z, h) in s.lin0.chunks_exact(HIDDEN).zip(s.hidden.chunks_exact_mut(HIDDEN)) {
            (self.k.relu)(z, h)?;
        }
        Ok(())
    }

    /// 64 images (64×784 values): their logits (64×10).
    fn forward64(&self, x: &[f32], s: &mut Scratch64, logits: &mut [f32]) -> Result<(), kiln::Error> {
        self.layer0_64(x, s)?;
        for (h, l) in s.hidden.chunks_exact(HIDDEN).zip(logits.chunks_exact_mut(NUM_CLASSES)) {
            mlp::linear1_reference(h, &self.p.w1, &self.p.b1, l);
        }
        Ok(())
    }

    /// Predictions for every input, one image at a time.
    fn predict1(&self, inputs: &[f32]) -> Result<Vec<u8>, kiln::Error> {
        let mut s = Scratch1::new();
        let mut logits = [0.0f32; NUM_CLASSES];
        let mut out = Vec::with_capacity(inputs.len() / INPUT);
        for x in inputs.chunks_exact(INPUT) {
            self.forward1(x, &mut s, &mut logits)?;
            out.push(mlp::argmax(&logits) as u8);
        }
        Ok(out)
    }

    /// Predictions for every input, 64 images at a time (the last batch
    /// padded with zero images, whose predictions are dropped).
    fn predict64(&self, inputs: &[f32]) -> Result<Vec<u8>, kiln::Error> {
        let n = inputs.len() / INPUT;
        let mut s = Scratch64::new();
        let mut batch = vec![0.0f32; BATCH * INPUT];
        let mut logits = vec![0.0f32; BATCH * NUM_CLASSES];
        let mut out = Vec::with_capacity(n);
        for chunk in inputs.chunks(BATCH * INPUT) {
            batch[..chunk.len()].copy_from_slice(chunk);
            batch[chunk.len()..].fill(0.0);
            self.forward64(&batch, &mut s, &mut logits)?;
            out.extend(logits.chunks_exact(NUM_CLASSES).take(chunk.len() / INPUT).map(|l| mlp::argmax(l) as u8));
        }
        Ok(out)
    }
}

/// Timings of one build, in seconds per sample.
#[derive(Default)]
struct Samples {
    /// `LATENCY_IMAGES` images, batch 1, whole model.
    b1: Vec<f64>,
    /// The same, kiln kernels only (linear0 + relu).
    b1_kiln: Vec<f64>,
    /// One batch of 64, whole model.
    b64: Vec<f64>,
    /// The same, kiln kernels only (linear + 64 relu).
    b64_kiln: Vec<f64>,
}

/// Medians, per image / per second.
struct Timing {
    us_per_image: f64,
    kiln_us_per_image: f64,
    images_per_s: f64,
    kiln_images_per_s: f64,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn time(f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64()
}

/// Times every build, interleaved sample by sample so that the noise of a
/// shared machine hits them alike; `samples_per_build` per build after 3 warm-up
/// rounds. Inputs are already scaled (not timed).
fn measure(models: &[Mlp], inputs: &[f32], samples_per_build: usize) -> Result<Vec<Timing>, kiln::Error> {
    let lat_inputs = &inputs[..LATENCY_IMAGES * INPUT];
    let batch = &inputs[..BATCH * INPUT];
    let mut s1 = Scratch1::new();
    let mut s64 = Scratch64::new();
    let mut logits = vec![0.0f32; BATCH * NUM_CLASSES];
    let mut samples: Vec<Samples> = models.iter().map(|_| Samples::default()).collect();
    let mut result = Ok(());
    let mut run = |r: Result<(), kiln::Error>| {
        if let Err(e) = r {
            result = Err(e);
        }
    };
    // Warm-up (caches, page faults, kiln's threads if a kernel uses them), then the samples.
    for round in 0..samples_per_build + 3 {
        // Every other round in reverse order, so that no build always runs right after another.
        let mut order: Vec<usize> = (0..models.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for i in order {
            let (m, s) = (&models[i], &mut samples[i]);
            let b1 = time(|| {
                for x in lat_inputs.chunks_exact(INPUT) {
                    run(m.forward1(x, &mut s1, &mut logits[..NUM_CLASSES]));
                }
            });
            let b1_kiln = time(|| {
                for x in lat_inputs.chunks_exact(INPUT) {
                    run(m.layer0(x, &mut s1));
                }
            });
            let b64 = time(|| run(m.forward64(batch, &mut s64, &mut logits)));
            let b64_kiln = time(|| run(m.layer0_64(batch, &mut s64)));
            if round >= 3 {
                s.b1.push(b1);
                s.b1_kiln.push(b1_kiln);
                s.b64.push(b64);
                s.b64_kiln.push(b64_kiln);
            }
        }
    }
    result?;
    Ok(samples
        .into_iter()
        .map(|mut s| Timing {
            us_per_image: median(&mut s.b1) * 1e6 / LATENCY_IMAGES as f64,
            kiln_us_per_image: median(&mut s.b1_kiln) * 1e6 / LATENCY_IMAGES as f64,
            images_per_s: BATCH as f64 / median(&mut s.b64),
            kiln_images_per_s: BATCH as f64 / median(&mut s.b64_kiln),
        })
        .collect())
}

/// Which schedule `kernels::<kernel>` was compiled from for the ISA in use:
/// what the macro recorded in the kernel's `__kiln_schedule_of_<kernel>`
/// (`kiln_ir::program`'s answer); `true` if it is a committed trace.
fn schedule_source(kernel: &str) -> (bool, String) {
    let table: &[(&str, &str, &str, &str)] = match kernel {
        "linear0" => &kernels::__kiln_schedule_of_linear0,
        "relu" => &kernels::__kiln_schedule_of_relu,
        "linear" => &kernels::__kiln_schedule_of_linear,
        "linear_sym" => &kernels::__kiln_schedule_of_linear_sym,
        _ => return (false, format!("unknown kernel `{kernel}`")),
    };
    let key = format!("x86_64-{}", kiln::runtime::isa().name());
    let key = if kiln::runtime::isa() == kiln::Isa::Scalar { "generic-scalar".to_string() } else { key };
    match table.iter().find(|(k, ..)| *k == key) {
        Some((_, source, ..)) => (source.starts_with("trace file"), source.to_string()),
        None => (false, format!("no {key} variant")),
    }
}

struct Args {
    compare: bool,
    /// `--batch 1,7,64,100`: run the whole test set at each batch size with
    /// the symbolic-batch kernel `kernels::linear_sym`.
    batches: Vec<usize>,
}

const USAGE: &str = "usage: cargo run --release --example mlp [-- --compare] [-- --batch 1,7,64,100]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args { compare: false, batches: vec![] };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--compare" => args.compare = true,
            "--batch" => {
                let v = it.next().ok_or("--batch needs a list of sizes, e.g. --batch 1,7,64,100")?;
                for s in v.split(',') {
                    match s.trim().parse::<usize>() {
                        Ok(b) if (1..=4096).contains(&b) => args.batches.push(b),
                        _ => return Err(format!("--batch: {s:?} is not a batch size in 1..=4096")),
                    }
                }
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} ({USAGE})")),
        }
    }
    Ok(args)
}

/// The whole test set in batches of `batch` images (the last one smaller),
/// layer 0 by the symbolic-batch kiln kernel `linear_sym` (one kernel for
/// every batch size, W0 packed once), relu and linear1 per row as in the
/// batch-64 path: the predictions and the median time per image.
fn predict_batched(p: &MlpParams, inputs: &[f32], batch: usize) -> Result<(Vec<u8>, f64), kiln::Error> {
    let w0 = kernels::linear_sym::try_pack_w(&p.w0)?;
    let mut lin0 = vec![0.0f32; batch * HIDDEN];
    let mut hidden = vec![0.0f32; batch * HIDDEN];
    let mut logits = vec![0.0f32; batch * NUM_CLASSES];
    let mut out = Vec::with_capacity(inputs.len() / INPUT);
    let mut per_image = Vec::new();
    for _ in 0..3 {
        out.clear();
        let t = Instant::now();
        for chunk in inputs.chunks(batch * INPUT) {
            let rows = chunk.len() / INPUT;
            let (z, h, l) =
                (&mut lin0[..rows * HIDDEN], &mut hidden[..rows * HIDDEN], &mut logits[..rows * NUM_CLASSES]);
            kernels::linear_sym::try_with_packed_w(chunk, &w0, &p.b0, z)?;
            for (zr, hr) in z.chunks_exact(HIDDEN).zip(h.chunks_exact_mut(HIDDEN)) {
                kernels::try_relu(zr, hr)?;
            }
            for (hr, lr) in h.chunks_exact(HIDDEN).zip(l.chunks_exact_mut(NUM_CLASSES)) {
                mlp::linear1_reference(hr, &p.w1, &p.b1, lr);
            }
            out.extend(l.chunks_exact(NUM_CLASSES).map(|x| mlp::argmax(x) as u8));
        }
        per_image.push(t.elapsed().as_secs_f64() * 1e6 / (inputs.len() / INPUT) as f64);
    }
    Ok((out, median(&mut per_image)))
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "NO"
    }
}

/// How many of `got` differ from `want`, and the first few of them
/// ("; differ: #i: g vs numpy w, ..."; empty if none).
fn mismatches(got: &[u8], want: &[u8]) -> (usize, String) {
    let bad: Vec<usize> = (0..want.len()).filter(|&i| got.get(i) != Some(&want[i])).collect();
    if bad.is_empty() {
        return (0, String::new());
    }
    let first: Vec<String> =
        bad.iter().take(5).map(|&i| format!("#{i}: {:?} vs numpy {}", got.get(i), want[i])).collect();
    (bad.len(), format!("; differ: {}", first.join(", ")))
}

fn run() -> Result<bool, Box<dyn Error>> {
    let args = parse_args()?;
    let test = mlp::load_test_set()?;
    let params = mlp::load_pretrained_params()?;
    let numpy = mlp::reference_predictions(mlp::reference_predictions_path())?;
    let n = test.len();
    if numpy.len() != n {
        return Err(format!(
            "{}: {} predictions for {n} test images",
            mlp::reference_predictions_path().display(),
            numpy.len()
        )
        .into());
    }
    let mut inputs = Vec::with_capacity(n * INPUT);
    for img in test.images.iter() {
        inputs.extend_from_slice(&mlp::image_to_input(img));
    }
    if n < BATCH.max(LATENCY_IMAGES) {
        return Err(format!("only {n} test images; the timings need {}", BATCH.max(LATENCY_IMAGES)).into());
    }

    let isa = kiln::runtime::isa();
    let detected = kiln::runtime::detected();
    println!("kiln MLP: FashionMNIST test set, {n} images ({})", mlp::data_dir().display());
    println!(
        "ISA in use: {isa} (CPU: {detected}{})",
        match std::env::var("KILN_ISA") {
            Ok(v) => format!(", KILN_ISA={v}"),
            Err(_) => String::new(),
        }
    );
    println!();
    println!("logits = relu(x·W0ᵀ + b0)·W1ᵀ + b1, x = pixels/255 (scaling done once up front, not timed)");
    println!("  linear0  kiln kernel   kernels::linear0  1×784 → 1×128 (matmul block Y, bias block Z)");
    println!("  relu     kiln kernel   kernels::relu     1×128");
    println!(
        "  linear1  NOT kiln      kernels::mlp::linear1_reference, plain Rust 1×128 → 1×10 (the chapter's env.linear)"
    );
    println!("  batch 64: kiln kernel kernels::linear 64×784 → 64×128, then kiln relu and plain-Rust linear1 per row");
    println!("schedules of kernels::* on {isa}:");
    let mut traced = 0;
    for k in ["linear0", "relu", "linear"] {
        let (used, what) = schedule_source(k);
        traced += usize::from(used);
        println!("  {k:<8} {what}");
    }
    println!();

    if !args.batches.is_empty() {
        let (_, what) = schedule_source("linear_sym");
        println!(
            "batch sizes {:?}: layer 0 by kernels::linear_sym (n×784 → n×128, one kernel for every n;",
            args.batches
        );
        println!("  {what}), then kiln relu and plain-Rust linear1 per row; the whole test set per size,");
        println!("  median of 3 passes");
        let mut ok = true;
        for &b in &args.batches {
            let (preds, us) = predict_batched(&params, &inputs, b)?;
            let correct = preds.iter().zip(&test.labels).filter(|(p, l)| p == l).count();
            let (bad, first) = mismatches(&preds, &numpy);
            ok &= bad == 0;
            println!(
                "batch {b:>4}: accuracy {:.2}%, every prediction equals numpy's: {} ({}/{n} equal){first}, {us:.2} µs per image",
                100.0 * correct as f64 / n as f64,
                yes_no(bad == 0),
                n - bad
            );
        }
        return Ok(ok);
    }

    let model = Mlp::traced(&params)?;
    let preds = model.predict1(&inputs)?;
    println!("first {SHOW} predictions (batch 1):");
    for (i, ((&p, &l), &r)) in preds.iter().zip(&test.labels).zip(&numpy).take(SHOW).enumerate() {
        let name = |c: u8| format!("{} ({c})", CLASS_NAMES[c as usize]);
        println!(
            "  #{i}: predicted {:<16} label {:<16} {:<6} numpy predicted {}",
            name(p),
            name(l),
            if p == l { "right" } else { "wrong" },
            name(r)
        );
    }
    let correct = preds.iter().zip(&test.labels).filter(|(p, l)| p == l).count();
    println!("accuracy: {correct}/{n} = {:.2}%", 100.0 * correct as f64 / n as f64);
    let (bad1, first1) = mismatches(&preds, &numpy);
    let preds64 = model.predict64(&inputs)?;
    let (bad64, first64) = mismatches(&preds64, &numpy);
    println!("every prediction equals numpy's (batch 1): {} ({}/{n} equal){first1}", yes_no(bad1 == 0), n - bad1);
    println!("every prediction equals numpy's (batch 64): {} ({}/{n} equal){first64}", yes_no(bad64 == 0), n - bad64);
    let mut ok = bad1 == 0 && bad64 == 0;

    let builds: Vec<Kiln> = if args.compare { vec![DEFAULT, TRACED] } else { vec![TRACED] };
    let models: Vec<Mlp> = builds
        .iter()
        .map(|&k| if k.name == TRACED.name { Mlp::traced(&params) } else { Ok(Mlp::new(k, &params)) })
        .collect::<Result<_, _>>()?;
    let naive = Mlp::new(NAIVE, &params);
    if args.compare {
        println!();
        println!("--compare: predictions of each build equal numpy's (batch 1 / batch 64):");
        for m in [&naive, &models[0]] {
            let (a, _) = mismatches(&m.predict1(&inputs)?, &numpy);
            let (b, _) = mismatches(&m.predict64(&inputs)?, &numpy);
            println!("  {:<8} {} / {}", m.k.name, yes_no(a == 0), yes_no(b == 0));
            ok &= a == 0 && b == 0;
        }
        println!("  {:<8} {} / {}", TRACED.name, yes_no(bad1 == 0), yes_no(bad64 == 0));
    }

    println!();
    println!(
        "timing on {isa}, median of {SAMPLES} samples{} (batch 1: {LATENCY_IMAGES} images \
         one call each; batch 64: one batch); \"(kiln)\" = the kiln kernels alone, without linear1",
        if args.compare { ", default and traced interleaved" } else { "" }
    );
    let mut t = measure(&models, &inputs, SAMPLES)?;
    let mut rows: Vec<&Mlp> = models.iter().collect();
    if args.compare {
        t.insert(0, measure(std::slice::from_ref(&naive), &inputs, NAIVE_SAMPLES)?.remove(0));
        rows.insert(0, &naive);
    }
    println!(
        "  {:<32} {:>14} {:>14} {:>17} {:>17}",
        "build", "batch 1 µs/img", "(kiln µs/img)", "batch 64 img/s", "(kiln img/s)"
    );
    for (m, t) in rows.iter().zip(&t) {
        println!(
            "  {:<32} {:>14.2} {:>14.2} {:>17.0} {:>17.0}",
            m.k.what, t.us_per_image, t.kiln_us_per_image, t.images_per_s, t.kiln_images_per_s
        );
    }
    if args.compare {
        let (n0, d, tr) = (&t[0], &t[1], &t[2]);
        println!(
            "  default / traced: batch 1 latency {:.2}x (kiln part {:.2}x), batch 64 throughput {:.2}x (kiln part {:.2}x)",
            d.us_per_image / tr.us_per_image,
            d.kiln_us_per_image / tr.kiln_us_per_image,
            tr.images_per_s / d.images_per_s,
            tr.kiln_images_per_s / d.kiln_images_per_s
        );
        println!(
            "  naive / traced:   batch 1 latency {:.2}x, batch 64 throughput {:.2}x  (naive: {NAIVE_SAMPLES} samples, timed apart)",
            n0.us_per_image / tr.us_per_image,
            tr.images_per_s / n0.images_per_s
        );
        if traced == 0 {
            println!(
                "  note: no kernel of the model has a committed trace for {isa}, so kernels::* is the default \
                 schedule and default/traced differ by measurement noise only"
            );
        }
    }
    Ok(ok)
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("error: some predictions differ from the numpy reference");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
