//! Signed tokens for tracking, unsubscribe and preference links: unguessable, and useless once altered.
//!
//! A token reads `{workspace_id}.{payload}.{tag}`: the workspace id in clear
//! so the server can pick that workspace's secret, the claims as URL-safe
//! base64, and the first 16 bytes of an HMAC-SHA256 over the purpose, the
//! workspace id and the payload. A click token cannot serve as an
//! unsubscribe token, nor a token of one workspace in another.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;

/// Longest token accepted; anything longer is refused unread, so a huge
/// query string costs no hashing.
pub const MAX_TOKEN_LEN: usize = 8192;

/// Longest link a click token should carry, so the token stays under
/// [`MAX_TOKEN_LEN`]; longer links are best left untracked.
pub const MAX_URL_LEN: usize = 4096;

/// Bytes of the HMAC kept in a token: 128 bits cannot be guessed and keep
/// links short.
const TAG_LEN: usize = 16;

/// What a token may be used for; part of the signed input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Click,
    Open,
    Unsubscribe,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Click => "click",
            Purpose::Open => "open",
            Purpose::Unsubscribe => "unsubscribe",
        }
    }
}

/// What a token says: who got which broadcast, and for a click, the link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub workspace_id: i64,
    pub broadcast_id: i64,
    pub contact_id: i64,
    /// The link's target; only click tokens carry one.
    pub url: Option<String>,
}

/// A fresh workspace secret: 32 random bytes as hex.
pub fn new_secret() -> String {
    crate::secret::random_hex(32)
}

/// The signed input: purpose and workspace are bound to the payload, so
/// neither can be swapped.
fn tag(secret: &[u8], purpose: Purpose, workspace: &str, payload: &str) -> hmac::Tag {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(purpose.as_str().as_bytes());
    ctx.update(b"\0");
    ctx.update(workspace.as_bytes());
    ctx.update(b"\0");
    ctx.update(payload.as_bytes());
    ctx.sign()
}

/// Sign claims for one purpose. A `url` is only kept for clicks.
pub fn sign(secret: &[u8], purpose: Purpose, c: &Claims) -> String {
    let mut text = format!("{}:{}", c.broadcast_id, c.contact_id);
    if purpose == Purpose::Click {
        text.push(':');
        text.push_str(c.url.as_deref().unwrap_or(""));
    }
    let workspace = c.workspace_id.to_string();
    let payload = URL_SAFE_NO_PAD.encode(text.as_bytes());
    let t = tag(secret, purpose, &workspace, &payload);
    let mac = URL_SAFE_NO_PAD.encode(&t.as_ref()[..TAG_LEN]);
    format!("{workspace}.{payload}.{mac}")
}

/// The workspace a token names, before it is verified (to look up the
/// secret it must be verified with). `None` for anything malformed.
pub fn workspace_of(token: &str) -> Option<i64> {
    if token.len() > MAX_TOKEN_LEN {
        return None;
    }
    let (ws, _) = token.split_once('.')?;
    parse_id(ws)
}

/// A decimal id as `sign` writes it: digits only, no sign, no leading zero,
/// so each id has exactly one spelling.
fn parse_id(s: &str) -> Option<i64> {
    let canonical = !s.is_empty()
        && s.len() <= 19
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    if !canonical {
        return None;
    }
    s.parse().ok()
}

/// Check a token for one purpose and read its claims. `None` when it was
/// altered, signed with another secret or for another purpose, or is not a
/// token at all.
pub fn verify(secret: &[u8], purpose: Purpose, token: &str) -> Option<Claims> {
    if token.len() > MAX_TOKEN_LEN {
        return None;
    }
    let mut parts = token.split('.');
    let (ws, payload, mac) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let workspace_id = parse_id(ws)?;
    let given = URL_SAFE_NO_PAD.decode(mac).ok()?;
    if given.len() != TAG_LEN {
        return None;
    }
    let expected = tag(secret, purpose, ws, payload);
    // ring compares whole tags in constant time but offers no public
    // constant-time compare of truncated ones; comparing HMACs of the two
    // truncated tags gives the same answer with the same guarantee.
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let check = hmac::sign(&key, &expected.as_ref()[..TAG_LEN]);
    hmac::verify(&key, &given, check.as_ref()).ok()?;
    claims(workspace_id, purpose, payload)
}

/// Read a verified payload; `None` if it does not have the purpose's shape.
fn claims(workspace_id: i64, purpose: Purpose, payload: &str) -> Option<Claims> {
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let mut fields = text.splitn(3, ':');
    let broadcast_id = parse_id(fields.next()?)?;
    let contact_id = parse_id(fields.next()?)?;
    let url = fields.next().map(str::to_string);
    if (purpose == Purpose::Click) != url.is_some() {
        return None;
    }
    Some(Claims {
        workspace_id,
        broadcast_id,
        contact_id,
        url,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn click() -> Claims {
        Claims {
            workspace_id: 7,
            broadcast_id: 42,
            contact_id: 1001,
            url: Some("https://acme.example/shoes?size=42&colour=red#top".into()),
        }
    }

    fn unsubscribe() -> Claims {
        Claims {
            url: None,
            ..click()
        }
    }

    #[test]
    fn a_signed_token_verifies_to_its_claims() {
        let t = sign(SECRET, Purpose::Click, &click());
        assert_eq!(verify(SECRET, Purpose::Click, &t), Some(click()));
        let t = sign(SECRET, Purpose::Unsubscribe, &unsubscribe());
        assert_eq!(
            verify(SECRET, Purpose::Unsubscribe, &t),
            Some(unsubscribe())
        );
    }

    #[test]
    fn tokens_are_url_safe_and_name_their_workspace() {
        let t = sign(SECRET, Purpose::Click, &click());
        assert!(
            t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
            "{t}"
        );
        assert!(t.starts_with("7."), "{t}");
        assert_eq!(workspace_of(&t), Some(7));
        assert_eq!(workspace_of("abc.def.ghi"), None);
        assert_eq!(workspace_of("007.def.ghi"), None);
    }

    #[test]
    fn a_token_for_one_purpose_is_refused_for_another() {
        let t = sign(SECRET, Purpose::Open, &unsubscribe());
        assert!(verify(SECRET, Purpose::Open, &t).is_some());
        assert_eq!(verify(SECRET, Purpose::Unsubscribe, &t), None);
        assert_eq!(verify(SECRET, Purpose::Click, &t), None);
    }

    #[test]
    fn another_workspaces_secret_does_not_verify() {
        let t = sign(SECRET, Purpose::Unsubscribe, &unsubscribe());
        assert_eq!(
            verify(b"another workspace secret", Purpose::Unsubscribe, &t),
            None
        );
    }

    #[test]
    fn an_altered_payload_tag_or_workspace_is_refused() {
        let t = sign(SECRET, Purpose::Unsubscribe, &unsubscribe());
        let parts: Vec<&str> = t.split('.').collect();
        let forged_payload = URL_SAFE_NO_PAD.encode(b"42:1002");
        let altered = [
            format!("{}.{}.{}", parts[0], forged_payload, parts[2]),
            format!("8.{}.{}", parts[1], parts[2]),
            format!(
                "{}.{}.{}",
                parts[0],
                parts[1],
                URL_SAFE_NO_PAD.encode([0u8; 16])
            ),
            format!("{}.{}.{}A", parts[0], parts[1], parts[2]),
            format!("{t}.extra"),
            t[..t.len() - 1].to_string(),
        ];
        for bad in altered {
            assert_eq!(verify(SECRET, Purpose::Unsubscribe, &bad), None, "{bad}");
        }
    }

    #[test]
    fn garbage_and_huge_inputs_are_refused() {
        for bad in ["", ".", "..", "1..", "1.x.y", "-1.AA.AA", "1.AA.AA.AA"] {
            assert_eq!(verify(SECRET, Purpose::Open, bad), None, "{bad:?}");
        }
        let huge = format!("1.{}.AA", "A".repeat(MAX_TOKEN_LEN));
        assert_eq!(verify(SECRET, Purpose::Open, &huge), None);
        assert_eq!(workspace_of(&huge), None);
    }

    #[test]
    fn a_click_token_keeps_a_long_link() {
        let mut c = click();
        c.url = Some(format!(
            "https://acme.example/?q={}",
            "x".repeat(MAX_URL_LEN - 40)
        ));
        let t = sign(SECRET, Purpose::Click, &c);
        assert!(t.len() <= MAX_TOKEN_LEN);
        assert_eq!(verify(SECRET, Purpose::Click, &t), Some(c));
    }

    #[test]
    fn new_secrets_are_random_hex() {
        let (a, b) = (new_secret(), new_secret());
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    proptest! {
        #[test]
        fn random_strings_never_verify(s in "\\PC{0,200}") {
            for p in [Purpose::Click, Purpose::Open, Purpose::Unsubscribe] {
                prop_assert_eq!(verify(SECRET, p, &s), None);
            }
            let _ = workspace_of(&s);
        }

        #[test]
        fn mutated_tokens_never_verify(
            at in 0usize..1000,
            byte in proptest::sample::select(b"0123456789ABCabc-_.=+/ \0".to_vec()),
            contact in 0i64..i64::MAX,
        ) {
            let c = Claims { contact_id: contact, ..click() };
            let t = sign(SECRET, Purpose::Click, &c);
            let at = at % t.len();
            let mut bytes = t.into_bytes();
            prop_assume!(bytes[at] != byte);
            bytes[at] = byte;
            let mutated = String::from_utf8(bytes).expect("ascii");
            // Every character counts: the MAC covers the text of the
            // workspace id and payload, and base64 decoding is strict, so
            // a tag has exactly one spelling.
            prop_assert_eq!(verify(SECRET, Purpose::Click, &mutated), None);
        }
    }
}
