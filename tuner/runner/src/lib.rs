//! The tuner's runner: the `main` of every batch executable, which links this
//! crate (built by cargo with the tuner; compiling it into each batch cost
//! about 1.3 s of LLVM time per executable). Nothing in it is generic over the
//! batch: a batch passes its candidates' ISAs and a `call` function.
//!
//! Arguments: data dir, rtol, atol_rel, min_sample_us, repeats, flush (0/1),
//! cutoff_us (0: none; see `RunOptions::cutoff_us`), cutoff_ratio (0: none;
//! `RunOptions::cutoff_ratio`), budget_us (0: none; `RunOptions::budget_us`),
//! then the candidate ids, among which `--rounds=R` selects the interleaved
//! mode (below).
//! Protocol on stdout: `BEGIN <id>` before a candidate runs, then
//! `RESULT <json>` with {"id", "ok", "median_us" | "error"}.
//!
//! By default each candidate is checked and timed in turn (`repeats` samples
//! back to back): what tuning measures. With `--rounds=R` (`tuner bench`)
//! every candidate is first checked, calibrated and warmed up in turn, then
//! timed round by round: round r takes one sample of each candidate (starting
//! with the r-th, so that no candidate always follows the same one), R rounds,
//! so that a drift of the machine's speed (another process, the clock) hits
//! every candidate alike. `BEGIN <id>` precedes each sample (a crash is still
//! its candidate's), and the RESULTs, printed after the last round, also carry
//! the samples (`"samples_us"`, in round order).
pub mod runner {
    use std::io::Write;

    pub enum Buf {
        F32(Vec<f32>),
        F64(Vec<f64>),
        I32(Vec<i32>),
    }

    impl Buf {
        pub fn f32(&self) -> &[f32] {
            match self {
                Buf::F32(v) => v,
                _ => panic!("parameter is not f32"),
            }
        }
        pub fn f64(&self) -> &[f64] {
            match self {
                Buf::F64(v) => v,
                _ => panic!("parameter is not f64"),
            }
        }
        pub fn i32(&self) -> &[i32] {
            match self {
                Buf::I32(v) => v,
                _ => panic!("parameter is not i32"),
            }
        }
        fn reset(&mut self) {
            match self {
                Buf::F32(v) => v.iter_mut().for_each(|x| *x = f32::NAN),
                Buf::F64(v) => v.iter_mut().for_each(|x| *x = f64::NAN),
                Buf::I32(v) => v.iter_mut().for_each(|x| *x = i32::MIN),
            }
        }
        fn get(&self, i: usize) -> f64 {
            match self {
                Buf::F32(v) => v[i] as f64,
                Buf::F64(v) => v[i],
                Buf::I32(v) => v[i] as f64,
            }
        }
        fn len(&self) -> usize {
            match self {
                Buf::F32(v) => v.len(),
                Buf::F64(v) => v.len(),
                Buf::I32(v) => v.len(),
            }
        }
    }

    pub struct Outs {
        bufs: Vec<Option<Buf>>,
    }

    impl Outs {
        pub fn f32_mut(&mut self, k: usize) -> &mut [f32] {
            match self.bufs[k].as_mut() {
                Some(Buf::F32(v)) => v,
                _ => panic!("output is not f32"),
            }
        }
        pub fn f64_mut(&mut self, k: usize) -> &mut [f64] {
            match self.bufs[k].as_mut() {
                Some(Buf::F64(v)) => v,
                _ => panic!("output is not f64"),
            }
        }
        pub fn i32_mut(&mut self, k: usize) -> &mut [i32] {
            match self.bufs[k].as_mut() {
                Some(Buf::I32(v)) => v,
                _ => panic!("output is not i32"),
            }
        }
    }

    fn read(path: &str, dtype: &str) -> Buf {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
        match dtype {
            "f32" => Buf::F32(bytes.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect()),
            "f64" => Buf::F64(bytes.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect()),
            _ => Buf::I32(bytes.chunks_exact(4).map(|c| i32::from_le_bytes(c.try_into().unwrap())).collect()),
        }
    }

    fn supported(isa: &str) -> bool {
        match isa {
            #[cfg(target_arch = "x86_64")]
            "avx2" => is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
            #[cfg(target_arch = "x86_64")]
            "avx512" => {
                is_x86_feature_detected!("avx512f")
                    && is_x86_feature_detected!("avx2")
                    && is_x86_feature_detected!("fma")
            }
            "scalar" => true,
            _ => false,
        }
    }

    fn flush_caches(scratch: &mut [u8]) {
        for (i, b) in scratch.iter_mut().enumerate().step_by(64) {
            *b = b.wrapping_add(i as u8);
        }
        std::hint::black_box(&scratch);
    }

    /// The ISA a candidate's code needs ("scalar", "avx2", ...).
    pub type IsaOf = fn(usize) -> &'static str;

    /// Runs candidate `i` on the inputs, writing the outputs.
    pub type Call = fn(usize, &[Buf], &mut Outs);

    /// What every candidate of the batch is run on and checked against.
    struct Batch<'a> {
        isa_of: IsaOf,
        call: Call,
        bufs: &'a [Buf],
        wants: &'a [Option<Buf>],
        /// `(rtol, atol_rel)`.
        tol: (f64, f64),
    }

    pub fn main(n: usize, nparams: usize, isa_of: IsaOf, call: Call) {
        let a: Vec<String> = std::env::args().collect();
        let dir = &a[1];
        let rtol: f64 = a[2].parse().unwrap();
        let atol_rel: f64 = a[3].parse().unwrap();
        let min_sample_us: f64 = a[4].parse().unwrap();
        let repeats: usize = a[5].parse().unwrap();
        let flush = a[6] == "1";
        // A candidate whose first call takes longer than this (µs; 0: no
        // cutoff) is clearly slower than the best so far: it gets 3 samples.
        let cutoff_us: f64 = a[7].parse().unwrap();
        // ... and so is one whose first call takes this many times the best
        // median of this process so far (0: no such cutoff).
        let cutoff_ratio: f64 = a[8].parse().unwrap();
        // Sampling stops after 3 samples once they add up to this many µs
        // (0: always `repeats` samples).
        let budget_us: f64 = a[9].parse().unwrap();
        let mut best_us = f64::INFINITY;
        let mut rounds = 0usize;
        let mut ids: Vec<usize> = Vec::new();
        for s in &a[10..] {
            match s.strip_prefix("--rounds=") {
                Some(r) => rounds = r.parse().unwrap(),
                None => ids.push(s.parse().unwrap()),
            }
        }
        let meta = std::fs::read_to_string(format!("{dir}/meta.txt")).expect("meta.txt");
        let mut bufs = Vec::new();
        let mut wants = Vec::new();
        let mut outs = Outs { bufs: Vec::new() };
        for (k, line) in meta.lines().enumerate().take(nparams) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (dtype, kind) = (f[0], f[2]);
            if kind == "out" {
                let want = read(&format!("{dir}/want{k}.bin"), dtype);
                let mut out = read(&format!("{dir}/want{k}.bin"), dtype);
                out.reset();
                outs.bufs.push(Some(out));
                bufs.push(Buf::I32(vec![]));
                wants.push(Some(want));
            } else {
                bufs.push(read(&format!("{dir}/p{k}.bin"), dtype));
                outs.bufs.push(None);
                wants.push(None);
            }
        }
        let mut scratch = if flush { vec![0u8; 64 << 20] } else { vec![] };
        let batch = Batch { isa_of, call, bufs: &bufs, wants: &wants, tol: (rtol, atol_rel) };
        if rounds > 0 {
            return interleaved(&batch, &mut outs, &ids, n, rounds, min_sample_us, &mut scratch);
        }
        // The first correct candidate of each ISA first runs for a while on
        // its own, to bring the core (clock, vector units) to its working
        // state: without this, whichever candidate was timed first in a
        // process (or first after scalar code) measured up to 40% slow.
        // (After its check, so that a crash is still its own.)
        let mut warm_isa: Option<&str> = None;
        let stdout = std::io::stdout();
        for id in ids {
            if id >= n {
                continue;
            }
            {
                let mut o = stdout.lock();
                writeln!(o, "BEGIN {id}").unwrap();
                o.flush().unwrap();
            }
            let result = (|| -> Result<f64, String> {
                let checked = check(&batch, id, &mut outs)?;
                // Time: samples of `inner` calls each, at least `min_sample_us` long.
                let cutoff = if cutoff_ratio > 0.0 && best_us.is_finite() {
                    let own = cutoff_ratio * best_us;
                    if cutoff_us > 0.0 {
                        cutoff_us.min(own)
                    } else {
                        own
                    }
                } else {
                    cutoff_us
                };
                let (inner, once) = calibrate(&batch, id, &mut outs, &mut warm_isa, checked, min_sample_us, cutoff);
                let slow = over_cutoff(once, cutoff);
                if slow && budget_us > 0.0 {
                    // A search measurement of a candidate far slower than
                    // the best: its one timed call (on a warm core) ranks it.
                    return Ok(once * 1e6);
                }
                let repeats = if slow { repeats.clamp(1, 3) } else { repeats.max(1) };
                let mut samples = Vec::with_capacity(repeats);
                let mut sampled = 0.0;
                for _ in 0..repeats {
                    if flush {
                        flush_caches(&mut scratch);
                    }
                    let t = std::time::Instant::now();
                    for _ in 0..inner {
                        call(id, &bufs, &mut outs);
                    }
                    let dt = t.elapsed().as_secs_f64();
                    samples.push(dt / inner as f64);
                    sampled += dt;
                    if budget_us > 0.0 && samples.len() >= 3 && sampled * 1e6 >= budget_us {
                        break;
                    }
                }
                samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
                let median = samples[samples.len() / 2] * 1e6;
                best_us = best_us.min(median);
                Ok(median)
            })();
            let line = match result {
                Ok(us) => format!("{{\"id\":{id},\"ok\":true,\"median_us\":{us}}}"),
                Err(e) => format!("{{\"id\":{id},\"ok\":false,\"error\":{:?}}}", e),
            };
            let mut o = stdout.lock();
            writeln!(o, "RESULT {line}").unwrap();
            o.flush().unwrap();
        }
    }

    fn begin(id: usize) {
        let mut o = std::io::stdout().lock();
        writeln!(o, "BEGIN {id}").unwrap();
        o.flush().unwrap();
    }

    fn result(line: String) {
        let mut o = std::io::stdout().lock();
        writeln!(o, "RESULT {line}").unwrap();
        o.flush().unwrap();
    }

    /// Runs candidate `id` once on NaN-filled outputs and compares them with
    /// the reference: `|got - want| <= atol_rel * max|want| + rtol * |want|`.
    /// Returns the time of that call, in seconds.
    fn check(b: &Batch, id: usize, outs: &mut Outs) -> Result<f64, String> {
        let Batch { isa_of, call, bufs, wants, tol: (rtol, atol_rel) } = *b;
        if !supported(isa_of(id)) {
            return Err(format!("unsupported: this CPU cannot run {} code", isa_of(id)));
        }
        for b in outs.bufs.iter_mut().flatten() {
            b.reset();
        }
        let t = std::time::Instant::now();
        call(id, bufs, outs);
        let took = t.elapsed().as_secs_f64();
        for (k, w) in wants.iter().enumerate() {
            let Some(w) = w else { continue };
            let g = outs.bufs[k].as_ref().unwrap();
            let scale = (0..w.len()).map(|i| w.get(i).abs()).filter(|x| x.is_finite()).fold(0.0, f64::max);
            let atol = atol_rel * scale.max(1e-30);
            for i in 0..w.len() {
                let (gv, wv) = (g.get(i), w.get(i));
                let ok = if wv.is_nan() { gv.is_nan() } else { gv == wv || (gv - wv).abs() <= atol + rtol * wv.abs() };
                if !ok {
                    return Err(format!("wrong result: output {k} element {i} is {gv}, expected {wv}"));
                }
            }
        }
        Ok(took)
    }

    /// Gets candidate `id` ready to be timed: the first candidate of each ISA
    /// first runs until its time per call is steady ([`warm_up`]; see `main`), then one call is timed to find the
    /// number of calls per sample (at least `min_sample_us` long), and the
    /// candidate warms up for at least 2 ms (and 3 calls) unless that one
    /// call took longer than `cutoff_us` (0: no cutoff). Returns the calls per
    /// sample and the time of that one call, in seconds.
    fn calibrate(
        b: &Batch,
        id: usize,
        outs: &mut Outs,
        warm_isa: &mut Option<&'static str>,
        checked: f64,
        min_sample_us: f64,
        cutoff_us: f64,
    ) -> (usize, f64) {
        let Batch { isa_of, call, bufs, .. } = *b;
        let once = if *warm_isa != Some(isa_of(id)) {
            warm_up(|| call(id, bufs, outs));
            *warm_isa = Some(isa_of(id));
            None
        } else if checked > 1e-3 {
            // A long call on a warm core: the check's call tells enough.
            Some(checked)
        } else {
            None
        };
        let once = once.unwrap_or_else(|| {
            let t = std::time::Instant::now();
            call(id, bufs, outs);
            t.elapsed().as_secs_f64().max(1e-9)
        });
        let inner = ((min_sample_us * 1e-6 / once).ceil() as usize).clamp(1, 1_000_000);
        // Warm up for at least 2 ms (and 3 calls), unless the first call
        // was over the cutoff.
        let slow = over_cutoff(once, cutoff_us);
        let t = std::time::Instant::now();
        let mut warm = 0;
        let min_calls = if once > 1e-3 { 1 } else { 3 };
        while !slow && (warm < min_calls || t.elapsed().as_secs_f64() < 2e-3) {
            call(id, bufs, outs);
            warm += 1;
        }
        (inner, once)
    }

    /// Runs `f` until the core is in its working state (clock, vector
    /// units): until three consecutive slices of 4 ms agree within 2% on the
    /// time of a call, at most 0.2 s. A core that is already warm (the
    /// previous batch ran a moment ago) is done in about 12 ms; a cold one,
    /// whose first calls run up to 40% slow, goes on until they settle.
    fn warm_up(mut f: impl FnMut()) {
        let start = std::time::Instant::now();
        let mut last: Vec<f64> = Vec::new();
        while start.elapsed().as_secs_f64() < 0.2 {
            let t = std::time::Instant::now();
            let mut calls = 0u32;
            while calls == 0 || t.elapsed().as_secs_f64() < 4e-3 {
                f();
                calls += 1;
            }
            last.push(t.elapsed().as_secs_f64() / calls as f64);
            if let [.., a, b, c] = last[..] {
                let (lo, hi) = (a.min(b).min(c), a.max(b).max(c));
                if hi <= lo * 1.02 {
                    return;
                }
            }
        }
    }

    /// Whether one call of `once` seconds is over the cutoff (µs; 0: none).
    fn over_cutoff(once: f64, cutoff_us: f64) -> bool {
        cutoff_us > 0.0 && once * 1e6 > cutoff_us
    }

    /// The `--rounds=R` mode (see the top of this file): every candidate is
    /// checked, calibrated (calls per sample, at least `min_sample_us` long)
    /// and warmed up in turn, then timed in `rounds` interleaved rounds.
    /// Each sample is preceded by one untimed call (or the cache flush), so
    /// that it starts with its own candidate's data in the caches, as
    /// back-to-back samples do — but for a candidate whose one call takes
    /// longer than 50 ms, for which refilling the caches is noise (and the
    /// extra call would double the time of the naive 512³ product).
    fn interleaved(
        b: &Batch,
        outs: &mut Outs,
        ids: &[usize],
        n: usize,
        rounds: usize,
        min_sample_us: f64,
        scratch: &mut [u8],
    ) {
        let Batch { call, bufs, .. } = *b;
        // (id, calls per sample, whether one call takes over 50 ms)
        let mut timed: Vec<(usize, usize, bool)> = Vec::new();
        let mut warm_isa: Option<&str> = None;
        for &id in ids.iter().filter(|id| **id < n) {
            begin(id);
            let checked = match check(b, id, outs) {
                Ok(s) => s,
                Err(e) => {
                    result(format!("{{\"id\":{id},\"ok\":false,\"error\":{:?}}}", e));
                    continue;
                }
            };
            // Again before the calibration (several calls): every line restarts
            // the driver's hang timeout.
            begin(id);
            let (inner, once) = calibrate(b, id, outs, &mut warm_isa, checked, min_sample_us, 0.0);
            timed.push((id, inner, once > 0.05));
        }
        let mut samples: Vec<Vec<f64>> = vec![Vec::with_capacity(rounds); timed.len()];
        for r in 0..rounds {
            for j in 0..timed.len() {
                let slot = (j + r) % timed.len();
                let (id, inner, slow) = timed[slot];
                begin(id);
                if !scratch.is_empty() {
                    // (`scratch` is empty unless the caches are flushed.)
                    flush_caches(scratch);
                } else if !slow {
                    call(id, bufs, outs);
                }
                let t = std::time::Instant::now();
                for _ in 0..inner {
                    call(id, bufs, outs);
                }
                samples[slot].push(t.elapsed().as_secs_f64() / inner as f64 * 1e6);
            }
        }
        for ((id, _, _), s) in timed.iter().zip(&samples) {
            let mut sorted = s.clone();
            sorted.sort_by(|a, b| a.partial_cmp(b).unwrap());
            let median = sorted[sorted.len() / 2];
            let list: Vec<String> = s.iter().map(|x| x.to_string()).collect();
            result(format!("{{\"id\":{id},\"ok\":true,\"median_us\":{median},\"samples_us\":[{}]}}", list.join(",")));
        }
    }
}
