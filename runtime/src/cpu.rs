//! The CPU class of the running machine: the microarchitecture, named as
//! `rustc -C target-cpu` names it (`znver1` … `znver5`, `skylake-avx512`,
//! `icelake-server`, `sapphirerapids`, …), from the CPUID vendor, family and
//! model. Trace files may hold an entry per CPU class
//! (`x86_64-avx512@znver4`); a kernel runs the entry of the class it finds
//! here, else its ISA's generic entry, else its default schedule.
//!
//! `KILN_CPU=<class>` overrides the detected class (for tests, and to try
//! another class's schedules on this machine), like `KILN_ISA`.

use std::sync::OnceLock;

/// The vendor, family and model CPUID reports (family and model with their
/// extended parts added, as the vendors' manuals define them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpuId {
    /// `"AuthenticAMD"`, `"GenuineIntel"`, … (empty off x86).
    pub vendor: String,
    pub family: u32,
    pub model: u32,
}

/// Reads CPUID (`None` off x86-64).
pub fn cpuid() -> Option<CpuId> {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::__cpuid;
        // SAFETY: CPUID exists on every x86-64 CPU.
        #[allow(unused_unsafe)]
        let (v, f) = unsafe { (__cpuid(0), __cpuid(1)) };
        let mut vendor = Vec::with_capacity(12);
        for r in [v.ebx, v.edx, v.ecx] {
            vendor.extend_from_slice(&r.to_le_bytes());
        }
        let base_family = (f.eax >> 8) & 0xf;
        let base_model = (f.eax >> 4) & 0xf;
        let family = if base_family == 0xf { base_family + ((f.eax >> 20) & 0xff) } else { base_family };
        let model = if base_family == 0x6 || base_family == 0xf {
            base_model + (((f.eax >> 16) & 0xf) << 4)
        } else {
            base_model
        };
        Some(CpuId { vendor: String::from_utf8_lossy(&vendor).into_owned(), family, model })
    }
    #[cfg(not(target_arch = "x86_64"))]
    None
}

/// The class of a CPU: its microarchitecture's `target-cpu` name, or
/// `<vendor>-f<family>-m<model>` (hexadecimal) for one this table does not
/// know, so that every machine has a stable name.
pub fn classify(id: &CpuId) -> String {
    let known = match (id.vendor.as_str(), id.family, id.model) {
        ("AuthenticAMD", 0x17, 0x00..=0x2f) => Some("znver1"),
        ("AuthenticAMD", 0x17, _) => Some("znver2"),
        ("AuthenticAMD", 0x19, 0x10..=0x1f | 0x60..=0x7f | 0xa0..=0xaf) => Some("znver4"),
        ("AuthenticAMD", 0x19, _) => Some("znver3"),
        ("AuthenticAMD", 0x1a, _) => Some("znver5"),
        ("GenuineIntel", 6, m) => match m {
            0x3c | 0x3f | 0x45 | 0x46 => Some("haswell"),
            0x3d | 0x47 | 0x4f | 0x56 => Some("broadwell"),
            0x4e | 0x5e | 0x8e | 0x9e | 0xa5 | 0xa6 => Some("skylake"),
            0x55 => Some("skylake-avx512"),
            0x6a | 0x6c => Some("icelake-server"),
            0x7d | 0x7e => Some("icelake-client"),
            0x8c | 0x8d => Some("tigerlake"),
            0x97 | 0x9a | 0xb7 | 0xba | 0xbf => Some("alderlake"),
            0xaa | 0xac => Some("meteorlake"),
            0x8f => Some("sapphirerapids"),
            0xcf => Some("emeraldrapids"),
            0xad | 0xae => Some("graniterapids"),
            _ => None,
        },
        _ => None,
    };
    match known {
        Some(k) => k.to_string(),
        None => {
            let vendor = match id.vendor.as_str() {
                "AuthenticAMD" => "amd".to_string(),
                "GenuineIntel" => "intel".to_string(),
                v => v.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase(),
            };
            format!("{}-f{:x}-m{:x}", if vendor.is_empty() { "cpu" } else { &vendor }, id.family, id.model)
        }
    }
}

/// The class of the running CPU (detected once; `generic` off x86-64).
pub fn detected_class() -> &'static str {
    static CLASS: OnceLock<String> = OnceLock::new();
    CLASS.get_or_init(|| cpuid().map_or_else(|| "generic".to_string(), |id| classify(&id)))
}

/// The CPU class kernels dispatch on: `KILN_CPU` if set (any well-formed
/// class name), else the detected one. Cached.
pub fn class() -> &'static str {
    static CHOSEN: OnceLock<String> = OnceLock::new();
    CHOSEN.get_or_init(|| match std::env::var("KILN_CPU") {
        Ok(c) if is_class_name(c.trim()) => c.trim().to_string(),
        _ => detected_class().to_string(),
    })
}

/// Whether `s` is a well-formed class name (lower-case letters, digits, `-`, `_`).
pub fn is_class_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 40
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(vendor: &str, family: u32, model: u32) -> CpuId {
        CpuId { vendor: vendor.into(), family, model }
    }

    #[test]
    fn known_classes() {
        assert_eq!(classify(&id("AuthenticAMD", 0x17, 0x01)), "znver1");
        assert_eq!(classify(&id("AuthenticAMD", 0x17, 0x31)), "znver2");
        assert_eq!(classify(&id("AuthenticAMD", 0x19, 0x01)), "znver3");
        assert_eq!(classify(&id("AuthenticAMD", 0x19, 0x11)), "znver4");
        assert_eq!(classify(&id("AuthenticAMD", 0x19, 0x61)), "znver4");
        assert_eq!(classify(&id("GenuineIntel", 6, 0x8f)), "sapphirerapids");
        assert_eq!(classify(&id("GenuineIntel", 6, 0x55)), "skylake-avx512");
    }

    #[test]
    fn unknown_cpus_get_a_stable_name() {
        assert_eq!(classify(&id("GenuineIntel", 6, 0x01)), "intel-f6-m1");
        assert_eq!(classify(&id("HygonGenuine", 0x18, 0x02)), "hygongenuine-f18-m2");
        assert!(is_class_name(&classify(&id("Weird Vendor!", 1, 2))));
    }

    #[test]
    fn this_machine_has_a_well_formed_class() {
        assert!(is_class_name(detected_class()), "{}", detected_class());
    }
}
