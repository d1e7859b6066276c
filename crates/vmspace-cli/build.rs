//! `cfg(live)`: the live kernel backend is built in (the feature `live`, on Linux
//! x86-64, the only system vmspace-linux supports).
fn main() {
    println!("cargo::rustc-check-cfg=cfg(live)");
    let feature = std::env::var_os("CARGO_FEATURE_LIVE").is_some();
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    if feature && os == "linux" && arch == "x86_64" {
        println!("cargo::rustc-cfg=live");
    }
}
