//! `--pid-file`: written atomically (a temporary file renamed over the path) and removed at
//! exit, unless another master (a binary upgrade's) has written its own pid there since.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

pub(crate) struct PidFile {
    path: PathBuf,
}

impl PidFile {
    /// Writes this process's pid to `path`.
    ///
    /// # Errors
    /// If the temporary file cannot be written or renamed.
    pub(crate) fn write(path: &Path) -> io::Result<PidFile> {
        let pid = std::process::id();
        let tmp = path.with_extension(format!("tmp.{pid}"));
        let mut file = std::fs::File::create(&tmp)?;
        writeln!(file, "{pid}")?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        Ok(PidFile {
            path: path.to_path_buf(),
        })
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let ours = std::fs::read_to_string(&self.path)
            .map(|s| s.trim() == std::process::id().to_string())
            .unwrap_or(false);
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_then_removed() {
        let path =
            std::env::temp_dir().join(format!("prefork-pidfile-test-{}", std::process::id()));
        let pf = PidFile::write(&path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap().trim(),
            std::process::id().to_string()
        );
        drop(pf);
        assert!(!path.exists());
    }
}
