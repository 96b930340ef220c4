//! A node's disk: an append-only log of records plus one snapshot, with an
//! explicit `sync`, read back at start.
//!
//! # Why
//!
//! Maelstrom never restarts a node, so every Gossip Glomers solution keeps
//! its state in memory. Our bench can kill a node and start it again under
//! the same id (and its simulator can crash one): whatever the node
//! acknowledged must then still be true, so the node needs somewhere to put
//! it that survives the process. This module is that place, kept small and
//! synchronous so a handler stays a plain state machine: a call returns
//! when the work is done, and nothing happens behind the handler's back.
//!
//! # The interface
//!
//! A [`Disk`] holds the durable state of one node:
//!
//! - [`Disk::append`] adds a record (any bytes) to the log. It is buffered,
//!   **not durable**, until the next [`Disk::sync`].
//! - [`Disk::sync`] makes every record appended so far durable (the model
//!   is `fsync`): a crash after `sync` returns loses none of them.
//! - [`Disk::snapshot`] replaces the snapshot with `state` and empties the
//!   log, atomically, and is durable when it returns. `state` must stand for
//!   everything the log held (records appended before it are discarded,
//!   synced or not): it is how a node compacts its log.
//! - [`Disk::load`] reads back the snapshot and the records appended after
//!   it, in order. A node calls it in [`super::Node::init`]; on a fresh disk
//!   it returns nothing.
//!
//! Records are framed by length and a CRC-32 of their bytes, so a record
//! torn by a crash (half written) is detected and discarded on read, with
//! everything after it; the log is cut back to its last whole record before
//! anything new is appended.
//!
//! # The write-ahead rule
//!
//! The runtime adds one rule on top: **no message leaves a node before every
//! record the node appended earlier is durable.** When the driver (or a
//! simulator) takes a host's output and the disk has unsynced records, the
//! host syncs first ([`super::NodeHost::output`]). So a handler that records
//! a client's write with `append` and then replies may rely on the reply
//! meaning "durable", and the cost is one sync per batch of output, not per
//! request: the Tokio driver takes everything waiting on stdin, handles it,
//! syncs once and writes all the replies (group commit). A node that also
//! records what it learns from peers before acknowledging it inherits the
//! same guarantee for its acknowledgements. If a sync fails, the held output
//! is dropped (and the failure logged): requesters time out, which is
//! indefinite, rather than hear a promise the disk did not keep.
//!
//! # What a crash may lose
//!
//! - Everything appended since the last sync may be lost, in part or in
//!   whole: a crash keeps some prefix of the unsynced bytes, which may end
//!   inside a record (a torn record, discarded on read).
//! - Nothing synced, and no snapshot once `snapshot` has returned.
//! - A snapshot is never half-installed: a crash during `snapshot` leaves
//!   either the old snapshot and its log or the new snapshot and an empty
//!   log.
//!
//! # Implementations
//!
//! - [`FileDisk`] (the Tokio driver's, when the environment variable
//!   [`DISK_ENV`] names a directory): files `<node>.log` and `<node>.snap`
//!   in that directory. Appends are held in the process until `sync`, which
//!   writes them and calls `fdatasync`; so a killed process loses exactly
//!   its unsynced records, like a crashed machine. `snapshot` writes a
//!   temporary file, syncs it, renames it into place and syncs the
//!   directory; the snapshot and the log carry an epoch, and a log older
//!   than the snapshot is ignored, which is what makes the switch atomic.
//! - [`MemDisk`] (the default, and the simulator's): the same framing in
//!   memory, behind a shared handle, so a simulator can keep the disk while
//!   it drops a crashed host, call [`MemDisk::crash`], and hand the same
//!   disk to the host it rebuilds. The crash keeps a prefix of the unsynced
//!   bytes whose length is drawn from the disk's own seeded RNG, so a
//!   simulated run stays a pure function of its seed.
//!
//! # Caveats
//!
//! - Without [`DISK_ENV`] the driver gives a node a [`MemDisk`], which dies
//!   with the process. This is deliberate: Maelstrom starts every node of
//!   every test in its own working directory (`/tmp`), so a default on
//!   files there would let one test recover another's state. The bench sets
//!   [`DISK_ENV`] for its nodes (one directory per node that survives
//!   restarts).
//! - The model is a process crash or a machine crash with an honest
//!   `fsync`; media corruption of synced data is detected by the checksum
//!   (the record and the rest of the log are discarded) but not repaired.
//! - The log is read whole at start: a node that writes much should
//!   snapshot now and then.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// Environment variable naming the directory that holds a node's files
/// (relative paths are taken from the node's working directory).
pub const DISK_ENV: &str = "GLOMERS_DISK";

/// The largest record (or snapshot) accepted: a length above this in a
/// frame is read as corruption, not as a reason to allocate.
pub const MAX_RECORD: usize = 1 << 30;

/// Bytes of framing before each record: its length and its CRC-32.
const FRAME_HEADER: usize = 8;

/// What [`Disk::load`] reads back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovered {
    /// The last snapshot, if one was ever taken.
    pub snapshot: Option<Vec<u8>>,
    /// The records appended after it, oldest first.
    pub records: Vec<Vec<u8>>,
}

impl Recovered {
    /// True on a disk that was never written.
    pub fn is_empty(&self) -> bool {
        self.snapshot.is_none() && self.records.is_empty()
    }
}

/// A node's disk. See the module docs for the guarantees.
pub trait Disk {
    /// Called by the runtime with the node's id when `init` arrives, before
    /// [`super::Node::init`] (a file disk names its files after it).
    fn attach(&mut self, node_id: &str) {
        let _ = node_id;
    }
    /// The snapshot and the records appended after it (including records
    /// not yet synced), with any torn tail discarded.
    fn load(&mut self) -> io::Result<Recovered>;
    /// Add a record to the log; durable only after the next [`Disk::sync`].
    fn append(&mut self, record: &[u8]) -> io::Result<()>;
    /// Make every record appended so far durable.
    fn sync(&mut self) -> io::Result<()>;
    /// Replace the snapshot with `state` and empty the log; durable on
    /// return.
    fn snapshot(&mut self, state: &[u8]) -> io::Result<()>;
    /// Whether records were appended since the last sync.
    fn dirty(&self) -> bool;
}

impl dyn Disk + '_ {
    /// [`Disk::append`] a value as one JSON record.
    pub fn append_json<T: Serialize + ?Sized>(&mut self, value: &T) -> io::Result<()> {
        let bytes = serde_json::to_vec(value).map_err(io::Error::other)?;
        self.append(&bytes)
    }

    /// [`Disk::snapshot`] a value as JSON.
    pub fn snapshot_json<T: Serialize + ?Sized>(&mut self, value: &T) -> io::Result<()> {
        let bytes = serde_json::to_vec(value).map_err(io::Error::other)?;
        self.snapshot(&bytes)
    }
}

/// A disk failure as a Maelstrom error: code 13 (crash), which is
/// indefinite, since a failed write may or may not have reached the disk.
pub fn disk_error(e: io::Error) -> super::Error {
    super::Error::new(super::ErrorCode::Crash, format!("disk: {e}"))
}

// ---- framing ----

/// CRC-32 (IEEE, reflected), table-driven.
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

/// The CRC-32 of `bytes`.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in bytes {
        c = CRC_TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

/// Append `record` to `out` as one frame.
fn frame(out: &mut Vec<u8>, record: &[u8]) -> io::Result<()> {
    if record.len() > MAX_RECORD {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("a record of {} bytes is over the limit", record.len()),
        ));
    }
    out.extend_from_slice(&(record.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32(record).to_le_bytes());
    out.extend_from_slice(record);
    Ok(())
}

/// The whole frames at the start of `bytes`, and how many bytes they span:
/// reading stops at the first frame that is cut short or fails its
/// checksum (a torn or corrupt tail).
fn unframe(bytes: &[u8]) -> (Vec<Vec<u8>>, usize) {
    let mut records = Vec::new();
    let mut at = 0;
    while bytes.len() - at >= FRAME_HEADER {
        let len = u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
        let crc = u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]]);
        let len = len as usize;
        let start = at + FRAME_HEADER;
        if len > MAX_RECORD || bytes.len() - start < len {
            break;
        }
        let record = &bytes[start..start + len];
        if crc32(record) != crc {
            break;
        }
        records.push(record.to_vec());
        at = start + len;
    }
    (records, at)
}

// ---- in memory ----

/// What a [`MemDisk`] holds.
#[derive(Debug)]
struct MemState {
    /// Durable log bytes (whole frames).
    log: Vec<u8>,
    /// Appended, not yet synced.
    pending: Vec<u8>,
    /// The durable snapshot.
    snapshot: Option<Vec<u8>>,
    /// Draws how much of `pending` a crash keeps.
    rng: SmallRng,
    /// Syncs that had something to write, for tests and cost checks.
    syncs: u64,
    /// Make the next sync fail (a test's fault).
    fail_next_sync: bool,
}

/// A disk in memory: a cheap shared handle (clones are the same disk), so
/// a simulator can keep it across a crash of the host that uses it.
#[derive(Debug, Clone)]
pub struct MemDisk(Arc<Mutex<MemState>>);

impl MemDisk {
    /// An empty disk whose crashes are drawn from `seed`.
    pub fn new(seed: u64) -> Self {
        MemDisk(Arc::new(Mutex::new(MemState {
            log: Vec::new(),
            pending: Vec::new(),
            snapshot: None,
            rng: SmallRng::seed_from_u64(seed),
            syncs: 0,
            fail_next_sync: false,
        })))
    }

    fn state(&self) -> MutexGuard<'_, MemState> {
        // A poisoned lock only means a panic elsewhere while it was held;
        // the bytes are still consistent (every update is a single step).
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Crash: keep a prefix of the unsynced bytes (its length drawn from the
    /// disk's RNG, anywhere from none to all), then cut the log back to its
    /// last whole record, as a restart's first read would. Synced records
    /// and the snapshot are kept. Returns how many unsynced records were
    /// lost (a torn one counts as lost).
    pub fn crash(&self) -> usize {
        let mut s = self.state();
        let (pending_records, _) = unframe(&s.pending);
        let len = s.pending.len();
        let keep = s.rng.gen_range(0..=len);
        let pending = std::mem::take(&mut s.pending);
        s.log.extend_from_slice(&pending[..keep]);
        let (_, whole) = unframe(&s.log);
        let before = s.log.len() - keep;
        s.log.truncate(whole);
        let (kept, _) = unframe(&s.log[before.min(whole)..]);
        pending_records.len() - kept.len()
    }

    /// How many syncs wrote something.
    pub fn syncs(&self) -> u64 {
        self.state().syncs
    }

    /// Records appended but not yet synced.
    pub fn unsynced_records(&self) -> usize {
        unframe(&self.state().pending).0.len()
    }

    /// Make the next sync (or snapshot) fail, to test a node's handling of
    /// a bad disk.
    pub fn fail_next_sync(&self) {
        self.state().fail_next_sync = true;
    }
}

impl Disk for MemDisk {
    fn load(&mut self) -> io::Result<Recovered> {
        let s = self.state();
        let mut bytes = s.log.clone();
        bytes.extend_from_slice(&s.pending);
        Ok(Recovered {
            snapshot: s.snapshot.clone(),
            records: unframe(&bytes).0,
        })
    }

    fn append(&mut self, record: &[u8]) -> io::Result<()> {
        frame(&mut self.state().pending, record)
    }

    fn sync(&mut self) -> io::Result<()> {
        let mut s = self.state();
        if std::mem::take(&mut s.fail_next_sync) {
            return Err(io::Error::other("injected sync failure"));
        }
        if !s.pending.is_empty() {
            let pending = std::mem::take(&mut s.pending);
            s.log.extend_from_slice(&pending);
            s.syncs += 1;
        }
        Ok(())
    }

    fn snapshot(&mut self, state: &[u8]) -> io::Result<()> {
        if state.len() > MAX_RECORD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "snapshot over the size limit",
            ));
        }
        let mut s = self.state();
        if std::mem::take(&mut s.fail_next_sync) {
            return Err(io::Error::other("injected sync failure"));
        }
        s.snapshot = Some(state.to_vec());
        s.log.clear();
        s.pending.clear();
        s.syncs += 1;
        Ok(())
    }

    fn dirty(&self) -> bool {
        !self.state().pending.is_empty()
    }
}

// ---- on files ----

/// The first bytes of a log file, before its epoch.
const LOG_MAGIC: &[u8; 8] = b"GLOMLOG1";
/// The first bytes of a snapshot file, before its epoch.
const SNAP_MAGIC: &[u8; 8] = b"GLOMSNP1";

/// An open log file and what is known about it.
#[derive(Debug)]
struct OpenLog {
    file: File,
    /// The epoch of the snapshot this log follows.
    epoch: u64,
}

/// A disk on files `<dir>/<node>.log` and `<dir>/<node>.snap`, opened at
/// first use. See the module docs for the format and the guarantees.
#[derive(Debug)]
pub struct FileDisk {
    dir: PathBuf,
    /// The node id the files are named after (set by [`Disk::attach`]).
    stem: Option<String>,
    log: Option<OpenLog>,
    /// Framed records appended since the last sync, not yet written.
    pending: Vec<u8>,
}

impl FileDisk {
    /// A disk in `dir` (created at first use).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FileDisk {
            dir: dir.into(),
            stem: None,
            log: None,
            pending: Vec::new(),
        }
    }

    fn path(&self, ext: &str) -> io::Result<PathBuf> {
        let stem = self
            .stem
            .as_deref()
            .ok_or_else(|| io::Error::other("the disk is used before init named the node"))?;
        Ok(self.dir.join(format!("{stem}.{ext}")))
    }

    /// Read the snapshot file: its epoch and bytes (epoch 0, none, if absent).
    fn read_snapshot(&self) -> io::Result<(u64, Option<Vec<u8>>)> {
        let path = self.path("snap")?;
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((0, None)),
            Err(e) => return Err(e),
        };
        let bad = || {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} is not a whole snapshot", path.display()),
            )
        };
        if bytes.len() < 16 || &bytes[..8] != SNAP_MAGIC {
            return Err(bad());
        }
        let epoch = u64::from_le_bytes(bytes[8..16].try_into().map_err(|_| bad())?);
        let (mut frames, _) = unframe(&bytes[16..]);
        // A snapshot file is only ever renamed into place whole and synced,
        // so a missing frame is corruption, not a torn write.
        let data = frames.pop().ok_or_else(bad)?;
        Ok((epoch, Some(data)))
    }

    /// Open the log (creating it, or replacing one older than the
    /// snapshot), cut any torn tail, and return its records.
    fn open(&mut self) -> io::Result<Vec<Vec<u8>>> {
        std::fs::create_dir_all(&self.dir)?;
        let (snap_epoch, _) = self.read_snapshot()?;
        let path = self.path("log")?;
        let mut bytes = Vec::new();
        match File::open(&path) {
            Ok(mut f) => {
                f.read_to_end(&mut bytes)?;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let header_ok = bytes.len() >= 16 && &bytes[..8] == LOG_MAGIC;
        let log_epoch = if header_ok {
            u64::from_le_bytes(bytes[8..16].try_into().unwrap_or_default())
        } else {
            0
        };
        if !header_ok || log_epoch < snap_epoch {
            // No log yet, a log torn inside its header, or one the snapshot
            // already covers: start an empty log for this epoch.
            self.fresh_log(snap_epoch)?;
            return Ok(Vec::new());
        }
        let (records, whole) = unframe(&bytes[16..]);
        let file = OpenOptions::new().read(true).write(true).open(&path)?;
        if 16 + whole < bytes.len() {
            file.set_len((16 + whole) as u64)?;
            file.sync_data()?;
        }
        let file = OpenOptions::new().append(true).open(&path)?;
        self.log = Some(OpenLog {
            file,
            epoch: log_epoch,
        });
        Ok(records)
    }

    /// Atomically replace the log with an empty one for `epoch`.
    fn fresh_log(&mut self, epoch: u64) -> io::Result<()> {
        let path = self.path("log")?;
        let mut header = LOG_MAGIC.to_vec();
        header.extend_from_slice(&epoch.to_le_bytes());
        write_atomically(&self.dir, &path, &header)?;
        let file = OpenOptions::new().append(true).open(&path)?;
        self.log = Some(OpenLog { file, epoch });
        Ok(())
    }

    fn ensure_open(&mut self) -> io::Result<()> {
        if self.log.is_none() {
            self.open()?;
        }
        Ok(())
    }
}

/// Write `bytes` to `path` so that a crash leaves either the old file or
/// the new one: a temporary file, synced, renamed over `path`, and the
/// directory synced.
fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    File::open(dir)?.sync_all()
}

impl Disk for FileDisk {
    fn attach(&mut self, node_id: &str) {
        // Node ids are short names like "n1"; anything that could leave the
        // directory is replaced.
        let stem: String = node_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if self.stem.as_deref() != Some(stem.as_str()) {
            self.stem = Some(stem);
            self.log = None;
        }
    }

    fn load(&mut self) -> io::Result<Recovered> {
        let mut records = self.open()?;
        records.extend(unframe(&self.pending).0);
        let (_, snapshot) = self.read_snapshot()?;
        Ok(Recovered { snapshot, records })
    }

    fn append(&mut self, record: &[u8]) -> io::Result<()> {
        frame(&mut self.pending, record)
    }

    fn sync(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.ensure_open()?;
        let Some(log) = self.log.as_mut() else {
            return Err(io::Error::other("the log is not open"));
        };
        log.file.write_all(&self.pending)?;
        log.file.sync_data()?;
        self.pending.clear();
        Ok(())
    }

    fn snapshot(&mut self, state: &[u8]) -> io::Result<()> {
        self.ensure_open()?;
        let epoch = self.log.as_ref().map_or(0, |l| l.epoch) + 1;
        let mut bytes = SNAP_MAGIC.to_vec();
        bytes.extend_from_slice(&epoch.to_le_bytes());
        frame(&mut bytes, state)?;
        write_atomically(&self.dir, &self.path("snap")?, &bytes)?;
        // From here the old log is ignored (its epoch is older), so a crash
        // before the next line loses nothing.
        self.pending.clear();
        self.fresh_log(epoch)
    }

    fn dirty(&self) -> bool {
        !self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(n: usize) -> Vec<Vec<u8>> {
        (0..n).map(|i| format!("record {i}").into_bytes()).collect()
    }

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn torn_and_corrupt_tails_are_cut() {
        let mut bytes = Vec::new();
        for r in records(3) {
            frame(&mut bytes, &r).unwrap();
        }
        let whole = bytes.len();
        for cut in 0..whole {
            let (got, at) = unframe(&bytes[..cut]);
            assert!(at <= cut);
            assert_eq!(got, records(3)[..got.len()].to_vec(), "cut {cut}");
        }
        assert_eq!(unframe(&bytes), (records(3), whole));
        // Flip a byte in the second record: it and the third are dropped.
        let mut bad = bytes.clone();
        bad[FRAME_HEADER + 8 + FRAME_HEADER + 2] ^= 1;
        assert_eq!(unframe(&bad).0, records(1));
        // An absurd length is corruption, not an allocation.
        let mut huge = (u32::MAX).to_le_bytes().to_vec();
        huge.extend_from_slice(&[0; 12]);
        assert_eq!(unframe(&huge), (vec![], 0));
    }

    #[test]
    fn mem_disk_keeps_synced_records_and_a_prefix_of_the_rest() {
        let mut lost_some = false;
        let mut kept_some = false;
        for seed in 0..64 {
            let disk = MemDisk::new(seed);
            let mut d = disk.clone();
            for r in &records(5) {
                d.append(r).unwrap();
            }
            d.sync().unwrap();
            for r in &records(10)[5..] {
                d.append(r).unwrap();
            }
            assert!(d.dirty());
            let lost = disk.crash();
            let got = d.load().unwrap().records;
            assert!(got.len() >= 5, "seed {seed}: a synced record was lost");
            assert_eq!(got, records(10)[..got.len()].to_vec(), "seed {seed}");
            assert_eq!(got.len() + lost, 10);
            lost_some |= lost > 0;
            kept_some |= got.len() > 5;
            // Appends after the crash follow the last whole record.
            d.append(b"after").unwrap();
            d.sync().unwrap();
            let again = d.load().unwrap().records;
            assert_eq!(again.last().map(Vec::as_slice), Some(&b"after"[..]));
            assert_eq!(again.len(), got.len() + 1);
        }
        assert!(lost_some && kept_some, "crashes should vary with the seed");
    }

    #[test]
    fn mem_disk_crash_is_deterministic() {
        let run = |seed| {
            let disk = MemDisk::new(seed);
            let mut d = disk.clone();
            for r in &records(20) {
                d.append(r).unwrap();
            }
            disk.crash();
            d.load().unwrap()
        };
        assert_eq!(run(7), run(7));
    }

    #[test]
    fn mem_disk_snapshot_replaces_the_log() {
        let disk = MemDisk::new(1);
        let mut d = disk.clone();
        d.append(b"a").unwrap();
        d.sync().unwrap();
        d.append(b"b").unwrap();
        d.snapshot(b"state ab").unwrap();
        d.append(b"c").unwrap();
        assert_eq!(disk.syncs(), 2);
        let r = d.load().unwrap();
        assert_eq!(r.snapshot.as_deref(), Some(&b"state ab"[..]));
        assert_eq!(r.records, vec![b"c".to_vec()]);
        d.sync().unwrap();
        disk.crash();
        assert_eq!(d.load().unwrap().records, vec![b"c".to_vec()]);
    }

    #[test]
    fn mem_disk_sync_failure_keeps_records_pending() {
        let disk = MemDisk::new(1);
        let mut d = disk.clone();
        d.append(b"a").unwrap();
        disk.fail_next_sync();
        assert!(d.sync().is_err());
        assert!(d.dirty());
        d.sync().unwrap();
        assert!(!d.dirty());
    }

    /// A node that records every `put` and replies.
    struct Recorder;

    #[derive(serde::Deserialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    enum Put {
        Put { v: u64 },
    }

    impl crate::runtime::Node for Recorder {
        type Payload = Put;
        fn init(
            _: &crate::runtime::Init,
            _: &mut crate::runtime::Ctx<'_, Self>,
        ) -> anyhow::Result<Self> {
            Ok(Recorder)
        }
        fn on_message(
            &mut self,
            msg: crate::runtime::Request<Put>,
            ctx: &mut crate::runtime::Ctx<'_, Self>,
        ) -> Result<(), crate::runtime::Error> {
            let Put::Put { v } = msg.payload;
            ctx.disk().append_json(&v).map_err(disk_error)?;
            ctx.reply(&msg, &serde_json::json!({"type": "put_ok"}));
            Ok(())
        }
    }

    fn recorder(disk: &MemDisk) -> crate::runtime::NodeHost<Recorder> {
        let mut h = crate::runtime::NodeHost::<Recorder>::new(0);
        h.set_disk(Box::new(disk.clone()));
        let init = r#"{"src":"c0","dest":"n0","body":{"type":"init","msg_id":1,"node_id":"n0","node_ids":["n0"]}}"#;
        h.handle_line(init.as_bytes(), std::time::Duration::ZERO);
        h.output().clear();
        h
    }

    fn put(h: &mut crate::runtime::NodeHost<Recorder>, v: u64) {
        let line =
            format!(r#"{{"src":"c1","dest":"n0","body":{{"type":"put","msg_id":{v},"v":{v}}}}}"#);
        h.handle_line(line.as_bytes(), std::time::Duration::ZERO);
    }

    #[test]
    fn output_waits_for_one_sync_of_everything_appended_before_it() {
        let disk = MemDisk::new(3);
        let mut h = recorder(&disk);
        for v in 0..10 {
            put(&mut h, v);
        }
        assert_eq!(disk.unsynced_records(), 10, "nothing synced before output");
        let out = String::from_utf8(std::mem::take(h.output())).unwrap();
        assert_eq!(out.lines().count(), 10);
        assert_eq!(
            (disk.unsynced_records(), disk.syncs()),
            (0, 1),
            "one group sync"
        );
        // A crash now loses nothing that was acknowledged.
        disk.crash();
        assert_eq!(disk.clone().load().unwrap().records.len(), 10);
    }

    #[test]
    fn a_failed_sync_drops_the_output_it_guarded() {
        let disk = MemDisk::new(3);
        let mut h = recorder(&disk);
        put(&mut h, 1);
        disk.fail_next_sync();
        assert!(h.output().is_empty(), "no reply without a durable record");
        let logs = String::from_utf8(std::mem::take(h.logs())).unwrap();
        assert!(logs.contains("disk sync failed"), "{logs}");
        put(&mut h, 2);
        assert_eq!(String::from_utf8_lossy(h.output()).lines().count(), 1);
        assert_eq!(disk.clone().load().unwrap().records.len(), 2);
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "glomers-storage-{name}-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn file_disk_survives_a_restart_and_drops_unsynced_records() {
        let dir = temp_dir("restart");
        let mut d = FileDisk::new(&dir);
        d.attach("n1");
        assert!(d.load().unwrap().is_empty());
        for r in &records(3) {
            d.append(r).unwrap();
        }
        d.sync().unwrap();
        d.append(b"never synced").unwrap();
        drop(d); // the process dies: unsynced appends never reach the file
        let mut d = FileDisk::new(&dir);
        d.attach("n1");
        assert_eq!(d.load().unwrap().records, records(3));
        // Another node's files are its own.
        let mut other = FileDisk::new(&dir);
        other.attach("n2");
        assert!(other.load().unwrap().is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn file_disk_cuts_a_torn_tail_before_appending() {
        let dir = temp_dir("torn");
        let mut d = FileDisk::new(&dir);
        d.attach("n0");
        d.load().unwrap();
        for r in &records(2) {
            d.append(r).unwrap();
        }
        d.sync().unwrap();
        drop(d);
        // Half a record, as a crash in the middle of a write leaves it.
        let path = dir.join("n0.log");
        let mut half = Vec::new();
        frame(&mut half, b"half written").unwrap();
        half.truncate(half.len() - 4);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&half).unwrap();
        drop(f);
        let mut d = FileDisk::new(&dir);
        d.attach("n0");
        assert_eq!(d.load().unwrap().records, records(2));
        d.append(b"next").unwrap();
        d.sync().unwrap();
        let mut d = FileDisk::new(&dir);
        d.attach("n0");
        let mut want = records(2);
        want.push(b"next".to_vec());
        assert_eq!(d.load().unwrap().records, want);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn file_disk_snapshot_is_atomic_and_compacts() {
        let dir = temp_dir("snap");
        let mut d = FileDisk::new(&dir);
        d.attach("n0");
        d.append(b"a").unwrap();
        d.sync().unwrap();
        d.snapshot(b"S1").unwrap();
        d.append(b"b").unwrap();
        d.sync().unwrap();
        let mut r = FileDisk::new(&dir);
        r.attach("n0");
        let got = r.load().unwrap();
        assert_eq!(got.snapshot.as_deref(), Some(&b"S1"[..]));
        assert_eq!(got.records, vec![b"b".to_vec()]);
        // A crash between installing a snapshot and replacing the log: the
        // old log (older epoch) must be ignored, not replayed on top.
        let log = std::fs::read(dir.join("n0.log")).unwrap();
        d.snapshot(b"S2").unwrap();
        std::fs::write(dir.join("n0.log"), &log).unwrap();
        let mut r = FileDisk::new(&dir);
        r.attach("n0");
        let got = r.load().unwrap();
        assert_eq!(got.snapshot.as_deref(), Some(&b"S2"[..]));
        assert!(got.records.is_empty(), "{:?}", got.records);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn file_disk_refuses_a_corrupt_snapshot_and_use_before_init() {
        let dir = temp_dir("bad");
        let mut d = FileDisk::new(&dir);
        assert!(d.load().is_err(), "no node id yet");
        d.attach("n0");
        d.snapshot(b"good").unwrap();
        let path = dir.join("n0.snap");
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let mut d = FileDisk::new(&dir);
        d.attach("n0");
        let e = d.load().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
