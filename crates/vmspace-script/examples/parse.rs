//! Parse a file as a script or (with --strace) an strace log, and print it back.
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let strace = args.iter().any(|a| a == "--strace");
    let path = args
        .iter()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .expect("a file");
    let text = std::fs::read_to_string(path).expect("readable");
    if strace {
        match vmspace_script::parse_strace_log(path, &text) {
            Ok(log) => {
                print!("{}", log.script);
                for s in &log.skipped {
                    eprintln!("skipped line {}: {} ({})", s.line, s.call_name, s.reason);
                }
            }
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        }
    } else {
        match vmspace_script::parse_script(path, &text) {
            Ok(s) => print!("{s}"),
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        }
    }
}
