//! Writing output files safely: atomically (a temporary file in the same directory,
//! then a rename, so a reader or a crash never sees half a file), under names that do
//! not replace existing files, and into directories checked to be writable before any
//! long work starts.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Write `text` to `path` atomically: a temporary file next to it, flushed to disk,
/// then renamed over `path`.
///
/// # Errors
/// If the directory cannot be written (the temporary file is removed again).
pub fn write_atomic(path: &Path, text: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::other(format!("{} names no file", path.display())))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = dir.join(tmp_name);
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// A new file in `dir` named `stem.ext`, or `stem-2.ext`, `stem-3.ext`, ... if that
/// exists: created empty (so that no one else takes the name), never replacing a file.
///
/// # Errors
/// If `dir` cannot be written.
pub fn reserve(dir: &Path, stem: &str, ext: &str) -> io::Result<PathBuf> {
    for k in 1u32.. {
        let name = if k == 1 {
            format!("{stem}.{ext}")
        } else {
            format!("{stem}-{k}.{ext}")
        };
        let path = dir.join(name);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(_) => return Ok(path),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    unreachable!("some name is free")
}

/// Make sure files can be created in `dir` (creating it if needed), by creating and
/// removing a temporary file there.
///
/// # Errors
/// If it cannot be created or written.
pub fn check_writable_dir(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    // A name of this process and call: threads may check the same directory at once.
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let probe = dir.join(format!(".vmspace-write-check-{}-{n}", std::process::id()));
    std::fs::File::create(&probe)?;
    std::fs::remove_file(&probe)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("vmspace-outfile-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn reserved_names_never_replace_a_file() {
        let d = tmpdir("reserve");
        std::fs::write(d.join("x.vms"), "keep").unwrap();
        let a = reserve(&d, "x", "vms").unwrap();
        let b = reserve(&d, "x", "vms").unwrap();
        assert_eq!(
            (a.clone(), b.clone()),
            (d.join("x-2.vms"), d.join("x-3.vms"))
        );
        assert_eq!(std::fs::read_to_string(d.join("x.vms")).unwrap(), "keep");
        write_atomic(&a, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "new");
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 3, "{names:?}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn an_unwritable_directory_is_found_before_the_work() {
        let d = tmpdir("ro");
        let file = d.join("plain-file");
        std::fs::write(&file, "").unwrap();
        // A directory below a regular file can never be created.
        assert!(check_writable_dir(&file.join("sub")).is_err());
        check_writable_dir(&d.join("sub")).unwrap();
        std::fs::remove_dir_all(&d).unwrap();
    }
}
