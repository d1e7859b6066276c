//! Debugging aid: run a script on the live agent only and print page presence of a range.
//! usage: livepages FILE START NPAGES
fn main() {
    let a: Vec<String> = std::env::args().collect();
    let text = std::fs::read_to_string(&a[1]).unwrap();
    let script = vmspace_script::parse_script(&a[1], &text).unwrap();
    let cmd = vmspace_linux::AgentCommand {
        program: "target/debug/vmspace".into(),
        args: vec!["__agent".into()],
    };
    let mut live =
        vmspace_linux::LiveBackend::spawn(&cmd, std::time::Duration::from_secs(10)).unwrap();
    let res = vmspace_script::Runner::new(script).run(&mut live);
    for r in &res.reports {
        println!("{:?} -> {}", r.op(), r.outcome);
    }
    let start = u64::from_str_radix(a[2].trim_start_matches("0x"), 16).unwrap();
    let n: u64 = a[3].parse().unwrap();
    use vmspace::Backend;
    let p = live.pages(start, n).unwrap();
    for (i, s) in p.iter().enumerate() {
        print!(
            "{i}:{} ",
            if matches!(s, vmspace::PageState::Present(_)) {
                1
            } else {
                0
            }
        );
    }
    println!();
}
