//! Per-CPU reader lock (placeholder, filled in below).
