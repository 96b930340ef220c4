//! Placeholder: this workload is being written.
use crate::bench::opts::TestOpts;
use crate::bench::workload::Workload;

/// The workload, configured by `opts`.
pub fn new(_opts: &TestOpts) -> anyhow::Result<Box<dyn Workload>> {
    anyhow::bail!("this workload is not implemented yet")
}
