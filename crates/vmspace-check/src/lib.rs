//! Checking a memory model against another, as a library: the differ runs any
//! [`vmspace::Backend`] against the engine in lockstep and compares results, maps,
//! pages and counters after every call; the generator makes random operations, the
//! fuzz campaign runs them and shrinks any disagreement to a short script.
#![forbid(unsafe_code)]

pub mod compare;
pub mod differ;
pub mod fuzz;
pub mod generate;
pub mod lockstep;
pub mod outfile;
pub mod seedfile;

/// The layout `vmspace run` starts from: the live agent's layout on the reference
/// machine, captured with `vmspace seed > crates/vmspace-check/src/default-layout.txt`,
/// with the program's path (the build directory it ran from) then replaced by
/// `/usr/bin/vmspace`, where an installed `vmspace` would be; the addresses are the
/// captured ones. `vmspace diff` starts from the live agent's layout instead.
pub fn default_seed() -> vmspace::Seed {
    seedfile::parse(include_str!("default-layout.txt")).expect("the built-in layout parses")
}

/// An engine over `seed` with `cfg`, whose `mmap_base` becomes the seed's (where the
/// process's mappings are placed top-down from).
///
/// # Errors
/// A seed the engine refuses (overlapping mappings, addresses out of range).
pub fn engine_on(seed: &vmspace::Seed, cfg: vmspace::Config) -> Result<vmspace::Mm, String> {
    vmspace::Mm::from_seed(
        seed,
        vmspace::Config {
            mmap_base: seed.mmap_base,
            ..cfg
        },
    )
    .map_err(|e| e.to_string())
}

/// The engine `vmspace run`, `render` and `tour` start: the built-in layout
/// ([`default_seed`]) with `cfg` (its `mmap_base` the layout's).
pub fn default_engine(cfg: vmspace::Config) -> vmspace::Mm {
    engine_on(&default_seed(), cfg).expect("the built-in layout is valid")
}

/// The names [`layout_env`] can bind (a script may use them without binding them).
pub const LAYOUT_NAMES: &[&str] = &["vdso"];

/// The names a script finds bound before its first line, taken from the starting
/// layout: `$vdso`, the start of the `[vdso]` mapping. The kernel places `[vdso]` (and
/// `[vvar]` below it) when it loads the program, below the dynamic loader, so its address
/// depends on the loader's size and the kernel's build; a script that works on the vDSO
/// names it as `$vdso` (and `$vdso + 1p`), never by a number.
pub fn layout_env(seed: &vmspace::Seed) -> vmspace_script::Env {
    let mut env = vmspace_script::Env::new();
    if let Some(v) = seed
        .vmas
        .iter()
        .find(|v| v.line.name.as_deref() == Some("[vdso]"))
    {
        env.set("vdso", v.line.start);
    }
    env
}
