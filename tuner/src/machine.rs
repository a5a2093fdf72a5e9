//! What the machine the tuner runs on can do, and what to call it.

use kiln_ir::target::Isa;

/// Whether this CPU can run code for `isa`.
pub fn supports(isa: Isa) -> bool {
    match isa {
        Isa::Scalar => true,
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma"),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => {
            std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
        }
        #[allow(unreachable_patterns)]
        _ => false,
    }
}

/// The best ISA this CPU supports.
pub fn best_isa() -> Isa {
    Isa::ALL.into_iter().find(|i| supports(*i)).unwrap_or(Isa::Scalar)
}

/// The ISAs this CPU supports, best first.
pub fn supported_isas() -> Vec<Isa> {
    Isa::ALL.into_iter().filter(|i| supports(*i)).collect()
}

/// The CPU's model name (`/proc/cpuinfo`), or the architecture.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

/// An ISO-8601 UTC date and time for a Unix time in seconds.
pub fn iso_date(unix: f64) -> String {
    let secs = unix.max(0.0) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem / 60 % 60, rem % 60)
}

#[cfg(test)]
mod tests {
    #[test]
    fn iso_dates() {
        assert_eq!(super::iso_date(0.0), "1970-01-01T00:00:00Z");
        assert_eq!(super::iso_date(951_782_400.0), "2000-02-29T00:00:00Z");
        assert_eq!(super::iso_date(1_700_000_000.0), "2023-11-14T22:13:20Z");
    }
}
