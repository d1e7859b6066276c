// Grows a Vec<u64> to 64 MiB one push at a time. Past glibc's mmap threshold the
// buffer lives in its own mapping, and every doubling is a realloc that glibc turns
// into mremap(MREMAP_MAYMOVE): the pages move, they are not copied.
fn main() {
    let mut v: Vec<u64> = Vec::new();
    for i in 0..(64u64 << 20) / 8 {
        v.push(i);
    }
    let sample: u64 = v.iter().step_by(4096).sum();
    println!("{} elements, sample sum {sample}", v.len());
}
