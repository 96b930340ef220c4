//! Maelstrom's error codes ([M] `resources/errors.edn`) as a typed enum.
//!
//! Codes 0–999 are Maelstrom's; codes ≥ 1000 belong to the user and are always
//! indefinite. A *definite* error means the operation certainly did not take
//! effect; an indefinite one means it may or may not have.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A Maelstrom error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 0: the request could not complete in time (indefinite).
    Timeout,
    /// 1: the request was addressed to a node that does not exist (definite).
    NodeNotFound,
    /// 10: the operation is not supported (definite).
    NotSupported,
    /// 11: definitely cannot do it now (definite).
    TemporarilyUnavailable,
    /// 12: the request could not possibly be processed (definite).
    MalformedRequest,
    /// 13: generic indefinite failure.
    Crash,
    /// 14: generic definite failure.
    Abort,
    /// 20: the key does not exist (definite).
    KeyDoesNotExist,
    /// 21: the key already exists (definite).
    KeyAlreadyExists,
    /// 22: a precondition (such as a CAS `from`) failed (definite).
    PreconditionFailed,
    /// 30: the transaction was aborted by a conflict (definite).
    TxnConflict,
    /// Any other code: ≥ 1000 are user codes; unknown codes below 1000 are
    /// treated as Maelstrom treats them (name `unknown`, indefinite).
    Other(u64),
}

impl ErrorCode {
    /// The numeric wire code.
    pub fn code(self) -> u64 {
        match self {
            ErrorCode::Timeout => 0,
            ErrorCode::NodeNotFound => 1,
            ErrorCode::NotSupported => 10,
            ErrorCode::TemporarilyUnavailable => 11,
            ErrorCode::MalformedRequest => 12,
            ErrorCode::Crash => 13,
            ErrorCode::Abort => 14,
            ErrorCode::KeyDoesNotExist => 20,
            ErrorCode::KeyAlreadyExists => 21,
            ErrorCode::PreconditionFailed => 22,
            ErrorCode::TxnConflict => 30,
            ErrorCode::Other(c) => c,
        }
    }

    /// The code for a wire number.
    pub fn from_code(code: u64) -> Self {
        match code {
            0 => ErrorCode::Timeout,
            1 => ErrorCode::NodeNotFound,
            10 => ErrorCode::NotSupported,
            11 => ErrorCode::TemporarilyUnavailable,
            12 => ErrorCode::MalformedRequest,
            13 => ErrorCode::Crash,
            14 => ErrorCode::Abort,
            20 => ErrorCode::KeyDoesNotExist,
            21 => ErrorCode::KeyAlreadyExists,
            22 => ErrorCode::PreconditionFailed,
            30 => ErrorCode::TxnConflict,
            c => ErrorCode::Other(c),
        }
    }

    /// Maelstrom's name for the code (`unknown` for codes it does not know).
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::Timeout => "timeout",
            ErrorCode::NodeNotFound => "node-not-found",
            ErrorCode::NotSupported => "not-supported",
            ErrorCode::TemporarilyUnavailable => "temporarily-unavailable",
            ErrorCode::MalformedRequest => "malformed-request",
            ErrorCode::Crash => "crash",
            ErrorCode::Abort => "abort",
            ErrorCode::KeyDoesNotExist => "key-does-not-exist",
            ErrorCode::KeyAlreadyExists => "key-already-exists",
            ErrorCode::PreconditionFailed => "precondition-failed",
            ErrorCode::TxnConflict => "txn-conflict",
            ErrorCode::Other(_) => "unknown",
        }
    }

    /// True when the error guarantees the operation did not happen.
    pub fn is_definite(self) -> bool {
        !matches!(
            self,
            ErrorCode::Timeout | ErrorCode::Crash | ErrorCode::Other(_)
        )
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.code())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        u64::deserialize(d).map(ErrorCode::from_code)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.code())
    }
}

/// An error with a Maelstrom code: what a handler returns to make the runtime
/// send an error reply, and what an RPC yields when it fails or times out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Error {
    /// The Maelstrom error code.
    pub code: ErrorCode,
    /// Free text for humans; may be empty.
    #[serde(default)]
    pub text: String,
}

impl Error {
    /// An error with a code and a text.
    pub fn new(code: ErrorCode, text: impl Into<String>) -> Self {
        Error {
            code,
            text: text.into(),
        }
    }

    /// The error an RPC yields when its deadline passes without a reply.
    pub fn timeout() -> Self {
        Error::new(ErrorCode::Timeout, "RPC timed out")
    }

    /// True when the error guarantees the operation did not happen.
    pub fn is_definite(&self) -> bool {
        self.code.is_definite()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.text.is_empty() {
            write!(f, "{}", self.code)
        } else {
            write!(f, "{}: {}", self.code, self.text)
        }
    }
}

impl std::error::Error for Error {}

/// An unexpected failure inside a handler becomes code 13 (crash), which is
/// indefinite and therefore always safe to report.
impl From<anyhow::Error> for Error {
    fn from(e: anyhow::Error) -> Self {
        Error::new(ErrorCode::Crash, format!("{e:#}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definiteness_matches_maelstrom_table() {
        let definite = [1, 10, 11, 12, 14, 20, 21, 22, 30];
        let indefinite = [0, 13, 2, 999, 1000, 1234];
        for c in definite {
            assert!(ErrorCode::from_code(c).is_definite(), "{c}");
        }
        for c in indefinite {
            assert!(!ErrorCode::from_code(c).is_definite(), "{c}");
        }
        for c in [0, 1, 10, 11, 12, 13, 14, 20, 21, 22, 30, 1000, 5] {
            assert_eq!(ErrorCode::from_code(c).code(), c);
        }
    }
}
