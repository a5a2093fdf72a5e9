//! `tuner machine`: what this machine can do, measured.
//!
//! - the CPU (vendor, model name, CPUID family/model, kiln's CPU class) and
//!   the ISAs it runs;
//! - the **fp32 FMA peak per ISA**, single core: a loop of independent FMA
//!   chains (enough of them to cover the FMA latency on every port: 12 ymm
//!   chains, 24 zmm chains), best of several runs;
//! - the **read bandwidth** of each cache level and of DRAM, single core: the
//!   sum of a buffer sized to sit in that level (half of L1d, half of L2, half
//!   of L3, and 256 MiB), read with vector loads into independent
//!   accumulators, best of several passes;
//! - the cache sizes the OS reports (`/sys/devices/system/cpu/cpu0/cache`).
//!
//! Tuning and benchmark tables show results as a percentage of these figures,
//! and trace provenance records the CPU and its peak. The probe takes a few
//! seconds; `machine.json` in the work directory caches it (per CPU).

use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use kiln_ir::target::Isa;

/// The probe's results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// `/proc/cpuinfo`'s model name.
    pub model_name: String,
    pub vendor: String,
    pub family: u32,
    pub model: u32,
    /// kiln's CPU class (`znver3`, `sapphirerapids`, ...).
    pub cpu_class: String,
    /// The ISAs kiln can run here, best first.
    pub isas: Vec<String>,
    /// fp32 FMA peak per ISA, GFLOP/s, one core.
    pub peak_gflops: Vec<(String, f64)>,
    /// Cache sizes in bytes (L1d, L2, L3; 0 if unknown).
    pub l1d_bytes: u64,
    pub l2_bytes: u64,
    pub l3_bytes: u64,
    /// Read bandwidth, GB/s, one core: L1, L2, L3, DRAM.
    pub read_gbs: Vec<(String, f64)>,
    /// When the probe ran (ISO 8601).
    pub date: String,
}

impl Machine {
    /// The FMA peak of `isa` in GFLOP/s, if measured.
    pub fn peak(&self, isa: Isa) -> Option<f64> {
        self.peak_gflops.iter().find(|(n, _)| n == isa.name()).map(|(_, g)| *g)
    }

    /// The read bandwidth of `level` (`"L1"`, `"L2"`, `"L3"`, `"DRAM"`) in GB/s.
    pub fn bandwidth(&self, level: &str) -> Option<f64> {
        self.read_gbs.iter().find(|(n, _)| n == level).map(|(_, g)| *g)
    }

    /// The cache level a working set of `bytes` fits in, for comparing a
    /// memory-bound kernel with the bandwidth it should reach.
    pub fn level_for(&self, bytes: u64) -> &'static str {
        if bytes <= self.l1d_bytes {
            "L1"
        } else if bytes <= self.l2_bytes {
            "L2"
        } else if bytes <= self.l3_bytes {
            "L3"
        } else {
            "DRAM"
        }
    }

    /// A one-line summary for provenance and report headers.
    pub fn summary(&self) -> String {
        let peaks: Vec<String> = self.peak_gflops.iter().map(|(i, g)| format!("{i} {g:.1}")).collect();
        format!("{} ({}), fp32 FMA peak GFLOP/s: {}", self.model_name, self.cpu_class, peaks.join(", "))
    }

    /// A readable table.
    pub fn table(&self) -> String {
        let mut s = String::new();
        s.push_str(&format!("cpu        {}\n", self.model_name));
        s.push_str(&format!(
            "           {} family {:#x} model {:#x}, kiln CPU class `{}`\n",
            self.vendor, self.family, self.model, self.cpu_class
        ));
        s.push_str(&format!("isas       {}\n", self.isas.join(", ")));
        for (isa, g) in &self.peak_gflops {
            s.push_str(&format!("peak       {isa:<8} {g:>8.1} GFLOP/s fp32 (one core)\n"));
        }
        let kib = |b: u64| if b == 0 { "?".to_string() } else { format!("{} KiB", b / 1024) };
        s.push_str(&format!(
            "caches     L1d {}, L2 {}, L3 {}\n",
            kib(self.l1d_bytes),
            kib(self.l2_bytes),
            kib(self.l3_bytes)
        ));
        for (level, g) in &self.read_gbs {
            s.push_str(&format!("read       {level:<8} {g:>8.1} GB/s (one core)\n"));
        }
        s
    }

    /// Reads the cached probe of this CPU from `dir/machine.json`, if any.
    pub fn cached(dir: &Path) -> Option<Machine> {
        let text = std::fs::read_to_string(dir.join("machine.json")).ok()?;
        let m: Machine = serde_json::from_str(&text).ok()?;
        (m.model_name == crate::machine::cpu_model() && m.cpu_class == kiln::cpu::detected_class()).then_some(m)
    }

    /// The cached probe, or a quick new one (the CPU, its peaks and cache
    /// sizes, no bandwidths: about a second) written to the cache.
    pub fn quick(dir: &Path) -> Machine {
        Machine::cached(dir).unwrap_or_else(|| {
            let m = Machine { read_gbs: vec![], ..probe_with(false) };
            m.save(dir);
            m
        })
    }

    /// The cached probe with bandwidths, or a full new one (written to the cache).
    pub fn get(dir: &Path) -> Machine {
        Machine::cached(dir).filter(|m| !m.read_gbs.is_empty()).unwrap_or_else(|| {
            let m = probe();
            m.save(dir);
            m
        })
    }

    /// Writes `dir/machine.json` (a cache: failing to write it is not an
    /// error). Peaks and bandwidths are maxima, and a probe on a busy machine
    /// measures less than the machine does: each figure saved is the best of
    /// this probe and the cached one.
    pub fn save(&self, dir: &Path) {
        let mut best = self.clone();
        if let Some(old) = Machine::cached(dir) {
            let keep_max = |new: &mut Vec<(String, f64)>, old: &[(String, f64)]| {
                for (name, v) in old {
                    match new.iter_mut().find(|(n, _)| n == name) {
                        Some((_, x)) => *x = x.max(*v),
                        None => new.push((name.clone(), *v)),
                    }
                }
            };
            keep_max(&mut best.peak_gflops, &old.peak_gflops);
            keep_max(&mut best.read_gbs, &old.read_gbs);
        }
        let text = serde_json::to_string_pretty(&best).expect("serializable");
        let _ = std::fs::create_dir_all(dir).and_then(|()| std::fs::write(dir.join("machine.json"), text));
    }
}

fn cache_size(index: u32) -> u64 {
    let base = format!("/sys/devices/system/cpu/cpu0/cache/index{index}");
    let Ok(size) = std::fs::read_to_string(format!("{base}/size")) else { return 0 };
    let size = size.trim();
    let (num, mul) = match size.strip_suffix('K') {
        Some(n) => (n, 1024),
        None => match size.strip_suffix('M') {
            Some(n) => (n, 1024 * 1024),
            None => (size, 1),
        },
    };
    num.parse::<u64>().map_or(0, |n| n * mul)
}

/// The sizes of L1d, L2 and L3 (0 where unknown).
pub fn cache_sizes() -> (u64, u64, u64) {
    let (mut l1, mut l2, mut l3) = (0, 0, 0);
    for index in 0..8 {
        let base = format!("/sys/devices/system/cpu/cpu0/cache/index{index}");
        let (Ok(level), Ok(kind)) =
            (std::fs::read_to_string(format!("{base}/level")), std::fs::read_to_string(format!("{base}/type")))
        else {
            continue;
        };
        match (level.trim(), kind.trim()) {
            ("1", "Data") => l1 = cache_size(index),
            ("2", _) => l2 = cache_size(index),
            ("3", _) => l3 = cache_size(index),
            _ => {}
        }
    }
    (l1, l2, l3)
}

/// Runs the probe (a few seconds).
pub fn probe() -> Machine {
    probe_with(true)
}

/// The probe, with or without the bandwidths.
fn probe_with(bandwidth: bool) -> Machine {
    let id = kiln::cpu::cpuid();
    let isas = crate::machine::supported_isas();
    let peak_gflops =
        isas.iter().filter_map(|isa| fma_peak(*isa).map(|g| (isa.name().to_string(), round1(g)))).collect();
    let (l1, l2, l3) = cache_sizes();
    let levels = [
        ("L1", if l1 > 0 { l1 / 2 } else { 16 << 10 }),
        ("L2", if l2 > 0 { l2 / 2 } else { 256 << 10 }),
        ("L3", if l3 > 0 { (l3 / 2).min(16 << 20) } else { 4 << 20 }),
        ("DRAM", 256 << 20),
    ];
    let read_gbs = if bandwidth {
        levels.iter().map(|(n, bytes)| (n.to_string(), round1(read_bandwidth(*bytes as usize)))).collect()
    } else {
        vec![]
    };
    Machine {
        model_name: crate::machine::cpu_model(),
        vendor: id.as_ref().map_or_else(String::new, |i| i.vendor.clone()),
        family: id.as_ref().map_or(0, |i| i.family),
        model: id.as_ref().map_or(0, |i| i.model),
        cpu_class: kiln::cpu::detected_class().to_string(),
        isas: isas.iter().map(|i| i.name().to_string()).collect(),
        peak_gflops,
        l1d_bytes: l1,
        l2_bytes: l2,
        l3_bytes: l3,
        read_gbs,
        date: crate::machine::iso_date(crate::database::now()),
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// The best of `runs` timings of `f`, which performs `work` units; units per second.
fn best_rate(runs: usize, work: f64, mut f: impl FnMut()) -> f64 {
    f();
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            work / t.elapsed().as_secs_f64()
        })
        .fold(0.0, f64::max)
}

/// An FMA throughput kernel: `iters` iterations of independent FMA chains,
/// summed so that the work is kept.
type FmaKernel = unsafe fn(iters: u64) -> f32;

/// fp32 FMA GFLOP/s of `isa` on one core (`None` if not measurable here).
pub fn fma_peak(isa: Isa) -> Option<f64> {
    const ITERS: u64 = 4_000_000;
    // The kernel of `isa` and the FLOP of one of its iterations (chains × lanes × 2).
    let kernel: Option<(u64, FmaKernel)> = match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 if crate::machine::supports(Isa::Avx2) => Some((12 * 8 * 2, fma_avx2)),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 if crate::machine::supports(Isa::Avx512) => Some((24 * 16 * 2, fma_avx512)),
        _ => None,
    };
    let (flop_per_iter, kernel) = kernel?;
    let flop = (ITERS * flop_per_iter) as f64;
    let rate = best_rate(7, flop, || {
        // SAFETY: the kernel's target features are supported (checked above).
        std::hint::black_box(unsafe { kernel(std::hint::black_box(ITERS)) });
    });
    Some(rate / 1e9)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fma_avx2(iters: u64) -> f32 {
    use std::arch::x86_64::*;
    let mut acc = [_mm256_setzero_ps(); 12];
    let a = _mm256_set1_ps(std::hint::black_box(0.999_999));
    let b = _mm256_set1_ps(std::hint::black_box(1e-7));
    for _ in 0..iters {
        for x in &mut acc {
            *x = _mm256_fmadd_ps(*x, a, b);
        }
    }
    let mut s = _mm256_setzero_ps();
    for x in acc {
        s = _mm256_add_ps(s, x);
    }
    _mm256_cvtss_f32(s)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn fma_avx512(iters: u64) -> f32 {
    use std::arch::x86_64::*;
    let mut acc = [_mm512_setzero_ps(); 24];
    let a = _mm512_set1_ps(std::hint::black_box(0.999_999));
    let b = _mm512_set1_ps(std::hint::black_box(1e-7));
    for _ in 0..iters {
        for x in &mut acc {
            *x = _mm512_fmadd_ps(*x, a, b);
        }
    }
    let mut s = _mm512_setzero_ps();
    for x in acc {
        s = _mm512_add_ps(s, x);
    }
    _mm512_reduce_add_ps(s)
}

/// Read bandwidth in GB/s of a buffer of `bytes` bytes, summed repeatedly.
pub fn read_bandwidth(bytes: usize) -> f64 {
    let n = (bytes / 4).max(1024) / 64 * 64;
    let data: Vec<f32> = (0..n).map(|i| (i % 7) as f32).collect();
    // At least ~64 MiB read per timing so short passes are not noise.
    let passes = (64usize << 20).div_ceil(n * 4).max(1);
    let work = (passes * n * 4) as f64;
    best_rate(5, work, || {
        for _ in 0..passes {
            std::hint::black_box(sum(std::hint::black_box(&data)));
        }
    }) / 1e9
}

fn sum(data: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if crate::machine::supports(Isa::Avx2) {
        // SAFETY: AVX2 checked above.
        return unsafe { sum_avx2(data) };
    }
    let mut acc = [0.0f32; 16];
    for c in data.chunks_exact(16) {
        for (a, x) in acc.iter_mut().zip(c) {
            *a += x;
        }
    }
    acc.iter().sum()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn sum_avx2(data: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let mut acc = [_mm256_setzero_ps(); 8];
    let p = data.as_ptr();
    let mut i = 0;
    while i + 64 <= data.len() {
        for (k, a) in acc.iter_mut().enumerate() {
            *a = _mm256_add_ps(*a, _mm256_loadu_ps(p.add(i + 8 * k)));
        }
        i += 64;
    }
    let mut s = _mm256_setzero_ps();
    for a in acc {
        s = _mm256_add_ps(s, a);
    }
    _mm256_cvtss_f32(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_by_size() {
        let m = Machine {
            model_name: String::new(),
            vendor: String::new(),
            family: 0,
            model: 0,
            cpu_class: String::new(),
            isas: vec![],
            peak_gflops: vec![("avx2".into(), 30.0)],
            l1d_bytes: 32 << 10,
            l2_bytes: 512 << 10,
            l3_bytes: 8 << 20,
            read_gbs: vec![("L2".into(), 50.0)],
            date: String::new(),
        };
        assert_eq!(m.level_for(1000), "L1");
        assert_eq!(m.level_for(400 << 10), "L2");
        assert_eq!(m.level_for(4 << 20), "L3");
        assert_eq!(m.level_for(64 << 20), "DRAM");
        assert_eq!(m.peak(Isa::Avx2), Some(30.0));
        assert_eq!(m.peak(Isa::Avx512), None);
        assert_eq!(m.bandwidth("L2"), Some(50.0));
    }
}
