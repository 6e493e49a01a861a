//! Run ids and cancel tokens: 128 random bits each, hex. An id is unguessable
//! but public (it is in every shared link), so it lets anyone read a run;
//! acting on a run (cancelling it) takes its cancel token, which only the
//! client that created it is given.
//!
//! An id also names the instance that made it (`web1-3f2a…`): a live run
//! lives in that instance's memory only, so a reverse proxy in front of
//! several instances reads the owner from the URL and sends the run's
//! requests there (README, "Running several instances"). Ids made before
//! instances had names (32 hex digits alone) stay valid: those runs are
//! finished, and any instance serves them from the store.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RunId(String);

/// 128 bits from the OS's random source, as 32 hex digits.
fn random_hex() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Digits of the random part of an id.
const RANDOM_LEN: usize = 32;

fn is_random_part(text: &str) -> bool {
    text.len() == RANDOM_LEN && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl RunId {
    /// A fresh id of no instance (the shape before instances had names):
    /// for tests and temporary names.
    pub fn random() -> Self {
        RunId(random_hex())
    }

    /// A fresh id owned by `instance`.
    pub fn on(instance: &Instance) -> Self {
        RunId(format!("{}-{}", instance.0, random_hex()))
    }

    /// Accepts exactly the shapes `random` and `on` make; anything else is
    /// not a run.
    pub fn parse(text: &str) -> Option<Self> {
        let well_formed = match text.len().checked_sub(RANDOM_LEN + 1) {
            _ if is_random_part(text) => true,
            Some(at) => text.as_bytes()[at] == b'-' && is_random_part(&text[at + 1..]) && Instance::parse(&text[..at]).is_ok(),
            None => false,
        };
        well_formed.then(|| RunId(text.to_owned()))
    }

    /// The instance that made it; None for an id from before instances.
    pub fn instance(&self) -> Option<&str> {
        self.0.len().checked_sub(RANDOM_LEN + 1).map(|at| &self.0[..at])
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

/// This server's name among several behind one address: `--instance`.
/// 1 to 20 of `a-z`, `0-9` and `-`, starting with a letter or digit: it goes
/// into every id, every URL and the proxy's routing rule, so it needs no
/// escaping anywhere.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Instance(String);

/// Longest instance name.
pub const MAX_INSTANCE_LEN: usize = 20;

impl Instance {
    pub fn parse(text: &str) -> Result<Self, String> {
        let ok = (1..=MAX_INSTANCE_LEN).contains(&text.len())
            && text.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-'))
            && !text.starts_with('-');
        if ok {
            Ok(Instance(text.to_owned()))
        } else {
            Err(format!(
                "{text:?} is not an instance name: 1 to {MAX_INSTANCE_LEN} of a-z, 0-9 and '-', not starting with '-' (e.g. web1)"
            ))
        }
    }

    /// The default: this machine's host name (its first label, lowercased,
    /// anything else made '-'), which tells machines apart; several
    /// instances on one machine must each be given their own `--instance`
    /// (with PostgreSQL, a second instance of one name is refused at start).
    pub fn from_host() -> Self {
        let host = nix::unistd::gethostname().ok().and_then(|h| h.into_string().ok()).unwrap_or_default();
        Self::from_host_name(&host)
    }

    fn from_host_name(host: &str) -> Self {
        let label = host.split('.').next().unwrap_or("").to_ascii_lowercase();
        let name: String = label.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).take(MAX_INSTANCE_LEN).collect();
        Instance::parse(name.trim_matches('-')).unwrap_or_else(|_| Instance("forkline".into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Instance {
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
    fn an_id_names_its_instance_and_old_ids_name_none() {
        let web1 = Instance::parse("web-1").unwrap();
        let id = RunId::on(&web1);
        assert!(id.as_str().starts_with("web-1-"), "{id}");
        assert_eq!(RunId::parse(id.as_str()), Some(id.clone()));
        assert_eq!(id.instance(), Some("web-1"));
        assert_eq!(RunId::random().instance(), None);
    }

    #[test]
    fn instance_names_are_refused_unless_plain() {
        for bad in ["", "-a", "Web1", "a_b", "a.b", "a/b", &"a".repeat(21), "a b"] {
            assert!(Instance::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(Instance::from_host_name("Build-Box_7.example.org").as_str(), "build-box-7");
        assert_eq!(Instance::from_host_name("").as_str(), "forkline");
        assert_eq!(Instance::from_host_name("---").as_str(), "forkline");
    }

    #[test]
    fn other_shapes_are_not_ids() {
        let hex = "0123456789abcdef0123456789abcdef";
        for bad in [
            "",
            "../etc/passwd",
            "ABCDEF0123456789ABCDEF0123456789",
            &"a".repeat(33),
            &format!("-{hex}"),
            &format!("Web-{hex}"),
            &format!("web_{hex}"),
            &format!("{}-{hex}", "a".repeat(21)),
            &format!("web-{}", &hex[1..]),
        ] {
            assert_eq!(RunId::parse(bad), None, "{bad}");
        }
    }
}
