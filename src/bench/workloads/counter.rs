//! Placeholder: this workload is being written.
use crate::bench::opts::TestOpts;
use crate::bench::workload::Workload;

/// The g-counter (or, with `pn`, pn-counter) workload.
pub fn new(_opts: &TestOpts, _pn: bool) -> anyhow::Result<Box<dyn Workload>> {
    anyhow::bail!("this workload is not implemented yet")
}
