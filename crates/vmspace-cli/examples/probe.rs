//! Debugging aid: run a script on the engine from the built-in layout and print the
//! VmFlags of every VMA afterwards.
fn main() {
    let path = std::env::args().nth(1).expect("usage: probe FILE");
    let text = std::fs::read_to_string(&path).unwrap();
    let script = vmspace_script::parse_script(&path, &text).unwrap();
    let seed = if std::env::args().any(|a| a == "--live") {
        let cmd = vmspace_linux::AgentCommand {
            program: std::env::var("AGENT")
                .unwrap_or("target/debug/vmspace".into())
                .into(),
            args: vec!["__agent".into()],
        };
        let live =
            vmspace_linux::LiveBackend::spawn(&cmd, std::time::Duration::from_secs(10)).unwrap();
        let s = live.seed().clone();
        for v in &s.vmas {
            println!(
                "seed {} {:?} {}",
                v.line,
                v.vm_flags.map(|f| f.to_smaps()),
                v.faulted
            );
        }
        s
    } else {
        vmspace_check::default_seed()
    };
    let mut mm = vmspace::Mm::from_seed(
        &seed,
        vmspace::Config {
            mmap_base: seed.mmap_base,
            ..Default::default()
        },
    )
    .unwrap();
    let mut r = vmspace_script::Runner::new(script);
    let res = r.run(&mut mm);
    for rep in &res.reports {
        println!("{:?} -> {}", rep.op(), rep.outcome);
    }
    for v in mm.vmas() {
        println!(
            "{:x}-{:x} {} pgoff={:x} anon={:?}",
            v.start,
            v.end,
            v.vm_flags.to_smaps(),
            v.pgoff,
            v.anon
        );
    }
}
