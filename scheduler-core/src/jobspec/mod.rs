//! HCL job specs: parsing, evaluation, and conversion into the job model.

pub mod diagnostic;
pub mod files;
pub mod functions;
pub mod value;

pub use diagnostic::{Diagnostic, Diagnostics, Position, Severity, SourceMap};
pub use files::{FileSource, MemoryFiles, NoFiles};
pub use value::Value;
