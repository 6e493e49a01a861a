//! Run ids and cancel tokens: 128 random bits each, hex. An id is unguessable
//! but public (it is in every shared link), so it lets anyone read a run;
//! acting on a run (cancelling it) takes its cancel token, which only the
//! client that created it is given.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RunId(String);

/// 128 bits from the OS's random source, as 32 hex digits.
fn random_hex() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl RunId {
    /// A fresh id from the OS's random source.
    pub fn random() -> Self {
        RunId(random_hex())
    }

    /// Accepts exactly the shape `random` makes; anything else is not a run.
    pub fn parse(text: &str) -> Option<Self> {
        (text.len() == 32 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))).then(|| RunId(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a client shows to act on a run it created. Never serialised into a
/// summary, an event or an export.
#[derive(Clone, PartialEq, Eq)]
pub struct CancelToken(String);

impl CancelToken {
    pub fn random() -> Self {
        CancelToken(random_hex())
    }

    /// The token, to give to the run's creator once.
    pub fn reveal(&self) -> &str {
        &self.0
    }

    /// Compares in time independent of where they differ, so the answer's
    /// timing tells nothing about the token.
    pub fn matches(&self, offered: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), offered.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CancelToken(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_parse_and_differ() {
        let a = RunId::random();
        assert_eq!(RunId::parse(a.as_str()), Some(a.clone()));
        assert_ne!(a, RunId::random());
    }

    #[test]
    fn a_cancel_token_matches_only_itself_and_does_not_print() {
        let token = CancelToken::random();
        assert!(token.matches(token.reveal()));
        assert!(!token.matches(CancelToken::random().reveal()));
        assert!(!token.matches(""));
        assert!(!token.matches(&token.reveal()[..31]));
        assert!(!format!("{token:?}").contains(token.reveal()));
    }

    #[test]
    fn other_shapes_are_not_ids() {
        for bad in ["", "../etc/passwd", "ABCDEF0123456789ABCDEF0123456789", &"a".repeat(33)] {
            assert_eq!(RunId::parse(bad), None, "{bad}");
        }
    }
}
