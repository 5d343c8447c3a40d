//! Progress reporting for long steps, without tying the pipeline to a terminal.
//!
//! The CLI shows bars (indicatif); Lambdas and tests pass [`NoProgress`].

/// Receives progress of a long step.
pub trait Progress: Send + Sync {
    /// A step starts; `total` is in `unit`s when known.
    fn begin(&self, step: &str, total: Option<u64>, unit: &'static str);
    /// `delta` more units are done.
    fn advance(&self, delta: u64);
    /// The step is over.
    fn end(&self);
}

/// Discards progress.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn begin(&self, _step: &str, _total: Option<u64>, _unit: &'static str) {}
    fn advance(&self, _delta: u64) {}
    fn end(&self) {}
}

/// Resident and peak resident memory of this process in MiB, for debug logs (Linux; zeros
/// elsewhere).
pub fn memory_mib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|line| line.starts_with(name))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|kib| kib.parse::<u64>().ok())
            .map_or(0, |kib| kib / 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}
