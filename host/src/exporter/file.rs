//! OTLP JSON lines to a file or standard output.

use std::path::Path;

use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

use super::retry::ExportError;

/// Appends JSON lines to a file or standard output, one batch at a time.
pub struct LineWriter {
    target: Mutex<Target>,
    name: String,
}

enum Target {
    File(tokio::fs::File),
    Stdout(tokio::io::Stdout),
}

impl LineWriter {
    /// Opens `path` for appending, creating it if missing.
    pub fn file(path: &Path) -> anyhow::Result<Self> {
        use anyhow::Context;
        use std::os::unix::fs::OpenOptionsExt;
        // Spans are data users redact for a reason: a new file is the owner's alone.
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("opening export file {}", path.display()))?;
        Ok(LineWriter {
            target: Mutex::new(Target::File(tokio::fs::File::from_std(file))),
            name: path.display().to_string(),
        })
    }

    /// Writes to standard output.
    pub fn stdout() -> Self {
        LineWriter {
            target: Mutex::new(Target::Stdout(tokio::io::stdout())),
            name: "stdout".into(),
        }
    }

    /// Writes `bytes` (whole lines) and flushes.
    pub async fn write(&self, bytes: &[u8]) -> Result<(), ExportError> {
        let mut target = self.target.lock().await;
        let result = match &mut *target {
            Target::File(file) => match file.write_all(bytes).await {
                Ok(()) => file.flush().await,
                Err(e) => Err(e),
            },
            Target::Stdout(out) => match out.write_all(bytes).await {
                Ok(()) => out.flush().await,
                Err(e) => Err(e),
            },
        };
        result.map_err(|e| ExportError::retryable(format!("writing to {}: {e}", self.name)))
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[tokio::test]
    async fn a_new_export_file_is_readable_by_its_owner_alone() {
        let dir = std::env::temp_dir().join(format!("weft-file-mode-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("spans.jsonl");
        let _ = std::fs::remove_file(&path);
        let _writer = LineWriter::file(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
