//! One email as it goes on the wire: MIME parts, the headers every marketing email carries, and the DKIM signature.
//!
//! `build` turns a rendered `Outgoing` into an `Email` (envelope and wire
//! bytes): text and HTML as alternatives, one-click unsubscribe (RFC 8058),
//! an optional Feedback-ID, and a relaxed/relaxed DKIM signature (RFC 6376,
//! RSA-SHA256 or Ed25519-SHA256 per RFC 8463) from a `DkimKey` parsed once
//! per provider. Signing is done here with ring: it is most of the CPU an
//! email costs, and ring's RSA is several times faster than lettre's.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use lettre::address::Envelope;
use lettre::message::header::{ContentTransferEncoding, ContentType, HeaderName, HeaderValue};
use lettre::message::{Body, Mailbox, MultiPart};
use lettre::{Address, Message};
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};

use crate::AppError;

/// A rendered email for one person, ready to be put on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// Display name of the sender; may be empty.
    pub from_name: String,
    pub from_email: String,
    /// An address, or `Name <address>`; blank means none.
    pub reply_to: Option<String>,
    /// The recipient's address.
    pub to: String,
    pub subject: String,
    pub html: String,
    pub text: String,
    /// `<unique@domain>`, from `message_id`.
    pub message_id: String,
    /// The one-click unsubscribe link (http or https).
    pub unsubscribe_url: String,
    /// An address (or a `mailto:` URI) that unsubscribes whoever writes to it.
    pub unsubscribe_mailto: Option<String>,
    /// For mailbox providers' complaint reports, e.g. `broadcast-12:ws-3:pitcrew`.
    pub feedback_id: Option<String>,
}

/// Why an email could not be built, naming the input at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// A header value is unusable (bad address, malformed link, ...).
    #[error("{field}: {message}")]
    Field {
        field: &'static str,
        message: String,
    },
    /// The DKIM domain, selector or private key is unusable.
    #[error("{field}: {message}")]
    Dkim {
        field: &'static str,
        message: String,
    },
}

impl MessageError {
    /// Stable, machine-readable.
    pub fn code(&self) -> &'static str {
        match self {
            MessageError::Field { .. } => "message_field_invalid",
            MessageError::Dkim { .. } => "dkim_key_invalid",
        }
    }

    /// The input at fault, e.g. `from_email` or `dkim_private_key`.
    pub fn field(&self) -> &'static str {
        match self {
            MessageError::Field { field, .. } | MessageError::Dkim { field, .. } => field,
        }
    }

    fn field_err(field: &'static str, message: impl Into<String>) -> MessageError {
        MessageError::Field {
            field,
            message: message.into(),
        }
    }

    fn dkim(field: &'static str, message: impl Into<String>) -> MessageError {
        MessageError::Dkim {
            field,
            message: message.into(),
        }
    }
}

impl From<MessageError> for AppError {
    fn from(e: MessageError) -> AppError {
        let (code, field) = (e.code(), e.field());
        let message = match e {
            MessageError::Field { message, .. } | MessageError::Dkim { message, .. } => message,
        };
        AppError::invalid(code, field, message)
    }
}

/// A new, globally unique Message-ID (`<32 hex digits@domain>`, 128 random bits).
pub fn message_id(domain: &str) -> String {
    let domain = domain.trim().trim_end_matches('.');
    let domain = if domain.is_empty() {
        "pitcrew.invalid"
    } else {
        domain
    };
    format!("<{}@{domain}>", crate::secret::random_hex(16))
}

/// Headers the signature covers. Reply-To and Feedback-ID are listed even when
/// absent: a signed absent header cannot be added later without breaking the
/// signature, so nobody can slip a Reply-To into a replayed copy.
const SIGNED_HEADERS: [&str; 12] = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "Feedback-ID",
];

/// A DKIM signing identity (domain, selector, private key), parsed once and
/// reused for every message of a provider.
pub struct DkimKey {
    domain: String,
    selector: String,
    /// `k=` and `p=` of the DNS record that verifies this key.
    key_type: &'static str,
    public_key: String,
    signer: Signer,
}

/// The private half of a DKIM key, ready to sign.
enum Signer {
    Rsa(RsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

impl fmt::Debug for DkimKey {
    // The private key never appears in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DkimKey")
            .field("domain", &self.domain)
            .field("selector", &self.selector)
            .field("key_type", &self.key_type)
            .field("private_key", &"<redacted>")
            .finish()
    }
}

impl DkimKey {
    /// Parses a private key in PEM form: RSA as PKCS#1 (`BEGIN RSA PRIVATE
    /// KEY`) or PKCS#8 (`BEGIN PRIVATE KEY`), or Ed25519 as PKCS#8.
    pub fn new(
        domain: &str,
        selector: &str,
        private_key_pem: &str,
    ) -> Result<DkimKey, MessageError> {
        let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        if !is_dns_name(&domain) || !domain.contains('.') {
            return Err(MessageError::dkim(
                "dkim_domain",
                format!(
                    "`{domain}` is not a domain name; give the domain the signature speaks for, e.g. example.com"
                ),
            ));
        }
        let selector = selector.trim().to_ascii_lowercase();
        if !is_dns_name(&selector) {
            return Err(MessageError::dkim(
                "dkim_selector",
                format!(
                    "`{selector}` is not a DKIM selector; use letters, digits, hyphens and dots, e.g. pitcrew1"
                ),
            ));
        }
        let damaged = |kind: &str, e: &dyn fmt::Display| {
            MessageError::dkim(
                "dkim_private_key",
                format!("the {kind} private key is damaged ({e}); export it again"),
            )
        };
        let (signer, key_type, public_key) = match parse_private_key(private_key_pem)? {
            PrivateKey::Rsa { pkcs1 } => {
                let public = rsa_public_key_info(&pkcs1)?;
                let pair = RsaKeyPair::from_der(&pkcs1).map_err(|e| damaged("RSA", &e))?;
                (Signer::Rsa(pair), "rsa", BASE64.encode(public))
            }
            PrivateKey::Ed25519 { seed } => {
                let pair = Ed25519KeyPair::from_seed_unchecked(&seed)
                    .map_err(|e| damaged("Ed25519", &e))?;
                let public = ring::signature::KeyPair::public_key(&pair)
                    .as_ref()
                    .to_vec();
                (Signer::Ed25519(pair), "ed25519", BASE64.encode(public))
            }
        };
        Ok(DkimKey {
            domain,
            selector,
            key_type,
            public_key,
            signer,
        })
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    pub fn selector(&self) -> &str {
        &self.selector
    }

    /// Where the public key must be published: `selector._domainkey.domain`.
    pub fn dns_name(&self) -> String {
        format!("{}._domainkey.{}", self.selector, self.domain)
    }

    /// The TXT record to publish at `dns_name`, e.g. `v=DKIM1; k=rsa; p=MIIB…`.
    pub fn dns_txt(&self) -> String {
        format!("v=DKIM1; k={}; p={}", self.key_type, self.public_key)
    }
}

/// One email ready for the wire: who it goes to and its bytes.
#[derive(Debug, Clone)]
pub struct Email {
    envelope: Envelope,
    bytes: Vec<u8>,
}

impl Email {
    /// The SMTP envelope: MAIL FROM and RCPT TO.
    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }

    /// The bytes that go after DATA (before dot-stuffing).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// Builds the email, signed with `dkim` when given.
pub fn build(o: &Outgoing, dkim: Option<&DkimKey>) -> Result<Email, MessageError> {
    let from_address = address("from_email", &o.from_email)?;
    let from_name = one_line(&o.from_name);
    let from = Mailbox::new((!from_name.is_empty()).then_some(from_name), from_address);
    let to = Mailbox::new(None, address("to", &o.to)?);
    let mut builder = Message::builder()
        .from(from)
        .to(to)
        .subject(one_line(&o.subject))
        .message_id(Some(checked_message_id(&o.message_id)?));
    if let Some(reply_to) = o
        .reply_to
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
    {
        let mailbox: Mailbox = reply_to.parse().map_err(|e| {
            MessageError::field_err(
                "reply_to",
                format!("`{reply_to}` is not an email address ({e}); give `name@example.com` or `Name <name@example.com>`"),
            )
        })?;
        builder = builder.reply_to(mailbox);
    }
    builder = builder
        .raw_header(raw_header("List-Unsubscribe", list_unsubscribe(o)?))
        // RFC 8058: a POST with exactly this body unsubscribes without a page visit.
        .raw_header(raw_header(
            "List-Unsubscribe-Post",
            "List-Unsubscribe=One-Click".to_string(),
        ));
    if let Some(feedback_id) = o
        .feedback_id
        .as_deref()
        .map(str::trim)
        .filter(|f| !f.is_empty())
    {
        builder = builder.raw_header(raw_header("Feedback-ID", checked_feedback_id(feedback_id)?));
    }

    // lettre keeps a multipart's Content-Type among the part's own headers,
    // outside the message headers the DKIM signer sees; lifting it into the
    // message headers lets the signature cover it (and so the boundary).
    let parts = MultiPart::alternative_plain_html(o.text.clone(), o.html.clone());
    let content_type = parts
        .headers()
        .get::<ContentType>()
        .ok_or_else(|| MessageError::field_err("html", "the message parts have no content type"))?;
    let formatted = parts.formatted();
    let body = match formatted.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(end) => formatted[end + 4..].to_vec(),
        None => {
            return Err(MessageError::field_err(
                "html",
                "the message parts could not be laid out",
            ));
        }
    };
    let message = builder
        .header(lettre::message::header::MIME_VERSION_1_0)
        .header(content_type)
        // Each part is already 7-bit (quoted-printable or base64 where needed).
        .body(Body::dangerous_pre_encoded(
            body,
            ContentTransferEncoding::SevenBit,
        ))
        .map_err(|e| {
            MessageError::field_err("to", format!("the message could not be assembled: {e}"))
        })?;
    let unsigned = message.formatted();
    let bytes = match dkim {
        Some(key) => key.sign(&unsigned, unix_seconds())?,
        None => unsigned,
    };
    Ok(Email {
        envelope: message.envelope().clone(),
        bytes,
    })
}

fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl DkimKey {
    /// The message with a `DKIM-Signature` header in front (RFC 6376,
    /// relaxed/relaxed), made at `timestamp` (Unix seconds).
    fn sign(&self, message: &[u8], timestamp: u64) -> Result<Vec<u8>, MessageError> {
        let (head, body) = split_message(message);
        let body_hash = ring::digest::digest(&ring::digest::SHA256, &relaxed_body(body));
        let algorithm = match self.signer {
            Signer::Rsa(_) => "rsa-sha256",
            Signer::Ed25519(_) => "ed25519-sha256",
        };
        let names: Vec<String> = SIGNED_HEADERS
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect();
        // Folded between tags; verifiers unfold before they check.
        let header = format!(
            "DKIM-Signature: v=1; a={algorithm}; c=relaxed/relaxed; d={}; s={};\r\n t={timestamp}; h={};\r\n bh={};\r\n b=",
            self.domain,
            self.selector,
            names.join(":"),
            BASE64.encode(body_hash.as_ref()),
        );
        let fields = header_fields(head);
        let mut signed = Vec::with_capacity(1024);
        // Each listed name takes its last instance; a name listed but
        // absent adds nothing, which is what stops it being added later.
        for name in &names {
            if let Some(field) = fields.iter().rev().find(|f| f.name_is(name)) {
                relaxed_header(field.raw, &mut signed);
                signed.extend_from_slice(b"\r\n");
            }
        }
        relaxed_header(header.as_bytes(), &mut signed);
        let signature = match &self.signer {
            Signer::Rsa(pair) => {
                let mut out = vec![0; pair.public().modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), &signed, &mut out)
                    .map_err(|_| {
                        MessageError::dkim(
                            "dkim_private_key",
                            "the RSA key could not sign; check the key in the sending settings",
                        )
                    })?;
                out
            }
            Signer::Ed25519(pair) => {
                // RFC 8463: Ed25519 signs the SHA-256 hash of the header data.
                let hash = ring::digest::digest(&ring::digest::SHA256, &signed);
                pair.sign(hash.as_ref()).as_ref().to_vec()
            }
        };
        let b = BASE64.encode(signature);
        let mut out = Vec::with_capacity(header.len() + b.len() + 16 + message.len());
        out.extend_from_slice(header.as_bytes());
        for (i, chunk) in b.as_bytes().chunks(72).enumerate() {
            if i > 0 {
                out.extend_from_slice(b"\r\n  ");
            }
            out.extend_from_slice(chunk);
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(message);
        Ok(out)
    }
}

/// The header block (with its last line break) and the body.
fn split_message(message: &[u8]) -> (&[u8], &[u8]) {
    match message.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(at) => (&message[..at + 2], &message[at + 4..]),
        None => (message, &[]),
    }
}

/// One header field as it stands in the message, folded lines included.
struct Field<'a> {
    raw: &'a [u8],
}

impl Field<'_> {
    fn name_is(&self, lower: &str) -> bool {
        let name = self.raw.split(|b| *b == b':').next().unwrap_or_default();
        name.trim_ascii().eq_ignore_ascii_case(lower.as_bytes())
    }
}

/// The header fields of a header block, each with its continuation lines.
fn header_fields(head: &[u8]) -> Vec<Field<'_>> {
    let mut fields: Vec<Field<'_>> = Vec::new();
    let mut start = 0;
    let mut at = 0;
    while at < head.len() {
        let end = head[at..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .map_or(head.len(), |p| at + p);
        let next = (end + 2).min(head.len());
        let continues = head.get(next).is_some_and(|b| matches!(b, b' ' | b'\t'));
        if !continues {
            if end > start {
                fields.push(Field {
                    raw: &head[start..end],
                });
            }
            start = next;
        }
        at = next;
    }
    fields
}

/// RFC 6376 3.4.2: the name in lower case, then `:`, then the value with
/// folding removed, runs of blanks made one space, and no blanks at either
/// end. No line break is added.
fn relaxed_header(raw: &[u8], out: &mut Vec<u8>) {
    let colon = raw.iter().position(|b| *b == b':').unwrap_or(raw.len());
    out.extend(raw[..colon].trim_ascii().iter().map(u8::to_ascii_lowercase));
    out.push(b':');
    let value = raw.get(colon + 1..).unwrap_or_default();
    let mut blank = false;
    let mut wrote = false;
    for &b in value {
        match b {
            b'\r' | b'\n' => {}
            b' ' | b'\t' => blank = true,
            _ => {
                if blank && wrote {
                    out.push(b' ');
                }
                blank = false;
                wrote = true;
                out.push(b);
            }
        }
    }
}

/// RFC 6376 3.4.4: runs of blanks in a line made one space, blanks at the
/// end of each line removed, empty lines at the end removed, and a
/// non-empty body ending in one line break.
fn relaxed_body(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut empty_lines = 0;
    let mut text = Vec::new();
    let mut lines = body.split(|b| *b == b'\n').peekable();
    while let Some(line) = lines.next() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if lines.peek().is_none() && line.is_empty() {
            break; // what follows the last line break
        }
        text.clear();
        let mut blank = false;
        for &b in line {
            if matches!(b, b' ' | b'\t') {
                blank = true;
            } else {
                if blank {
                    text.push(b' ');
                }
                blank = false;
                text.push(b);
            }
        }
        if text.is_empty() {
            empty_lines += 1;
            continue;
        }
        for _ in 0..empty_lines {
            out.extend_from_slice(b"\r\n");
        }
        empty_lines = 0;
        out.extend_from_slice(&text);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn address(field: &'static str, value: &str) -> Result<Address, MessageError> {
    let value = value.trim();
    value.parse::<Address>().map_err(|e| {
        MessageError::field_err(
            field,
            format!("`{value}` is not an email address ({e}); give it as name@example.com"),
        )
    })
}

/// Line breaks in a subject or name would end the header early; a rendered
/// template may well contain one, so they become single spaces.
fn one_line(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn raw_header(name: &'static str, value: String) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value)
}

/// Characters that cannot appear inside a header URI or identifier as-is.
fn is_plain_header_text(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b'"'))
}

fn checked_message_id(id: &str) -> Result<String, MessageError> {
    let id = id.trim();
    let ok = id.len() <= 250
        && id.starts_with('<')
        && id.ends_with('>')
        && id.len() > 2
        && id[1..id.len() - 1].contains('@')
        && is_plain_header_text(&id[1..id.len() - 1]);
    if !ok {
        return Err(MessageError::field_err(
            "message_id",
            format!("`{id}` is not a Message-ID; make one with `message::message_id(domain)`"),
        ));
    }
    Ok(id.to_string())
}

fn checked_feedback_id(id: &str) -> Result<String, MessageError> {
    if id.len() > 200 || !is_plain_header_text(id) {
        return Err(MessageError::field_err(
            "feedback_id",
            format!(
                "`{id}` is not a Feedback-ID; use up to 200 letters, digits and colons, e.g. campaign-1:ws-2:pitcrew"
            ),
        ));
    }
    Ok(id.to_string())
}

/// `<https://…>, <mailto:…>`: the link first, as RFC 8058 one-click needs it.
fn list_unsubscribe(o: &Outgoing) -> Result<String, MessageError> {
    let link = o.unsubscribe_url.trim();
    let clean = !link
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"'));
    // The parsed form is pure ASCII (punycode host, percent-encoded path),
    // so a link with accented letters still fits in a header as-is.
    let parsed = url::Url::parse(link)
        .ok()
        .filter(|u| clean && matches!(u.scheme(), "https" | "http"))
        .filter(|u| u.as_str().len() <= 900);
    let Some(parsed) = parsed else {
        return Err(MessageError::field_err(
            "unsubscribe_url",
            format!(
                "`{link}` is not a usable unsubscribe link; give an https:// URL of at most 900 characters without spaces"
            ),
        ));
    };
    let mut value = format!("<{}>", parsed.as_str());
    if let Some(mailto) = o
        .unsubscribe_mailto
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty())
    {
        let uri = if mailto.starts_with("mailto:") {
            mailto.to_string()
        } else {
            format!("mailto:{mailto}")
        };
        let target = uri["mailto:".len()..].split('?').next().unwrap_or_default();
        if target.parse::<Address>().is_err() || uri.len() > 500 || !is_plain_header_text(&uri) {
            return Err(MessageError::field_err(
                "unsubscribe_mailto",
                format!(
                    "`{mailto}` is not an unsubscribe address; give name@example.com or a mailto: URI"
                ),
            ));
        }
        value.push_str(&format!(", <{uri}>"));
    }
    Ok(value)
}

fn is_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

enum PrivateKey {
    /// The PKCS#1 `RSAPrivateKey` DER.
    Rsa {
        pkcs1: Vec<u8>,
    },
    Ed25519 {
        seed: [u8; 32],
    },
}

const OID_RSA_ENCRYPTION: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];
const OID_ED25519: &[u8] = &[0x2B, 0x65, 0x70];
const DER_SEQUENCE: u8 = 0x30;
const DER_INTEGER: u8 = 0x02;
const DER_OCTET_STRING: u8 = 0x04;
const DER_OID: u8 = 0x06;

fn bad_key(message: impl Into<String>) -> MessageError {
    MessageError::dkim("dkim_private_key", message)
}

fn parse_private_key(pem: &str) -> Result<PrivateKey, MessageError> {
    let pem = pem.trim();
    let label = pem
        .strip_prefix("-----BEGIN ")
        .and_then(|rest| rest.split_once("-----"))
        .map(|(label, _)| label)
        .ok_or_else(|| bad_key("the private key is not in PEM form; paste the whole file, from -----BEGIN to -----END"))?;
    let end = format!("-----END {label}-----");
    let body = pem
        .split_once("-----\n")
        .or_else(|| pem.split_once("-----\r\n"))
        .map(|(_, rest)| rest)
        .and_then(|rest| rest.split_once(end.as_str()))
        .map(|(body, _)| body)
        .ok_or_else(|| {
            bad_key(format!(
                "the private key has no `{end}` line; paste the whole file"
            ))
        })?;
    let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let der = BASE64
        .decode(compact.as_bytes())
        .map_err(|_| bad_key("the private key's base64 text is damaged; paste the file again"))?;
    match label {
        "RSA PRIVATE KEY" => {
            check_rsa(&der)?;
            Ok(PrivateKey::Rsa { pkcs1: der })
        }
        "PRIVATE KEY" => parse_pkcs8(&der),
        "ENCRYPTED PRIVATE KEY" => Err(bad_key(
            "the private key is protected by a passphrase; export it without one (`openssl pkey -in key.pem -out plain.pem`)",
        )),
        other => Err(bad_key(format!(
            "`{other}` keys are not supported; use an RSA (2048 bits) or Ed25519 key"
        ))),
    }
}

fn parse_pkcs8(der: &[u8]) -> Result<PrivateKey, MessageError> {
    let damaged = || bad_key("the PKCS#8 private key is damaged; export it again");
    let (info, _) = der_expect(der, DER_SEQUENCE).ok_or_else(damaged)?;
    let (_version, rest) = der_expect(info, DER_INTEGER).ok_or_else(damaged)?;
    let (algorithm, rest) = der_expect(rest, DER_SEQUENCE).ok_or_else(damaged)?;
    let (oid, _) = der_expect(algorithm, DER_OID).ok_or_else(damaged)?;
    let (private, _) = der_expect(rest, DER_OCTET_STRING).ok_or_else(damaged)?;
    if oid == OID_RSA_ENCRYPTION {
        check_rsa(private)?;
        return Ok(PrivateKey::Rsa {
            pkcs1: private.to_vec(),
        });
    }
    if oid == OID_ED25519 {
        let (seed, _) = der_expect(private, DER_OCTET_STRING).ok_or_else(damaged)?;
        let seed: [u8; 32] = seed.try_into().map_err(|_| damaged())?;
        return Ok(PrivateKey::Ed25519 { seed });
    }
    Err(bad_key(
        "this kind of private key is not supported; use an RSA (2048 bits) or Ed25519 key",
    ))
}

/// The modulus and exponent of a PKCS#1 private key.
fn rsa_parts(pkcs1: &[u8]) -> Option<(&[u8], &[u8])> {
    let (key, _) = der_expect(pkcs1, DER_SEQUENCE)?;
    let (_version, rest) = der_expect(key, DER_INTEGER)?;
    let (modulus, rest) = der_expect(rest, DER_INTEGER)?;
    let (exponent, _) = der_expect(rest, DER_INTEGER)?;
    Some((modulus, exponent))
}

fn check_rsa(pkcs1: &[u8]) -> Result<(), MessageError> {
    let (modulus, _) = rsa_parts(pkcs1)
        .ok_or_else(|| bad_key("the RSA private key is damaged; export it again"))?;
    let significant = modulus.iter().skip_while(|b| **b == 0).count();
    // RFC 8301 lets verifiers ignore keys under 1024 bits and asks signers
    // for 2048; pitcrew signs with 2048 bits or more only.
    if significant * 8 < 2048 {
        return Err(bad_key(format!(
            "the RSA key has only about {} bits; DKIM keys need at least 2048 bits — make one with `openssl genrsa 2048`",
            significant * 8
        )));
    }
    Ok(())
}

/// The SubjectPublicKeyInfo DER of an RSA key, as DKIM's `p=` carries it.
fn rsa_public_key_info(pkcs1: &[u8]) -> Result<Vec<u8>, MessageError> {
    let (modulus, exponent) = rsa_parts(pkcs1)
        .ok_or_else(|| bad_key("the RSA private key is damaged; export it again"))?;
    let mut public = der_tlv(DER_INTEGER, modulus);
    public.extend(der_tlv(DER_INTEGER, exponent));
    let public = der_tlv(DER_SEQUENCE, &public);
    let mut algorithm = der_tlv(DER_OID, OID_RSA_ENCRYPTION);
    algorithm.extend([0x05, 0x00]); // NULL parameters
    let mut bits = vec![0u8]; // no unused bits
    bits.extend(public);
    let mut info = der_tlv(DER_SEQUENCE, &algorithm);
    info.extend(der_tlv(0x03, &bits));
    Ok(der_tlv(DER_SEQUENCE, &info))
}

/// One DER element with the expected tag: its contents and what follows it.
fn der_expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&found, rest) = input.split_first()?;
    if found != tag {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7F);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let len = rest[..count]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[count..])
    };
    (rest.len() >= len).then(|| rest.split_at(len))
}

fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

#[cfg(test)]
fn pem_encode(label: &str, der: &[u8]) -> String {
    let text = BASE64.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    // PEM readers expect lines of 64 characters; base64 text is ASCII, so
    // splitting its bytes keeps valid UTF-8.
    for line in text.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSA_PKCS8: &str = include_str!("../../tests/fixtures/dkim/rsa2048.pem");
    const RSA_PKCS1: &str = include_str!("../../tests/fixtures/dkim/rsa2048.pkcs1.pem");
    const RSA_PUBLIC: &str = include_str!("../../tests/fixtures/dkim/rsa2048.pub.pem");
    const ED25519: &str = include_str!("../../tests/fixtures/dkim/ed25519.pem");
    const ED25519_PUBLIC: &str = include_str!("../../tests/fixtures/dkim/ed25519.pub.pem");

    fn outgoing() -> Outgoing {
        Outgoing {
            from_name: "Pitcrew News".into(),
            from_email: "news@example.com".into(),
            reply_to: Some("Help Desk <help@example.com>".into()),
            to: "lin@example.org".into(),
            subject: "Grüße aus Köln".into(),
            html: "<p>Hello Lin</p>".into(),
            text: "Hello Lin".into(),
            message_id: message_id("example.com"),
            unsubscribe_url: "https://t.example.com/u/abc?x=1".into(),
            unsubscribe_mailto: Some("unsubscribe+abc@example.com".into()),
            feedback_id: Some("b-1:ws-1:pitcrew".into()),
        }
    }

    fn pem_body(pem: &str) -> String {
        pem.lines().filter(|l| !l.starts_with("-----")).collect()
    }

    fn header_block(message: &Email) -> String {
        let text = String::from_utf8(message.bytes().to_vec()).expect("ASCII message");
        text.split("\r\n\r\n")
            .next()
            .unwrap_or_default()
            .to_string()
    }

    #[test]
    fn message_ids_are_unique_and_bracketed() {
        let a = message_id("example.com");
        let b = message_id("example.com");
        assert_ne!(a, b);
        assert!(a.starts_with('<') && a.ends_with("@example.com>"), "{a}");
        assert_eq!(a.len(), "<@example.com>".len() + 32);
        assert!(checked_message_id(&a).is_ok());
    }

    #[test]
    fn both_rsa_key_forms_publish_the_fixture_public_key() {
        for pem in [RSA_PKCS8, RSA_PKCS1] {
            let key = DkimKey::new("Example.com.", "S1", pem).expect("key parses");
            assert_eq!(key.dns_name(), "s1._domainkey.example.com");
            assert_eq!(
                key.dns_txt(),
                format!("v=DKIM1; k=rsa; p={}", pem_body(RSA_PUBLIC))
            );
        }
    }

    #[test]
    fn ed25519_key_publishes_its_raw_public_key() {
        let key = DkimKey::new("example.com", "ed", ED25519).expect("key parses");
        // The last 32 bytes of the SubjectPublicKeyInfo are the raw key.
        let spki = BASE64
            .decode(pem_body(ED25519_PUBLIC))
            .expect("fixture base64");
        assert_eq!(
            key.dns_txt(),
            format!(
                "v=DKIM1; k=ed25519; p={}",
                BASE64.encode(&spki[spki.len() - 32..])
            )
        );
    }

    #[test]
    fn debug_output_hides_the_private_key() {
        let key = DkimKey::new("example.com", "s1", RSA_PKCS1).expect("key parses");
        let shown = format!("{key:?}");
        assert!(shown.contains("<redacted>"), "{shown}");
        assert!(
            !shown.contains("RsaPrivateKey") && !shown.contains("MII"),
            "{shown}"
        );
    }

    #[test]
    fn unusable_keys_are_refused_with_dkim_key_invalid() {
        let cases = [
            ("", "PEM form"),
            (
                "-----BEGIN RSA PRIVATE KEY-----\nnot base64!\n-----END RSA PRIVATE KEY-----",
                "base64",
            ),
            (
                "-----BEGIN RSA PRIVATE KEY-----\nMAA=\n-----END RSA PRIVATE KEY-----",
                "damaged",
            ),
            (
                "-----BEGIN EC PRIVATE KEY-----\nMAA=\n-----END EC PRIVATE KEY-----",
                "not supported",
            ),
            (
                "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----",
                "passphrase",
            ),
            (&RSA_PKCS1[..RSA_PKCS1.len() / 2], "-----END"),
        ];
        for (pem, says) in cases {
            let err = DkimKey::new("example.com", "s1", pem).expect_err("refused");
            assert_eq!(err.code(), "dkim_key_invalid");
            assert_eq!(err.field(), "dkim_private_key");
            assert!(err.to_string().contains(says), "{pem:?}: {err}");
        }
        let err = DkimKey::new("example com", "s1", RSA_PKCS1).expect_err("bad domain");
        assert_eq!(err.field(), "dkim_domain");
        let err = DkimKey::new("example.com", "s 1", RSA_PKCS1).expect_err("bad selector");
        assert_eq!(err.field(), "dkim_selector");
    }

    #[test]
    fn small_rsa_keys_are_refused() {
        // A 512-bit modulus in an otherwise well-formed PKCS#1 structure.
        let mut key = der_tlv(DER_INTEGER, &[0]);
        key.extend(der_tlv(DER_INTEGER, &[0xC5; 64]));
        key.extend(der_tlv(DER_INTEGER, &[0x01, 0x00, 0x01]));
        let pem = pem_encode("RSA PRIVATE KEY", &der_tlv(DER_SEQUENCE, &key));
        let err = DkimKey::new("example.com", "s1", &pem).expect_err("too small");
        assert!(err.to_string().contains("2048 bits"), "{err}");
    }

    #[test]
    fn message_carries_compliance_headers() {
        let o = outgoing();
        let message = build(&o, None).expect("builds");
        let headers = header_block(&message);
        assert!(
            headers.contains("From: \"Pitcrew News\" <news@example.com>")
                || headers.contains("From: Pitcrew News <news@example.com>"),
            "{headers}"
        );
        assert!(headers.contains("To: lin@example.org"), "{headers}");
        assert!(
            headers.contains("Reply-To: \"Help Desk\" <help@example.com>")
                || headers.contains("Reply-To: Help Desk <help@example.com>"),
            "{headers}"
        );
        assert!(
            headers.contains(&format!("Message-ID: {}", o.message_id)),
            "{headers}"
        );
        assert!(
            headers.contains("List-Unsubscribe: <https://t.example.com/u/abc?x=1>,"),
            "{headers}"
        );
        assert!(
            headers.contains("<mailto:unsubscribe+abc@example.com>"),
            "{headers}"
        );
        assert!(
            headers.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"),
            "{headers}"
        );
        assert!(
            headers.contains("Feedback-ID: b-1:ws-1:pitcrew"),
            "{headers}"
        );
        assert!(
            headers.contains("Content-Type: multipart/alternative;"),
            "{headers}"
        );
        assert!(headers.contains("MIME-Version: 1.0"), "{headers}");
        assert!(headers.contains("Date: "), "{headers}");
        assert!(
            !headers.contains("Grüße"),
            "non-ASCII subject is encoded: {headers}"
        );
        assert!(message.bytes().is_ascii());
    }

    #[test]
    fn unsubscribe_links_with_accents_are_percent_encoded() {
        let o = Outgoing {
            unsubscribe_url: "https://bücher.example/u/Zoë?sig=é".into(),
            ..outgoing()
        };
        let headers = header_block(&build(&o, None).expect("builds"));
        assert!(
            headers.contains("<https://xn--bcher-kva.example/u/Zo%C3%AB?sig=%C3%A9>"),
            "{headers}"
        );
    }

    #[test]
    fn optional_headers_are_left_out_when_not_given() {
        let o = Outgoing {
            reply_to: Some("  ".into()),
            unsubscribe_mailto: None,
            feedback_id: None,
            from_name: String::new(),
            ..outgoing()
        };
        let headers = header_block(&build(&o, None).expect("builds"));
        assert!(!headers.contains("Reply-To"), "{headers}");
        assert!(!headers.contains("Feedback-ID"), "{headers}");
        assert!(!headers.contains("mailto:"), "{headers}");
        assert!(headers.contains("From: news@example.com"), "{headers}");
    }

    #[test]
    fn line_breaks_in_subject_cannot_inject_headers() {
        let o = Outgoing {
            subject: "Hello\r\nBcc: everyone@example.net".into(),
            ..outgoing()
        };
        let headers = header_block(&build(&o, None).expect("builds"));
        assert!(
            headers.contains("Subject: Hello Bcc: everyone@example.net"),
            "{headers}"
        );
        assert!(!headers.contains("\r\nBcc:"), "{headers}");
    }

    type Spoil = fn(&mut Outgoing);

    #[test]
    fn bad_inputs_name_the_field() {
        let cases: [(Spoil, &str); 8] = [
            (
                |o| o.from_email = "news at example.com".into(),
                "from_email",
            ),
            (|o| o.to = "lin@".into(), "to"),
            (|o| o.reply_to = Some("<<nope".into()), "reply_to"),
            (
                |o| o.message_id = "no-brackets@example.com".into(),
                "message_id",
            ),
            (
                |o| o.unsubscribe_url = "javascript:alert(1)".into(),
                "unsubscribe_url",
            ),
            (
                |o| o.unsubscribe_url = "https://x.example/a b".into(),
                "unsubscribe_url",
            ),
            (
                |o| o.unsubscribe_mailto = Some("not an address".into()),
                "unsubscribe_mailto",
            ),
            (|o| o.feedback_id = Some("a b".into()), "feedback_id"),
        ];
        for (spoil, field) in cases {
            let mut o = outgoing();
            spoil(&mut o);
            let err = build(&o, None).expect_err("refused");
            assert_eq!(err.field(), field, "{err}");
            assert_eq!(err.code(), "message_field_invalid");
            let app: AppError = err.into();
            assert_eq!(app.field.as_deref(), Some(field));
        }
    }

    #[test]
    fn relaxed_canonicalisation_matches_the_rfc_example() {
        // RFC 6376 section 3.4.5.
        let message = b"A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n C \r\nD \t E\r\n\r\n\r\n";
        let (head, body) = split_message(message);
        let mut headers = Vec::new();
        for field in header_fields(head) {
            relaxed_header(field.raw, &mut headers);
            headers.extend_from_slice(b"\r\n");
        }
        assert_eq!(String::from_utf8_lossy(&headers), "a:X\r\nb:Y Z\r\n");
        assert_eq!(
            String::from_utf8_lossy(&relaxed_body(body)),
            " C\r\nD E\r\n"
        );
        assert!(relaxed_body(b"\r\n\r\n").is_empty());
        assert_eq!(relaxed_body(b"no line break"), b"no line break\r\n");
    }

    #[test]
    fn signing_keeps_the_message_and_puts_the_signature_first() {
        let key = DkimKey::new("example.com", "s1", RSA_PKCS1).expect("key parses");
        let unsigned = build(&outgoing(), None).expect("builds");
        let signed = key.sign(unsigned.bytes(), 1_767_286_800).expect("signs");
        assert!(signed.starts_with(b"DKIM-Signature: v=1; a=rsa-sha256;"));
        assert!(signed.ends_with(unsigned.bytes()));
        let ed = DkimKey::new("example.com", "ed", ED25519).expect("key parses");
        let signed = ed.sign(unsigned.bytes(), 1_767_286_800).expect("signs");
        let text = String::from_utf8(signed).expect("ASCII");
        assert!(
            text.contains("a=ed25519-sha256;") && text.contains(" t=1767286800;"),
            "{text}"
        );
    }

    #[test]
    fn signature_covers_the_compliance_headers_relaxed() {
        let key = DkimKey::new("example.com", "s1", RSA_PKCS8).expect("key parses");
        let headers = header_block(&build(&outgoing(), Some(&key)).expect("builds"));
        let unfolded = headers.replace("\r\n ", " ");
        let signature = unfolded
            .lines()
            .find(|l| l.starts_with("DKIM-Signature:"))
            .expect("signed");
        assert!(signature.contains("c=relaxed/relaxed"), "{signature}");
        assert!(
            signature.contains("d=example.com") && signature.contains("s=s1"),
            "{signature}"
        );
        assert!(
            signature.contains("h=from:to:subject:date:message-id:reply-to:mime-version:content-type:content-transfer-encoding:list-unsubscribe:list-unsubscribe-post:feedback-id;"),
            "{signature}"
        );
    }
}
