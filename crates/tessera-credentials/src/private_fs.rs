//! The one way Tessera creates files and directories under its data directory: readable by the
//! owner only (files 0600, directories 0700), whatever the process umask.
//!
//! Everything there is a secret or tells about one (the master key, the root credentials, the
//! store with its sealed secrets, the audit trail), so every creator goes through [`create_dir_all`]
//! and [`open`] rather than `std::fs`: the mode is given at creation (a umask can only remove
//! bits) and then set exactly, so a umask of `000` cannot widen it and one of `077` changes
//! nothing.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::Path;

/// The mode of every file Tessera creates.
pub const FILE_MODE: u32 = 0o600;
/// The mode of every directory Tessera creates.
pub const DIR_MODE: u32 = 0o700;

/// Creates `dir` and its missing parents, each new one with mode 0700. Directories that already
/// exist are left as they are (an operator may have chosen their mode).
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_dir_all(parent)?;
    }
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(DIR_MODE);
    }
    match builder.create(dir) {
        Ok(()) => set_mode(dir, DIR_MODE),
        // Another process (or thread) made it first.
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(error) => Err(error),
    }
}

/// Opens `path` as `options` say (write, append, truncate, create, create_new, ...), with mode
/// 0600 for a file it creates. A file opened for writing that has group or other bits (an older
/// version's, or one made by hand) is narrowed to 0600 too.
pub fn open(path: &Path, options: &OpenOptions) -> io::Result<File> {
    #[allow(unused_mut)]
    let mut options = options.clone();
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        options.mode(FILE_MODE);
        let file = options.open(path)?;
        if file.metadata()?.permissions().mode() & 0o777 != FILE_MODE {
            file.set_permissions(fs::Permissions::from_mode(FILE_MODE))?;
        }
        Ok(file)
    }
    #[cfg(not(unix))]
    options.open(path)
}

fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
    }
    #[cfg(not(unix))]
    {
        let _ = (path, mode);
        Ok(())
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::io::{Read as _, Write as _};
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn new_directories_are_owner_only_and_existing_ones_are_left_alone() {
        let root = tempfile::tempdir().unwrap();
        fs::set_permissions(root.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let deep = root.path().join("a/b/c");
        create_dir_all(&deep).unwrap();
        for dir in ["a", "a/b", "a/b/c"] {
            assert_eq!(mode(&root.path().join(dir)), DIR_MODE, "{dir}");
        }
        assert_eq!(mode(root.path()), 0o755, "an existing directory keeps its mode");
        create_dir_all(&deep).unwrap();
    }

    #[test]
    fn files_are_created_owner_only_and_widened_ones_are_narrowed() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("f");
        let mut file = open(&path, OpenOptions::new().append(true).create(true)).unwrap();
        file.write_all(b"one").unwrap();
        assert_eq!(mode(&path), FILE_MODE);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        open(&path, OpenOptions::new().append(true)).unwrap().write_all(b"two").unwrap();
        assert_eq!(mode(&path), FILE_MODE);
        let mut text = String::new();
        File::open(&path).unwrap().read_to_string(&mut text).unwrap();
        assert_eq!(text, "onetwo");
        let taken = open(&path, OpenOptions::new().write(true).create_new(true)).unwrap_err();
        assert_eq!(taken.kind(), io::ErrorKind::AlreadyExists);
    }
}
