//! Run ids: 128 random bits, hex. Unguessable, so a run's URL is its only key.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RunId(String);

impl RunId {
    /// A fresh id from the OS's random source.
    pub fn random() -> Self {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).expect("the OS random source is available");
        RunId(bytes.iter().map(|b| format!("{b:02x}")).collect())
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
    fn other_shapes_are_not_ids() {
        for bad in ["", "../etc/passwd", "ABCDEF0123456789ABCDEF0123456789", &"a".repeat(33)] {
            assert_eq!(RunId::parse(bad), None, "{bad}");
        }
    }
}
