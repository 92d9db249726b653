//! Errors of an inventory scan. Only the package root itself can fail a scan: a file that cannot
//! be read or parsed inside it becomes a signal instead.

use std::io;
use std::path::PathBuf;

/// Why a package could not be inventoried.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InventoryError {
    /// The package root does not exist or is not a directory.
    #[error("package root {} is not a directory", path.display())]
    NotADirectory {
        /// The root given.
        path: PathBuf,
    },
    /// Listing a directory of the package failed.
    #[error("listing package directory {}", path.display())]
    ReadDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}
