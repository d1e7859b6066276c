//! The agent process of the live backend, as a stand-alone program (the `vmspace`
//! binary embeds the same agent behind its hidden `__agent` argument).

fn main() {
    vmspace_linux::agent_main()
}
