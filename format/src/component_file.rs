//! Opening component files: regular files only.
//!
//! A component path can name something other than a regular file — a FIFO, a socket, a device
//! or a directory — by accident or in a hostile snapshot. Opening a FIFO for reading blocks until
//! some writer opens it, so a reader that simply opened every component could hang forever.
//! Every component is therefore looked at (`stat`, following symbolic links) before it is
//! opened, and anything but a regular file is refused as [`Error::NotRegularFile`], naming the
//! path, the component and what was found.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use crate::descriptor::Component;
use crate::error::{Error, Result};

/// What a non-regular file is, for messages.
fn kind_of(t: std::fs::FileType) -> &'static str {
    if t.is_dir() {
        "directory"
    } else if t.is_fifo() {
        "FIFO"
    } else if t.is_socket() {
        "socket"
    } else if t.is_block_device() {
        "block device"
    } else if t.is_char_device() {
        "character device"
    } else {
        "special file"
    }
}

/// The components of `d` found on disk. Anything but a regular file under a component's name
/// is an error: every reader would refuse it later, and some only after blocking on it.
pub fn present(d: &crate::descriptor::Descriptor) -> Result<Vec<Component>> {
    let mut found = Vec::new();
    for c in Component::BIG {
        let path = d.path(c);
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => found.push(c),
            Ok(m) => return Err(Error::NotRegularFile { path, component: c, kind: kind_of(m.file_type()) }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(path, e)),
        }
    }
    Ok(found)
}

/// Open `path` (holding `component`) for reading; `None` when nothing is there. Anything but a
/// regular file is an error, found before the open so that a FIFO cannot block.
pub fn open(path: &Path, component: Component) -> Result<Option<File>> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(path, e)),
    };
    if !meta.is_file() {
        return Err(Error::NotRegularFile { path: path.to_path_buf(), component, kind: kind_of(meta.file_type()) });
    }
    match File::open(path) {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Open `path` (holding `component`), which must exist.
pub fn open_required(path: &Path, component: Component) -> Result<File> {
    open(path, component)?.ok_or_else(|| Error::MissingComponent { path: path.to_path_buf(), component })
}

/// The whole of `path` (holding `component`); `None` when nothing is there.
pub fn read(path: &Path, component: Component) -> Result<Option<Vec<u8>>> {
    let Some(mut f) = open(path, component)? else { return Ok(None) };
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes).map_err(|e| Error::io(path, e))?;
    Ok(Some(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_fifos_and_directories_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("nb-1-big-Summary.db");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(made.success(), "mkfifo failed");
        assert!(matches!(
            read(&fifo, Component::Summary),
            Err(Error::NotRegularFile { component: Component::Summary, kind: "FIFO", .. })
        ));
        assert!(matches!(open(dir.path(), Component::Data), Err(Error::NotRegularFile { kind: "directory", .. })));
        assert!(matches!(read(&dir.path().join("absent"), Component::Filter), Ok(None)));
        assert!(matches!(
            open_required(&dir.path().join("absent"), Component::Data),
            Err(Error::MissingComponent { component: Component::Data, .. })
        ));
    }
}
