//! HCL printing of jobs (written later).
