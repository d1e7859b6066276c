//! A text form of [`vmspace::Seed`]: `key=value` header lines, then one maps line per
//! VMA followed by a tab and its smaps `VmFlags` (and ` faulted` when it had pages).

use std::fmt::Write;

use vmspace::{MapsLine, Seed, SeedVma, VmFlags};

/// Print a seed.
pub fn to_text(seed: &Seed) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "mmap_base={:#x}", seed.mmap_base);
    let _ = writeln!(s, "start_brk={:#x}", seed.start_brk);
    let _ = writeln!(s, "brk={:#x}", seed.brk);
    let _ = writeln!(s, "start_stack={:#x}", seed.start_stack);
    let _ = writeln!(s, "data_segment={:#x}", seed.data_segment);
    let fds: Vec<String> = seed.open_fds.iter().map(u32::to_string).collect();
    let _ = writeln!(s, "open_fds={}", fds.join(","));
    for v in &seed.vmas {
        let flags = v.vm_flags.map(|f| f.to_smaps()).unwrap_or_default();
        let _ = writeln!(
            s,
            "{}\t{}{}",
            v.line,
            flags.trim_end(),
            if v.faulted { "\tfaulted" } else { "" }
        );
    }
    s
}

/// Parse a seed printed by [`to_text`].
pub fn parse(text: &str) -> Result<Seed, String> {
    let mut seed = Seed::default();
    for (i, line) in text.lines().enumerate() {
        let err = |what: &str| format!("seed line {}: {what}: {line:?}", i + 1);
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some((k, v)) = line.split_once('=').filter(|(k, _)| !k.contains(' ')) {
            let num = || {
                u64::from_str_radix(v.trim_start_matches("0x"), 16).map_err(|_| err("bad number"))
            };
            match k {
                "mmap_base" => seed.mmap_base = num()?,
                "start_brk" => seed.start_brk = num()?,
                "brk" => seed.brk = num()?,
                "start_stack" => seed.start_stack = num()?,
                "data_segment" => seed.data_segment = num()?,
                "open_fds" => {
                    seed.open_fds = v
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(|s| s.parse().map_err(|_| err("bad fd")))
                        .collect::<Result<_, _>>()?;
                }
                _ => return Err(err("unknown key")),
            }
            continue;
        }
        let mut parts = line.split('\t');
        let l = MapsLine::parse(parts.next().unwrap_or("")).map_err(|e| err(&e.to_string()))?;
        let flags = parts.next().map(|f| VmFlags::from_smaps(f).0);
        let faulted = parts.next() == Some("faulted");
        seed.vmas.push(SeedVma {
            line: l,
            vm_flags: flags.filter(|f| !f.is_empty()),
            faulted,
        });
    }
    Ok(seed)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_built_in_layout_round_trips() {
        let seed = crate::default_seed();
        assert!(
            seed.vmas
                .iter()
                .any(|v| v.line.name.as_deref() == Some("[stack]"))
        );
        assert_eq!(super::parse(&super::to_text(&seed)).unwrap(), seed);
    }
}
