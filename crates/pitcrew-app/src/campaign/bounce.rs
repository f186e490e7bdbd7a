//! Bounce and complaint reports (DSN, RFC 3464; ARF, RFC 5965) read into what happened to which message.
//!
//! Also reads unsubscribe requests sent to the `List-Unsubscribe` mailbox and,
//! cautiously, plain-text bounces from mail servers that send no DSN. Pure:
//! raw bytes in, [`Report`]s out; recording them is the caller's work.
//!
//! The `message/delivery-status` and `message/feedback-report` parts are
//! blocks of header-like fields separated by blank lines:
//!
//! ```text
//! body   = block *(blank-line block)
//! block  = 1*field
//! field  = name ":" value CRLF *(WSP continuation CRLF)   ; folded, name case-insensitive
//! ```
//!
//! In a DSN the first block describes the message and every later block one
//! recipient; a feedback report is a single block.

use std::collections::HashSet;

use mail_parser::{Message, MessageParser, MessagePart, MimeHeaders};
use pitcrew_core::campaign::{
    MessageEventKind, SuppressionReason, is_sendable_address, normalise_address,
};

use crate::{AppError, ErrorKind};

/// What a report says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportKind {
    /// The address does not exist or is disabled for good.
    HardBounce,
    /// Delivery failed for now, or for a reason that says nothing against
    /// the address (mailbox full, message refused as spam, …).
    SoftBounce,
    /// The person marked the message as spam at their mailbox provider.
    Complaint,
    /// The person asked to unsubscribe by email.
    Unsubscribe,
}

impl ReportKind {
    /// The event recorded against the message.
    pub fn event_kind(self) -> MessageEventKind {
        match self {
            ReportKind::HardBounce => MessageEventKind::Bounced,
            ReportKind::SoftBounce => MessageEventKind::SoftBounced,
            ReportKind::Complaint => MessageEventKind::Complained,
            ReportKind::Unsubscribe => MessageEventKind::Unsubscribed,
        }
    }

    /// The suppression the report causes at once. Soft bounces suppress only
    /// when they repeat, and an unsubscribe withdraws consent for the topic
    /// instead of suppressing the address everywhere.
    pub fn suppression(self) -> Option<SuppressionReason> {
        match self {
            ReportKind::HardBounce => Some(SuppressionReason::HardBounce),
            ReportKind::Complaint => Some(SuppressionReason::Complaint),
            ReportKind::SoftBounce | ReportKind::Unsubscribe => None,
        }
    }
}

/// What happened to one recipient of one message we sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub kind: ReportKind,
    /// Original-Recipient, else Final-Recipient (DSN), Original-Rcpt-To or
    /// the attached original's To (ARF), lowercased. Original-Recipient comes
    /// first because it is the address we sent to, before any forwarding.
    /// For an unsubscribe, the sender of the request: a hint only, since a
    /// From can be forged; the token is what identifies the person.
    pub recipient: Option<String>,
    /// The Message-ID of the message we sent (with angle brackets, as in our
    /// header), taken from the returned message/rfc822 or
    /// text/rfc822-headers part, or from ARF's attached original. Mailbox
    /// providers often redact the recipient of a complaint, so this is the
    /// reliable way back to the send ledger.
    pub message_id: Option<String>,
    /// Enhanced status code, e.g. "5.1.1"; the ARF Feedback-Type for complaints.
    pub status: Option<String>,
    /// Diagnostic-Code text or a short reason, for the decision log.
    pub diagnostic: Option<String>,
    /// For Unsubscribe: the token from the request.
    pub token: Option<String>,
}

/// Why a message is not a report pitcrew can act on. Each says what was
/// found and that nothing was applied, so a mailbox can be re-read safely.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BounceError {
    #[error(
        "not an email message: no header fields were found at the start; the mailbox should \
         hold raw messages (RFC 5322) as saved by a mail server, one .eml file or an mbox file"
    )]
    NotAnEmail,
    #[error(
        "not a delivery status notification or feedback report: Content-Type is {content_type} \
         and the sender {from} is not a mail server, so it is probably a reply from a person; \
         nothing was applied, read it in a mail client"
    )]
    NotAReport { content_type: String, from: String },
    #[error(
        "a report of type {report_type} is not a bounce or a complaint (a read receipt, for \
         example); nothing was applied"
    )]
    UnsupportedReport { report_type: String },
    #[error(
        "the delivery status notification has no message/delivery-status part, so it does not \
         say which recipient failed; nothing was applied"
    )]
    MissingDeliveryStatus,
    #[error(
        "the message/delivery-status part names no recipient (no Final-Recipient, \
         Original-Recipient, Action or Status field); nothing was applied"
    )]
    NoRecipients,
    #[error("the feedback report has no message/feedback-report part; nothing was applied")]
    MissingFeedbackReport,
    #[error(
        "the feedback report has no Feedback-Type field, so it is unclear whether it is a \
         complaint; nothing was applied"
    )]
    MissingFeedbackType,
    #[error(
        "feedback type {feedback_type:?} is not one pitcrew acts on (abuse, fraud, virus and \
         other are complaints; not-spam and auth-failure are ignored); nothing was applied"
    )]
    UnknownFeedbackType { feedback_type: String },
    #[error(
        "the notice from mail server {from} is not a standard bounce and {reason}; nothing was \
         applied so that no one is suppressed by mistake, check it by hand"
    )]
    UnreadableBounce { from: String, reason: String },
    #[error(
        "the unsubscribe request from {from} (subject {subject:?}) carries no token from a \
         pitcrew link, and a sender address alone can be forged; if the request is genuine, \
         unsubscribe {from} by hand"
    )]
    UnsubscribeWithoutToken { from: String, subject: String },
}

impl BounceError {
    /// Stable and machine-readable.
    pub fn code(&self) -> &'static str {
        match self {
            BounceError::NotAnEmail => "bounce_not_email",
            BounceError::NotAReport { .. } => "bounce_not_report",
            BounceError::UnsupportedReport { .. } => "bounce_report_type_unsupported",
            BounceError::MissingDeliveryStatus => "bounce_delivery_status_missing",
            BounceError::NoRecipients => "bounce_recipient_missing",
            BounceError::MissingFeedbackReport => "bounce_feedback_report_missing",
            BounceError::MissingFeedbackType => "bounce_feedback_type_missing",
            BounceError::UnknownFeedbackType { .. } => "bounce_feedback_type_unknown",
            BounceError::UnreadableBounce { .. } => "bounce_unreadable",
            BounceError::UnsubscribeWithoutToken { .. } => "unsubscribe_token_missing",
        }
    }
}

impl From<BounceError> for AppError {
    fn from(e: BounceError) -> AppError {
        AppError::new(ErrorKind::Invalid, e.code(), e.to_string())
    }
}

/// Longest diagnostic kept for the decision log; some servers append pages.
const MAX_DIAGNOSTIC_CHARS: usize = 1000;

/// Reads one raw email into what happened to which message.
///
/// `Ok` with an empty list means a well-formed report with nothing to act
/// on: every recipient was delivered or relayed, or a feedback report of
/// type not-spam or auth-failure. One DSN may name several recipients.
pub fn parse_report(raw: &[u8]) -> Result<Vec<Report>, BounceError> {
    let message = MessageParser::new()
        .parse(raw)
        .filter(|m| !m.headers().is_empty())
        .ok_or(BounceError::NotAnEmail)?;

    // Searching every MIME part, not only the top, also finds a report that
    // a gateway wrapped in multipart/mixed. Parts of attached messages are
    // not searched: a forwarded bounce is not a bounce of ours.
    if let Some(part) = find_part(&message, &["delivery-status", "global-delivery-status"]) {
        return read_delivery_status(&message, part);
    }
    if let Some(part) = find_part(&message, &["feedback-report"]) {
        return read_feedback_report(&message, part);
    }
    let content_type = content_type_of(message.root_part());
    if content_type == "multipart/report" {
        let report_type = message
            .root_part()
            .content_type()
            .and_then(|ct| ct.attribute("report-type"))
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        return Err(match report_type.as_str() {
            "delivery-status" | "global-delivery-status" => BounceError::MissingDeliveryStatus,
            "feedback-report" => BounceError::MissingFeedbackReport,
            "" => BounceError::UnsupportedReport {
                report_type: "(none given)".to_string(),
            },
            _ => BounceError::UnsupportedReport { report_type },
        });
    }
    if let Some(unsubscribe) = read_unsubscribe(&message) {
        return unsubscribe.map(|report| vec![report]);
    }
    let from = sender(&message);
    if from.as_deref().is_some_and(is_mail_server) {
        return read_plain_bounce(&message).map(|report| vec![report]);
    }
    Err(BounceError::NotAReport {
        content_type,
        from: from.unwrap_or_else(|| "(unknown)".to_string()),
    })
}

/// One message of a mailbox file, with where it starts so that a problem
/// can be reported as "message 3, line 120".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailboxMessage<'a> {
    /// Line of the message's first header in the file, counting from 1
    /// (the line after its `From ` separator).
    pub line: usize,
    /// Byte offset of the message's first byte in the file.
    pub offset: usize,
    /// The raw message without its `From ` separator line. Body lines
    /// escaped as `>From ` are left as they are: they never matter for a
    /// report's headers or status fields.
    pub raw: &'a [u8],
}

/// Splits an mbox file into its messages; anything that does not start
/// with a `From ` line is one message. The position in the returned list is
/// the message's index. Empty or blank input gives no messages.
pub fn split_mailbox(raw: &[u8]) -> Vec<MailboxMessage<'_>> {
    let first_text = raw
        .split_inclusive(|&b| b == b'\n')
        .find(|line| !line.trim_ascii().is_empty());
    let Some(first_text) = first_text else {
        return Vec::new();
    };
    if !first_text.starts_with(b"From ") {
        return vec![MailboxMessage {
            line: 1,
            offset: 0,
            raw,
        }];
    }

    let mut messages = Vec::new();
    // (line, offset) of the message being read.
    let mut current: Option<(usize, usize)> = None;
    let mut offset = 0;
    for (index, line) in raw.split_inclusive(|&b| b == b'\n').enumerate() {
        let next = offset + line.len();
        // mbox writers escape body lines starting with "From " as ">From ",
        // so every line starting with "From " is a separator.
        if line.starts_with(b"From ") {
            if let Some((start_line, start)) = current {
                messages.push(MailboxMessage {
                    line: start_line,
                    offset: start,
                    raw: &raw[start..offset],
                });
            }
            current = Some((index + 2, next));
        }
        offset = next;
    }
    if let Some((start_line, start)) = current {
        messages.push(MailboxMessage {
            line: start_line,
            offset: start,
            raw: &raw[start..],
        });
    }
    messages
}

// ---------------------------------------------------------------------------
// Delivery status notifications (RFC 3464)

fn read_delivery_status(
    message: &Message<'_>,
    part: &MessagePart<'_>,
) -> Result<Vec<Report>, BounceError> {
    let text = String::from_utf8_lossy(part.contents());
    let blocks = field_blocks(&text);
    // Gmail names the original in the per-message block as well, which
    // helps when the returned message is left out.
    let message_id = original(message).and_then(|o| o.message_id).or_else(|| {
        blocks
            .iter()
            .find_map(|b| b.get("x-original-message-id"))
            .and_then(bracketed_id)
    });

    let recipients: Vec<&FieldBlock> = blocks.iter().filter(|b| b.is_recipient()).collect();
    if recipients.is_empty() {
        return Err(BounceError::NoRecipients);
    }
    Ok(recipients
        .into_iter()
        .filter_map(|block| recipient_report(block, &message_id))
        .collect())
}

fn recipient_report(block: &FieldBlock, message_id: &Option<String>) -> Option<Report> {
    let action = block.get("action").and_then(Action::parse);
    let status = block
        .get("status")
        .and_then(|s| s.split_whitespace().next())
        .and_then(StatusCode::parse);
    let diagnostic = block.get("diagnostic-code").map(strip_type);
    let reply = diagnostic.map(SmtpReply::parse).unwrap_or_default();
    let policy = diagnostic.is_some_and(mentions_policy);

    let (kind, effective) = classify(action, status, reply, policy)?;
    let recipient = block
        .get("original-recipient")
        .and_then(address_field)
        .or_else(|| block.get("final-recipient").and_then(address_field));
    let diagnostic = match diagnostic.filter(|d| !d.is_empty()) {
        Some(d) => clip(d),
        None => describe(action == Some(Action::Delayed), effective),
    };
    Some(Report {
        kind,
        recipient,
        message_id: message_id.clone(),
        status: effective.map(|s| s.to_string()),
        diagnostic: Some(diagnostic),
        token: None,
    })
}

/// The Action field of one recipient (RFC 3464 §2.3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Failed,
    Delayed,
    Delivered,
    Relayed,
    Expanded,
}

impl Action {
    fn parse(value: &str) -> Option<Action> {
        let word = value.split_whitespace().next()?.to_ascii_lowercase();
        Some(match word.as_str() {
            "failed" => Action::Failed,
            "delayed" => Action::Delayed,
            "delivered" => Action::Delivered,
            "relayed" => Action::Relayed,
            "expanded" => Action::Expanded,
            _ => return None,
        })
    }
}

/// An enhanced status code, `class.subject.detail` (RFC 3463).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct StatusCode {
    class: u8,
    subject: u16,
    detail: u16,
}

impl StatusCode {
    fn parse(text: &str) -> Option<StatusCode> {
        let mut pieces = text.split('.');
        let (class, subject, detail) = (pieces.next()?, pieces.next()?, pieces.next()?);
        if pieces.next().is_some() {
            return None;
        }
        let number = |s: &str, max_len: usize| {
            (!s.is_empty() && s.len() <= max_len && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<u16>().ok())
                .flatten()
        };
        let class = match number(class, 1)? {
            2 => 2,
            4 => 4,
            5 => 5,
            _ => return None,
        };
        Some(StatusCode {
            class,
            subject: number(subject, 3)?,
            detail: number(detail, 3)?,
        })
    }

    /// `X.0.0`: "other or undefined status", which says nothing beyond the class.
    fn is_generic(self) -> bool {
        self.subject == 0 && self.detail == 0
    }

    /// Whether a permanent failure (class 5) says the address itself is
    /// gone, so that sending to it again can never succeed.
    ///
    /// Only address and mailbox problems are hard. Everything else is soft
    /// because the address exists and a later message may arrive: common
    /// practice among senders, and the safe side, since a hard bounce
    /// suppresses a real person at once while soft bounces suppress only
    /// when they repeat.
    fn is_hard(self) -> bool {
        match (self.subject, self.detail) {
            // 5.1.7 and 5.1.8 are about our sender address, not the recipient.
            (1, 7) | (1, 8) => false,
            // 5.1.x: no such mailbox (5.1.1) or domain (5.1.2), bad syntax
            // (5.1.3), moved with no forwarding (5.1.6), null MX (5.1.10).
            (1, _) => true,
            // Mailbox disabled: the account is closed.
            (2, 1) => true,
            // User account disabled (IANA registry).
            (7, 13) => true,
            // 5.2.2 mailbox full and 5.2.3 message too large say nothing
            // against the address; 5.3.x and 5.4.x are the receiving
            // system's state or routing; 5.5.x protocol; 5.6.x content;
            // 5.7.x policy: blocked as spam, sender reputation, DMARC. In
            // each case the mailbox exists and may take a later message.
            _ => false,
        }
    }
}

impl std::fmt::Display for StatusCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// The codes at the start of an SMTP reply, e.g. `550 5.1.1 <…>: User unknown`
/// or the multi-line form `552-5.2.2 …`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct SmtpReply {
    basic: Option<u16>,
    enhanced: Option<StatusCode>,
}

impl SmtpReply {
    fn parse(text: &str) -> SmtpReply {
        let mut words = text.split_whitespace();
        let Some(first) = words.next() else {
            return SmtpReply::default();
        };
        let (code, rest) = match first.split_once('-') {
            Some((code, rest)) => (code, rest),
            None => (first, ""),
        };
        let Some(basic) = basic_code(code) else {
            return SmtpReply::default();
        };
        let enhanced = if rest.is_empty() {
            words.next().and_then(StatusCode::parse)
        } else {
            StatusCode::parse(rest)
        };
        SmtpReply {
            basic: Some(basic),
            enhanced,
        }
    }
}

/// A three-digit SMTP reply code for a failure: 4yz or 5yz with y in 0..=5.
fn basic_code(word: &str) -> Option<u16> {
    let bytes = word.as_bytes();
    let ok = bytes.len() == 3
        && matches!(bytes[0], b'4' | b'5')
        && matches!(bytes[1], b'0'..=b'5')
        && bytes[2].is_ascii_digit();
    if !ok {
        return None;
    }
    word.parse().ok()
}

/// Decides what one recipient's status means; `None` when nothing happened
/// worth recording (delivered, relayed, or a block that says nothing).
/// Returns the enhanced code the decision rests on.
fn classify(
    action: Option<Action>,
    status: Option<StatusCode>,
    reply: SmtpReply,
    policy: bool,
) -> Option<(ReportKind, Option<StatusCode>)> {
    // `X.0.0` says only "failed": a more precise code in the server's own
    // reply (Exim writes 5.0.0 and quotes the remote 550 5.1.1) is better.
    let effective = match status {
        Some(s) if s.is_generic() => reply.enhanced.filter(|e| e.class == s.class).or(status),
        Some(s) => Some(s),
        None => reply.enhanced,
    };
    match action {
        Some(Action::Delivered | Action::Relayed | Action::Expanded) => return None,
        Some(Action::Delayed) => return Some((ReportKind::SoftBounce, effective)),
        Some(Action::Failed) | None => {}
    }
    let failed = action == Some(Action::Failed);
    let kind = match effective {
        Some(s) if s.class == 4 => ReportKind::SoftBounce,
        Some(s) if s.class == 2 => {
            // "failed" with a success code contradicts itself; treat it as
            // the milder failure. Without an action it is a success.
            if !failed {
                return None;
            }
            ReportKind::SoftBounce
        }
        Some(s) if !s.is_generic() => {
            if s.is_hard() {
                ReportKind::HardBounce
            } else {
                ReportKind::SoftBounce
            }
        }
        // No precise code: fall back to the SMTP reply. 550 (mailbox
        // unavailable), 551 (user not local) and 553 (mailbox name not
        // allowed) are about the address, but 550 is also used for policy
        // refusals, which the server's words give away.
        _ => match reply.basic {
            Some(550 | 551 | 553) if !policy => ReportKind::HardBounce,
            Some(_) => ReportKind::SoftBounce,
            None if failed || effective.is_some() => ReportKind::SoftBounce,
            None => return None,
        },
    };
    Some((kind, effective))
}

/// Words by which a server says it refused the message for policy, not
/// because the address is unknown.
fn mentions_policy(text: &str) -> bool {
    let text = text.to_lowercase();
    [
        "spam",
        "block",
        "blacklist",
        "denylist",
        "policy",
        "prohibit",
        "reputation",
        "rbl",
        "dnsbl",
    ]
    .iter()
    .any(|w| text.contains(w))
}

/// A short reason for the decision log when the server gave no text.
fn describe(delayed: bool, status: Option<StatusCode>) -> String {
    let known = status.and_then(|s| {
        Some(match (s.subject, s.detail) {
            (1, 1) => "the mailbox does not exist",
            (1, 2) => "the domain does not exist or takes no mail",
            (1, 3) => "the address is not valid",
            (1, 6) => "the mailbox has moved",
            (1, 10) => "the domain takes no mail (null MX)",
            (2, 1) => "the mailbox is disabled",
            (2, 2) => "the mailbox is full",
            (2, 3) => "the message is larger than the mailbox accepts",
            (4, 7) => "delivery was retried until it expired",
            (7, 1) => "the receiving server refused the message by policy",
            _ => return None,
        })
    });
    let what = if delayed || status.is_some_and(|s| s.class == 4) {
        "delivery delayed"
    } else {
        "delivery failed"
    };
    match (known, status) {
        (Some(reason), Some(s)) => format!("{what}: {reason} ({s})"),
        (None, Some(s)) => format!("{what} with status {s}"),
        _ => what.to_string(),
    }
}

/// `rfc822; Ana@Example.com` → `ana@example.com`, or `None` for anything
/// that is not an address pitcrew could have sent to.
fn address_field(value: &str) -> Option<String> {
    let address = strip_type(value);
    let address = address.trim_start_matches('<').trim_end_matches('>').trim();
    is_sendable_address(address).then(|| normalise_address(address))
}

/// Drops a leading `type;` (`rfc822;`, `smtp;`, `dns;`) from a field value.
fn strip_type(value: &str) -> &str {
    match value.split_once(';') {
        Some((kind, rest)) if !kind.trim().is_empty() && !kind.trim().contains(' ') => rest.trim(),
        _ => value.trim(),
    }
}

fn clip(text: &str) -> String {
    match text.char_indices().nth(MAX_DIAGNOSTIC_CHARS) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

// ---------------------------------------------------------------------------
// Feedback reports (ARF, RFC 5965)

fn read_feedback_report(
    message: &Message<'_>,
    part: &MessagePart<'_>,
) -> Result<Vec<Report>, BounceError> {
    let text = String::from_utf8_lossy(part.contents());
    // One block by the RFC; some senders put blank lines inside it.
    let blocks = field_blocks(&text);
    let field = |name: &str| blocks.iter().find_map(|b| b.get(name));

    let feedback_type = field("feedback-type")
        .and_then(|v| v.split_whitespace().next())
        .map(|v| v.to_ascii_lowercase())
        .ok_or(BounceError::MissingFeedbackType)?;
    match feedback_type.as_str() {
        "abuse" | "fraud" | "virus" | "other" => {}
        // A person rescuing the message from spam, or a report about our
        // authentication (RFC 6591): neither is a complaint.
        "not-spam" | "auth-failure" => return Ok(Vec::new()),
        _ => return Err(BounceError::UnknownFeedbackType { feedback_type }),
    }

    let original = original(message);
    let mut seen = HashSet::new();
    let recipients: Vec<String> = blocks
        .iter()
        .flat_map(|b| b.all("original-rcpt-to"))
        .filter_map(address_field)
        .filter(|address| seen.insert(address.clone()))
        .collect();
    let recipients: Vec<Option<String>> = if recipients.is_empty() {
        vec![original.as_ref().and_then(|o| o.to.clone())]
    } else {
        recipients.into_iter().map(Some).collect()
    };

    let diagnostic = match field("user-agent") {
        Some(agent) => format!("feedback report ({feedback_type}) from {}", clip(agent)),
        None => format!("feedback report ({feedback_type})"),
    };
    let message_id = original.and_then(|o| o.message_id);
    Ok(recipients
        .into_iter()
        .map(|recipient| Report {
            kind: ReportKind::Complaint,
            recipient,
            message_id: message_id.clone(),
            status: Some(feedback_type.clone()),
            diagnostic: Some(diagnostic.clone()),
            token: None,
        })
        .collect())
}

// ---------------------------------------------------------------------------
// Unsubscribe requests

/// Our `List-Unsubscribe` mailto sets the subject to `unsubscribe <token>`.
/// `None` when the subject is not about unsubscribing at all.
fn read_unsubscribe(message: &Message<'_>) -> Option<Result<Report, BounceError>> {
    let subject = message.subject()?.trim();
    let lower = subject.to_ascii_lowercase();
    // A client that did not decode the mailto leaves the %20 in place.
    let rest = if lower.starts_with("unsubscribe%20") {
        subject.get("unsubscribe%20".len()..)?
    } else {
        let (word, rest) = subject
            .split_once(char::is_whitespace)
            .unwrap_or((subject, ""));
        if !word.eq_ignore_ascii_case("unsubscribe") {
            return None;
        }
        rest
    };
    let token = rest.trim();
    let from = sender(message);
    if token.is_empty() || token.contains(char::is_whitespace) {
        return Some(Err(BounceError::UnsubscribeWithoutToken {
            from: from.unwrap_or_else(|| "(unknown)".to_string()),
            subject: subject.to_string(),
        }));
    }
    Some(Ok(Report {
        kind: ReportKind::Unsubscribe,
        recipient: from,
        message_id: None,
        status: None,
        diagnostic: Some("unsubscribe request by email".to_string()),
        token: Some(token.to_string()),
    }))
}

// ---------------------------------------------------------------------------
// Plain-text bounces

/// Reads a bounce that is not a DSN. Conservative: it must name exactly one
/// address besides its own and ours, and carry an SMTP reply code; without
/// an enhanced code, only a 550/551/553 that also says the user is unknown
/// counts as hard.
fn read_plain_bounce(message: &Message<'_>) -> Result<Report, BounceError> {
    let from = sender(message).unwrap_or_default();
    let unreadable = |reason: String| BounceError::UnreadableBounce {
        from: from.clone(),
        reason,
    };
    let body = message
        .body_text(0)
        .ok_or_else(|| unreadable("has no text to read".to_string()))?;
    let notice = notice_lines(&body);

    let mut ours: HashSet<String> = HashSet::from([from.clone()]);
    for header in [message.to(), message.cc()].into_iter().flatten() {
        ours.extend(
            header
                .iter()
                .filter_map(|a| a.address.as_deref())
                .map(normalise_address),
        );
    }
    // Three are enough to name in the error; the rest need not be read.
    let mut addresses: Vec<String> = Vec::new();
    for address in notice.iter().flat_map(|line| addresses_in(line)) {
        if !ours.contains(&address) && !is_mail_server(&address) && !addresses.contains(&address) {
            addresses.push(address);
            if addresses.len() == 3 {
                break;
            }
        }
    }
    let recipient = match addresses.as_slice() {
        [one] => one.clone(),
        [] => return Err(unreadable("names no recipient address".to_string())),
        several => {
            return Err(unreadable(format!(
                "names several addresses ({}), so it is unclear which one failed",
                several.join(", ")
            )));
        }
    };

    let Some(reply_text) = notice.iter().find_map(|line| reply_in(line)) else {
        return Err(unreadable("carries no SMTP reply code".to_string()));
    };
    let reply = SmtpReply::parse(reply_text);
    // qmail writes the enhanced code on its own, as "(#5.1.1)".
    let enhanced = reply.enhanced.or_else(|| {
        notice
            .iter()
            .flat_map(|l| l.split_whitespace())
            .map(|w| w.trim_matches(|c: char| !c.is_ascii_digit()))
            .find_map(StatusCode::parse)
    });
    let failed_class = reply.basic.map(|b| (b / 100) as u8);
    let enhanced = enhanced.filter(|e| Some(e.class) == failed_class);

    let notice_text = notice.join("\n");
    let kind = match (failed_class, enhanced) {
        (Some(4), _) => ReportKind::SoftBounce,
        (_, Some(e)) if !e.is_generic() => {
            if e.is_hard() {
                ReportKind::HardBounce
            } else {
                ReportKind::SoftBounce
            }
        }
        _ => match reply.basic {
            Some(550 | 551 | 553)
                if says_user_unknown(&notice_text) && !mentions_policy(&notice_text) =>
            {
                ReportKind::HardBounce
            }
            _ => ReportKind::SoftBounce,
        },
    };
    Ok(Report {
        kind,
        recipient: Some(recipient),
        message_id: original(message)
            .and_then(|o| o.message_id)
            .or_else(|| message_id_in_text(&body)),
        status: enhanced.map(|e| e.to_string()),
        diagnostic: Some(clip(reply_text)),
        token: None,
    })
}

/// The rest of a line from its first SMTP reply code on, e.g.
/// `550 5.1.1 <…>: User unknown` out of `Remote host said: 550 5.1.1 …`.
fn reply_in(line: &str) -> Option<&str> {
    let word = line
        .split_whitespace()
        .find(|w| basic_code(w.split('-').next().unwrap_or(w)).is_some())?;
    // `word` is a slice of `line`, so the difference is its byte offset.
    let at = word.as_ptr() as usize - line.as_ptr() as usize;
    line.get(at..).map(str::trim)
}

/// The notice itself: the body up to where the returned message is copied
/// in, so that the original's From and To are not mistaken for the failed
/// recipient.
fn notice_lines(body: &str) -> Vec<&str> {
    const COPY_STARTS: &[&str] = &[
        "return-path:",
        "received:",
        "from:",
        "to:",
        "subject:",
        "date:",
        "message-id:",
        "dkim-signature:",
    ];
    body.lines()
        .take_while(|line| {
            let lower = line.to_ascii_lowercase();
            let header = COPY_STARTS.iter().any(|h| lower.starts_with(h));
            let trimmed = lower.trim();
            let marker = (trimmed.starts_with("---") || trimmed.starts_with("==="))
                && (trimmed.contains("copy") || trimmed.contains("original"));
            !header && !marker
        })
        .collect()
}

fn says_user_unknown(text: &str) -> bool {
    let text = text.to_lowercase();
    [
        "user unknown",
        "unknown user",
        "no such user",
        "no such mailbox",
        "no such recipient",
        "does not exist",
        "doesn't exist",
        "mailbox not found",
        "recipient not found",
        "unknown recipient",
        "invalid recipient",
        "invalid mailbox",
        "no mailbox",
    ]
    .iter()
    .any(|w| text.contains(w))
}

/// Addresses mentioned in a line of text, lowercased.
fn addresses_in(line: &str) -> Vec<String> {
    line.split(|c: char| c.is_whitespace() || "<>()[]{},;:'\"`".contains(c))
        .map(|w| w.trim_end_matches('.'))
        .filter(|w| is_sendable_address(w))
        .map(normalise_address)
        .collect()
}

/// A `Message-ID:` line of a returned message copied into a text body.
fn message_id_in_text(body: &str) -> Option<String> {
    let mut lines = body.lines();
    while let Some(line) = lines.next() {
        let Some(name) = line.get(..11) else {
            continue;
        };
        if !name.eq_ignore_ascii_case("message-id:") {
            continue;
        }
        let value = line.get(11..).unwrap_or("").trim();
        // The id may be folded onto the next line.
        let value = if value.is_empty() {
            lines.next().unwrap_or("").trim()
        } else {
            value
        };
        return bracketed_id(value);
    }
    None
}

/// `<id@host>` from a header value that holds one, with its brackets.
fn bracketed_id(value: &str) -> Option<String> {
    let start = value.find('<')?;
    let end = start + value[start..].find('>')?;
    let id = value[start + 1..end].trim();
    (!id.is_empty() && !id.contains(char::is_whitespace)).then(|| format!("<{id}>"))
}

// ---------------------------------------------------------------------------
// Shared pieces

/// Header-like fields of one block, names lowercased, folded values joined.
#[derive(Debug, Default)]
struct FieldBlock {
    fields: Vec<(String, String)>,
}

impl FieldBlock {
    fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.fields
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn is_recipient(&self) -> bool {
        ["final-recipient", "original-recipient", "action", "status"]
            .iter()
            .any(|name| self.get(name).is_some())
    }
}

/// Splits a delivery-status or feedback-report body into blocks of fields.
fn field_blocks(text: &str) -> Vec<FieldBlock> {
    let mut blocks = Vec::new();
    let mut block = FieldBlock::default();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !block.fields.is_empty() {
                blocks.push(std::mem::take(&mut block));
            }
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = block.fields.last_mut() {
                if !value.is_empty() {
                    value.push(' ');
                }
                value.push_str(line.trim());
            }
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name.is_empty() || name.contains(char::is_whitespace) {
            continue;
        }
        block
            .fields
            .push((name.to_ascii_lowercase(), value.trim().to_string()));
    }
    if !block.fields.is_empty() {
        blocks.push(block);
    }
    blocks
}

/// The first part of the message (outside attached messages) whose
/// Content-Type is `message/<one of subtypes>`.
fn find_part<'m>(message: &'m Message<'_>, subtypes: &[&str]) -> Option<&'m MessagePart<'m>> {
    message.parts.iter().find(|part| {
        part.content_type().is_some_and(|ct| {
            ct.ctype().eq_ignore_ascii_case("message")
                && ct
                    .subtype()
                    .is_some_and(|s| subtypes.iter().any(|t| s.eq_ignore_ascii_case(t)))
        })
    })
}

fn content_type_of(part: &MessagePart<'_>) -> String {
    match part.content_type() {
        Some(ct) => match ct.subtype() {
            Some(subtype) => format!("{}/{}", ct.ctype(), subtype).to_ascii_lowercase(),
            None => ct.ctype().to_ascii_lowercase(),
        },
        None => "text/plain (none given)".to_string(),
    }
}

/// What matters of the message we sent, as returned inside a report.
struct Original {
    message_id: Option<String>,
    /// The one address in its To, if it has exactly one.
    to: Option<String>,
}

/// The returned original: a message/rfc822 part, or only its headers as
/// text/rfc822-headers (message/global and message/global-headers for
/// internationalised mail).
fn original(message: &Message<'_>) -> Option<Original> {
    message.parts.iter().find_map(|part| {
        let ct = part.content_type()?;
        let kind = format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or("")).to_ascii_lowercase();
        match kind.as_str() {
            "message/rfc822" | "message/global" => match part.message() {
                Some(nested) => Some(original_of(nested)),
                None => headers_original(part.contents()),
            },
            "text/rfc822-headers" | "message/global-headers" => headers_original(part.contents()),
            _ => None,
        }
    })
}

fn headers_original(raw: &[u8]) -> Option<Original> {
    MessageParser::new()
        .parse_headers(raw)
        .map(|m| original_of(&m))
}

fn original_of(message: &Message<'_>) -> Original {
    let message_id = message
        .message_id()
        .map(str::trim)
        .filter(|id| !id.is_empty() && !id.contains(char::is_whitespace))
        .map(|id| format!("<{}>", id.trim_start_matches('<').trim_end_matches('>')));
    let to: Vec<String> = message
        .to()
        .map(|to| {
            to.iter()
                .filter_map(|a| a.address.as_deref())
                .map(str::trim)
                .filter(|a| is_sendable_address(a))
                .map(normalise_address)
                .collect()
        })
        .unwrap_or_default();
    Original {
        message_id,
        to: match to.as_slice() {
            [one] => Some(one.clone()),
            _ => None,
        },
    }
}

/// The message's From address, lowercased.
fn sender(message: &Message<'_>) -> Option<String> {
    message
        .from()
        .and_then(|from| from.first())
        .and_then(|a| a.address.as_deref())
        .map(normalise_address)
        .filter(|a| !a.is_empty())
}

/// Whether an address belongs to a mail server rather than a person.
fn is_mail_server(address: &str) -> bool {
    let local = address.split('@').next().unwrap_or(address);
    let local = local.to_ascii_lowercase();
    local.starts_with("mailer-daemon") || local == "postmaster"
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use proptest::prelude::*;

    use super::*;

    const FIXTURES: &[&str] = &[
        "arf_abuse_rcpt_to.eml",
        "arf_not_spam.eml",
        "bounces.mbox",
        "exim_hard.eml",
        "gmail_over_quota.eml",
        "mailer_daemon_no_code.eml",
        "microsoft365_blocked_5_7_1.eml",
        "postfix_hard_5_1_1.eml",
        "qmail_plain_text.eml",
        "reply_from_person.eml",
        "sendmail_multi_recipient.eml",
        "unsubscribe_request.eml",
        "yahoo_arf_abuse.eml",
    ];

    fn fixture_path(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/bounce")
            .join(name)
    }

    fn fixture(name: &str) -> Vec<u8> {
        let path = fixture_path(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn reports(name: &str) -> Vec<Report> {
        parse_report(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn only_report(name: &str) -> Report {
        let mut all = reports(name);
        assert_eq!(all.len(), 1, "{name}: {all:?}");
        all.remove(0)
    }

    fn error(raw: &[u8]) -> BounceError {
        match parse_report(raw) {
            Ok(r) => panic!("expected an error, got {r:?}"),
            Err(e) => e,
        }
    }

    /// A minimal DSN from a mail server whose delivery-status part holds
    /// `blocks` after the per-message block.
    fn dsn(blocks: &str) -> Vec<u8> {
        format!(
            "From: MAILER-DAEMON@mx.example.org\r\n\
             To: bounces@news.example.com\r\n\
             Subject: Undelivered Mail Returned to Sender\r\n\
             MIME-Version: 1.0\r\n\
             Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\
             \r\n\
             --b\r\n\
             Content-Type: text/plain\r\n\
             \r\n\
             Delivery failed.\r\n\
             --b\r\n\
             Content-Type: message/delivery-status\r\n\
             \r\n\
             Reporting-MTA: dns; mx.example.org\r\n\
             \r\n\
             {blocks}\r\n\
             --b\r\n\
             Content-Type: text/rfc822-headers\r\n\
             \r\n\
             From: hello@news.example.com\r\n\
             To: ana@example.net\r\n\
             Message-ID: <m1@news.example.com>\r\n\
             \r\n\
             --b--\r\n"
        )
        .into_bytes()
    }

    fn kinds(raw: &[u8]) -> Vec<ReportKind> {
        parse_report(raw)
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .map(|r| r.kind)
            .collect()
    }

    // --- delivery status notifications -----------------------------------

    #[test]
    fn postfix_user_unknown_5_1_1_is_a_hard_bounce_of_our_message() {
        let r = only_report("postfix_hard_5_1_1.eml");
        assert_eq!(r.kind, ReportKind::HardBounce);
        assert_eq!(r.recipient.as_deref(), Some("nobody.here@example.net"));
        assert_eq!(
            r.message_id.as_deref(),
            Some("<b17.c4402.3f9a1e@news.example.com>")
        );
        assert_eq!(r.status.as_deref(), Some("5.1.1"));
        assert_eq!(
            r.diagnostic.as_deref(),
            Some(
                "550 5.1.1 <nobody.here@example.net>: Recipient address rejected: \
                 User unknown in virtual mailbox table"
            )
        );
        assert_eq!(r.token, None);
        assert_eq!(r.kind.suppression(), Some(SuppressionReason::HardBounce));
        assert_eq!(r.kind.event_kind(), MessageEventKind::Bounced);
    }

    #[test]
    fn multi_recipient_dsn_reports_the_failed_and_the_delayed_and_skips_the_relayed() {
        let all = reports("sendmail_multi_recipient.eml");
        let summary: Vec<_> = all
            .iter()
            .map(|r| (r.kind, r.recipient.as_deref(), r.status.as_deref()))
            .collect();
        assert_eq!(
            summary,
            [
                (
                    ReportKind::HardBounce,
                    Some("gone.away@example.org"),
                    Some("5.1.1")
                ),
                (
                    ReportKind::SoftBounce,
                    Some("slow.server@lists.example.org"),
                    Some("4.4.1")
                ),
            ]
        );
        // Upper-case "SMTP;" is stripped and the tab-folded line joined.
        assert_eq!(
            all[0].diagnostic.as_deref(),
            Some("550 5.1.1 <gone.away@example.org>... User unknown")
        );
        for r in &all {
            assert_eq!(
                r.message_id.as_deref(),
                Some("<b18.c0091.7d21aa@news.example.com>"),
                "from the text/rfc822-headers part"
            );
        }
        assert_eq!(all[1].kind.suppression(), None);
    }

    #[test]
    fn exim_generic_5_0_0_takes_the_remote_servers_precise_code() {
        let r = only_report("exim_hard.eml");
        assert_eq!(r.kind, ReportKind::HardBounce);
        assert_eq!(r.recipient.as_deref(), Some("mila.k@example.org"));
        assert_eq!(r.status.as_deref(), Some("5.1.1"));
        assert_eq!(
            r.message_id.as_deref(),
            Some("<b19.c5512.0c71fe@news.example.com>")
        );
    }

    #[test]
    fn gmail_over_quota_5_2_2_is_soft_because_the_mailbox_exists() {
        let r = only_report("gmail_over_quota.eml");
        assert_eq!(r.kind, ReportKind::SoftBounce);
        assert_eq!(r.recipient.as_deref(), Some("full.inbox@gmail.example"));
        assert_eq!(r.status.as_deref(), Some("5.2.2"));
        assert_eq!(
            r.message_id.as_deref(),
            Some("<b20.c0777.aa01c3@news.example.com>")
        );
        let diagnostic = r.diagnostic.unwrap_or_default();
        assert!(
            diagnostic.starts_with("The recipient's inbox is out of storage space. Please direct the recipient to free up space"),
            "{diagnostic}"
        );
        assert!(diagnostic.ends_with("- gsmtp"), "{diagnostic}");
    }

    #[test]
    fn microsoft_365_block_list_refusal_5_7_1_is_soft_because_the_address_exists() {
        let r = only_report("microsoft365_blocked_5_7_1.eml");
        assert_eq!(r.kind, ReportKind::SoftBounce);
        assert_eq!(r.recipient.as_deref(), Some("j.doe@contoso.example"));
        assert_eq!(r.status.as_deref(), Some("5.7.1"));
        // The Message-ID header of the original is folded onto its own line.
        assert_eq!(
            r.message_id.as_deref(),
            Some("<b21.c3141.5e9d02@news.example.com>")
        );
        assert!(
            r.diagnostic
                .as_deref()
                .is_some_and(|d| d.contains("blocked using a block list")),
            "{r:?}"
        );
    }

    #[test]
    fn missing_status_falls_back_to_the_smtp_code() {
        let hard = dsn(
            "Final-Recipient: rfc822; ana@example.net\r\nAction: failed\r\n\
                        Diagnostic-Code: smtp; 550 Requested action not taken: mailbox unavailable\r\n",
        );
        assert_eq!(kinds(&hard), [ReportKind::HardBounce]);
        let temporary = dsn(
            "Final-Recipient: rfc822; ana@example.net\r\nAction: failed\r\n\
                             Diagnostic-Code: smtp; 451 Try again later\r\n",
        );
        assert_eq!(kinds(&temporary), [ReportKind::SoftBounce]);
        let policy = dsn(
            "Final-Recipient: rfc822; ana@example.net\r\nAction: failed\r\n\
                          Diagnostic-Code: smtp; 550 Message rejected as spam\r\n",
        );
        assert_eq!(
            kinds(&policy),
            [ReportKind::SoftBounce],
            "550 for policy is not about the address"
        );
    }

    #[test]
    fn permanent_codes_are_hard_only_for_address_problems() {
        let kind_for = |status: &str| {
            let raw = dsn(&format!(
                "Final-Recipient: rfc822; ana@example.net\r\nAction: failed\r\nStatus: {status}\r\n"
            ));
            kinds(&raw)
        };
        for hard in ["5.1.1", "5.1.2", "5.1.10", "5.2.1", "5.7.13"] {
            assert_eq!(kind_for(hard), [ReportKind::HardBounce], "{hard}");
        }
        for soft in [
            "5.1.7", "5.2.2", "5.2.3", "5.3.4", "5.4.4", "5.7.1", "5.7.26", "4.2.2",
        ] {
            assert_eq!(kind_for(soft), [ReportKind::SoftBounce], "{soft}");
        }
    }

    #[test]
    fn delayed_action_is_soft_even_with_a_permanent_looking_code() {
        let raw =
            dsn("Final-Recipient: rfc822; ana@example.net\r\nAction: delayed\r\nStatus: 5.1.1\r\n");
        assert_eq!(kinds(&raw), [ReportKind::SoftBounce]);

        let no_status = dsn("Final-Recipient: rfc822; ana@example.net\r\nAction: delayed\r\n");
        let r = parse_report(&no_status).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r[0].kind, ReportKind::SoftBounce);
        assert_eq!(r[0].status, None);
        assert_eq!(r[0].diagnostic.as_deref(), Some("delivery delayed"));
    }

    #[test]
    fn delivered_relayed_and_expanded_recipients_give_no_report() {
        let raw = dsn(
            "Final-Recipient: rfc822; a@example.net\r\nAction: delivered\r\nStatus: 2.0.0\r\n\r\n\
                       Final-Recipient: rfc822; b@example.net\r\nAction: RELAYED\r\nStatus: 2.0.0\r\n\r\n\
                       Final-Recipient: rfc822; c@example.net\r\nAction: expanded (to 3 lists)\r\nStatus: 2.0.0\r\n",
        );
        assert_eq!(kinds(&raw), []);
    }

    #[test]
    fn field_names_are_case_insensitive_and_values_may_be_folded() {
        let raw = dsn(
            "final-recipient:\r\n  RFC822;\r\n  <Ana@Example.NET>\r\naction: Failed\r\nSTATUS: 5.1.1 (bad mailbox)\r\n",
        );
        let r = parse_report(&raw).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].recipient.as_deref(), Some("ana@example.net"));
        assert_eq!(r[0].status.as_deref(), Some("5.1.1"));
        assert_eq!(r[0].message_id.as_deref(), Some("<m1@news.example.com>"));
        assert_eq!(
            r[0].diagnostic.as_deref(),
            Some("delivery failed: the mailbox does not exist (5.1.1)"),
            "a short reason when the server gave no Diagnostic-Code"
        );
    }

    #[test]
    fn original_recipient_wins_over_the_forwarded_final_recipient() {
        let raw = dsn("Original-Recipient: rfc822;ana@example.net\r\n\
                       Final-Recipient: rfc822;ana.forwarded@elsewhere.example\r\n\
                       Action: failed\r\nStatus: 5.1.1\r\n");
        let r = parse_report(&raw).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r[0].recipient.as_deref(), Some("ana@example.net"));
    }

    #[test]
    fn dsn_without_recipient_blocks_is_an_error() {
        let e = error(&dsn("X-Note: nothing here\r\n"));
        assert_eq!(e, BounceError::NoRecipients);
        assert_eq!(e.code(), "bounce_recipient_missing");
    }

    #[test]
    fn report_without_its_status_part_or_of_another_type_is_an_error() {
        let report = |report_type: &str| {
            format!(
                "From: MAILER-DAEMON@mx.example.org\r\n\
                 Content-Type: multipart/report; report-type={report_type}; boundary=\"b\"\r\n\r\n\
                 --b\r\nContent-Type: text/plain\r\n\r\nHello.\r\n--b--\r\n"
            )
            .into_bytes()
        };
        assert_eq!(
            error(&report("delivery-status")),
            BounceError::MissingDeliveryStatus
        );
        assert_eq!(
            error(&report("feedback-report")),
            BounceError::MissingFeedbackReport
        );
        let e = error(&report("disposition-notification"));
        assert_eq!(e.code(), "bounce_report_type_unsupported");
        assert!(e.to_string().contains("disposition-notification"), "{e}");
    }

    // --- feedback reports -------------------------------------------------

    #[test]
    fn yahoo_abuse_report_is_a_complaint_about_the_attached_original() {
        let r = only_report("yahoo_arf_abuse.eml");
        assert_eq!(r.kind, ReportKind::Complaint);
        assert_eq!(r.status.as_deref(), Some("abuse"));
        assert_eq!(
            r.recipient.as_deref(),
            Some("pat.reader@yahoo.example"),
            "from the To of the attached headers when there is no Original-Rcpt-To"
        );
        assert_eq!(
            r.message_id.as_deref(),
            Some("<b22.c8080.61be4f@news.example.com>")
        );
        assert_eq!(
            r.diagnostic.as_deref(),
            Some("feedback report (abuse) from Yahoo!-Mail-Feedback/2.0")
        );
        assert_eq!(r.kind.suppression(), Some(SuppressionReason::Complaint));
    }

    #[test]
    fn original_rcpt_to_names_the_complainants_before_the_to_header() {
        let all = reports("arf_abuse_rcpt_to.eml");
        let recipients: Vec<_> = all.iter().map(|r| r.recipient.as_deref()).collect();
        assert_eq!(
            recipients,
            [Some("sam.ortiz@example.org"), Some("dana.li@example.org")]
        );
        for r in &all {
            assert_eq!(r.kind, ReportKind::Complaint);
            assert_eq!(r.status.as_deref(), Some("abuse"), "lowercased");
            assert_eq!(
                r.message_id.as_deref(),
                Some("<b24.c8080.aa0011@news.example.com>")
            );
        }
    }

    #[test]
    fn not_spam_feedback_is_ignored() {
        assert_eq!(reports("arf_not_spam.eml"), []);
    }

    #[test]
    fn feedback_report_of_unknown_or_missing_type_is_an_error() {
        let arf = |fields: &str| {
            format!(
                "From: fbl@isp.example\r\n\
                 Content-Type: multipart/report; report-type=feedback-report; boundary=\"b\"\r\n\r\n\
                 --b\r\nContent-Type: message/feedback-report\r\n\r\n{fields}\r\n--b--\r\n"
            )
            .into_bytes()
        };
        let e = error(&arf("Feedback-Type: opt-out-ish\r\nVersion: 1\r\n"));
        assert_eq!(
            e,
            BounceError::UnknownFeedbackType {
                feedback_type: "opt-out-ish".to_string()
            }
        );
        assert_eq!(
            error(&arf("Version: 1\r\n")),
            BounceError::MissingFeedbackType
        );
        let r = parse_report(&arf("Feedback-Type: fraud\r\n")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].kind, ReportKind::Complaint);
        assert_eq!(r[0].recipient, None, "no Original-Rcpt-To and no original");
        assert_eq!(r[0].message_id, None);
    }

    // --- unsubscribe requests ---------------------------------------------

    #[test]
    fn unsubscribe_request_carries_the_token_from_its_subject() {
        let r = only_report("unsubscribe_request.eml");
        assert_eq!(r.kind, ReportKind::Unsubscribe);
        assert_eq!(r.token.as_deref(), Some("v1.c4402.Zk9xQ2hM"));
        assert_eq!(r.recipient.as_deref(), Some("pat.reader@example.com"));
        assert_eq!(r.kind.event_kind(), MessageEventKind::Unsubscribed);
        assert_eq!(r.kind.suppression(), None);
    }

    #[test]
    fn undecoded_mailto_subject_still_gives_the_token() {
        let raw = b"From: a@example.com\r\nSubject: unsubscribe%20tok.123\r\n\r\nx\r\n";
        let r = parse_report(raw).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r[0].token.as_deref(), Some("tok.123"));
    }

    #[test]
    fn unsubscribe_without_a_token_asks_for_a_person() {
        for subject in ["Unsubscribe", "unsubscribe me please"] {
            let raw = format!("From: Ana <ana@example.net>\r\nSubject: {subject}\r\n\r\nStop.\r\n");
            let e = error(raw.as_bytes());
            assert_eq!(e.code(), "unsubscribe_token_missing");
            assert!(
                e.to_string()
                    .contains("unsubscribe ana@example.net by hand"),
                "{e}"
            );
        }
    }

    // --- what is not a report ---------------------------------------------

    #[test]
    fn reply_from_a_person_is_not_a_report() {
        let e = error(&fixture("reply_from_person.eml"));
        assert_eq!(
            e,
            BounceError::NotAReport {
                content_type: "text/plain".to_string(),
                from: "ana.silva@example.net".to_string(),
            }
        );
        assert_eq!(e.code(), "bounce_not_report");
        assert!(
            e.to_string().starts_with(
                "not a delivery status notification or feedback report: Content-Type is text/plain"
            ),
            "{e}"
        );
    }

    #[test]
    fn bounce_forwarded_by_a_person_is_not_a_bounce_of_ours() {
        let mut raw = b"From: Ana <ana.silva@example.net>\r\n\
                        To: hello@news.example.com\r\n\
                        Subject: Fwd: Undelivered Mail Returned to Sender\r\n\
                        Content-Type: multipart/mixed; boundary=\"fwd\"\r\n\r\n\
                        --fwd\r\nContent-Type: text/plain\r\n\r\nLook at this.\r\n\
                        --fwd\r\nContent-Type: message/rfc822\r\n\r\n"
            .to_vec();
        raw.extend(fixture("postfix_hard_5_1_1.eml"));
        raw.extend(b"\r\n--fwd--\r\n");
        assert_eq!(error(&raw).code(), "bounce_not_report");
    }

    #[test]
    fn bytes_without_headers_are_not_an_email() {
        assert_eq!(error(b""), BounceError::NotAnEmail);
        assert_eq!(error(b"\r\n\r\n"), BounceError::NotAnEmail);
    }

    #[test]
    fn errors_become_app_errors_with_their_code() {
        let app: AppError = BounceError::NoRecipients.into();
        assert_eq!(app.kind, ErrorKind::Invalid);
        assert_eq!(app.code, "bounce_recipient_missing");
        assert!(app.message.contains("names no recipient"));
    }

    // --- plain-text bounces -----------------------------------------------

    #[test]
    fn qmail_plain_text_bounce_with_an_enhanced_code_is_hard() {
        let r = only_report("qmail_plain_text.eml");
        assert_eq!(r.kind, ReportKind::HardBounce);
        assert_eq!(r.recipient.as_deref(), Some("chris.moor@oldhost.example"));
        assert_eq!(r.status.as_deref(), Some("5.1.1"));
        assert_eq!(
            r.message_id.as_deref(),
            Some("<b25.c0310.19ad7e@news.example.com>"),
            "from the copy of the message in the body"
        );
        assert!(
            r.diagnostic
                .as_deref()
                .is_some_and(|d| d.starts_with("550 5.1.1 <Chris.Moor@oldhost.example>")),
            "{r:?}"
        );
    }

    #[test]
    fn mail_server_notice_without_address_or_code_is_an_error() {
        let e = error(&fixture("mailer_daemon_no_code.eml"));
        assert_eq!(e.code(), "bounce_unreadable");
        assert!(e.to_string().contains("names no recipient address"), "{e}");

        let no_code = b"From: postmaster@mx.example.org\r\nTo: bounces@news.example.com\r\n\r\n\
                        Could not deliver to ana@example.net, sorry.\r\n";
        let e = error(no_code);
        assert!(e.to_string().contains("carries no SMTP reply code"), "{e}");
    }

    #[test]
    fn plain_bounce_naming_several_addresses_is_not_guessed() {
        let raw = b"From: MAILER-DAEMON@mx.example.org\r\nTo: bounces@news.example.com\r\n\r\n\
                    <ana@example.net>: 550 5.1.1 user unknown\r\n\
                    <bo@example.net>: 550 5.1.1 user unknown\r\n";
        let e = error(raw);
        assert!(
            e.to_string().contains("ana@example.net, bo@example.net"),
            "{e}"
        );
    }

    #[test]
    fn plain_bounce_with_a_bare_550_is_hard_only_when_it_says_user_unknown() {
        let bounce = |text: &str| {
            format!(
                "From: MAILER-DAEMON@mx.example.org\r\nTo: bounces@news.example.com\r\n\r\n{text}\r\n"
            )
            .into_bytes()
        };
        assert_eq!(
            kinds(&bounce("<ana@example.net>: host said: 550 User unknown")),
            [ReportKind::HardBounce]
        );
        assert_eq!(
            kinds(&bounce(
                "<ana@example.net>: host said: 550 Service unavailable"
            )),
            [ReportKind::SoftBounce]
        );
        assert_eq!(
            kinds(&bounce(
                "<ana@example.net>: host said: 452 4.2.2 Mailbox full"
            )),
            [ReportKind::SoftBounce]
        );
    }

    // --- mailboxes --------------------------------------------------------

    #[test]
    fn mbox_splits_into_its_four_messages_with_their_positions() {
        let raw = fixture("bounces.mbox");
        let messages = split_mailbox(&raw);
        let lines: Vec<usize> = messages.iter().map(|m| m.line).collect();
        assert_eq!(lines, [2, 43, 76, 86]);
        for m in &messages {
            assert_eq!(&raw[m.offset..m.offset + m.raw.len()], m.raw);
            let first_line = raw
                .split(|&b| b == b'\n')
                .nth(m.line - 1)
                .unwrap_or_default();
            assert!(m.raw.starts_with(first_line));
        }

        let outcomes: Vec<Result<Vec<ReportKind>, &str>> = messages
            .iter()
            .map(|m| match parse_report(m.raw) {
                Ok(r) => Ok(r.into_iter().map(|r| r.kind).collect()),
                Err(e) => Err(e.code()),
            })
            .collect();
        assert_eq!(
            outcomes,
            [
                Ok(vec![ReportKind::HardBounce]),
                Ok(vec![ReportKind::Complaint]),
                Ok(vec![ReportKind::Unsubscribe]),
                Err("bounce_not_report"),
            ]
        );
        // An escaped ">From " line in a body does not start a message.
        let last = String::from_utf8_lossy(messages[3].raw);
        assert!(last.contains(">From what I read"), "{last}");
    }

    #[test]
    fn a_single_message_is_a_mailbox_of_one() {
        let raw = fixture("postfix_hard_5_1_1.eml");
        assert_eq!(
            split_mailbox(&raw),
            [MailboxMessage {
                line: 1,
                offset: 0,
                raw: &raw
            }]
        );
        assert_eq!(split_mailbox(b""), []);
        assert_eq!(split_mailbox(b"\n  \r\n"), []);
    }

    // --- robustness -------------------------------------------------------

    fn mailish_line() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(
                "Content-Type: multipart/report; report-type=delivery-status; boundary=b"
                    .to_string()
            ),
            Just(
                "Content-Type: multipart/report; report-type=feedback-report; boundary=b"
                    .to_string()
            ),
            Just("Content-Type: message/delivery-status".to_string()),
            Just("Content-Type: message/feedback-report".to_string()),
            Just("Content-Type: message/rfc822".to_string()),
            Just("Content-Type: text/rfc822-headers".to_string()),
            Just("From: MAILER-DAEMON@mx.example.org".to_string()),
            Just("Subject: unsubscribe t".to_string()),
            Just("From a@b Mon Mar 17 09:00:01 2025".to_string()),
            Just("--b".to_string()),
            Just("--b--".to_string()),
            Just(String::new()),
            Just(" folded".to_string()),
            Just("Status: 5.1.1".to_string()),
            Just("Action: failed".to_string()),
            Just("Final-Recipient: rfc822; a@example.net".to_string()),
            Just("Diagnostic-Code: smtp; 550-5.1.1 x".to_string()),
            Just("Feedback-Type: abuse".to_string()),
            Just("Message-ID: <".to_string()),
            "[ -~]{0,40}",
            "\\PC{0,20}",
        ]
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = parse_report(&raw);
            for m in split_mailbox(&raw) {
                prop_assert_eq!(&raw[m.offset..m.offset + m.raw.len()], m.raw);
                let _ = parse_report(m.raw);
            }
        }

        #[test]
        fn mail_like_lines_never_panic(
            lines in proptest::collection::vec(mailish_line(), 0..60),
            crlf in any::<bool>(),
        ) {
            let raw = lines.join(if crlf { "\r\n" } else { "\n" }).into_bytes();
            let _ = parse_report(&raw);
            for m in split_mailbox(&raw) {
                let _ = parse_report(m.raw);
            }
        }

        #[test]
        fn mutated_fixtures_never_panic(
            which in 0..FIXTURES.len(),
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..12),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut raw = fixture(FIXTURES[which]);
            for (at, byte, how) in edits {
                if raw.is_empty() {
                    break;
                }
                let at = at.index(raw.len());
                match how {
                    0 => raw[at] = byte,
                    1 => raw.insert(at, byte),
                    _ => { raw.remove(at); }
                }
            }
            let _ = parse_report(&raw);
            let end = cut.index(raw.len() + 1);
            let _ = parse_report(&raw[..end]);
            for m in split_mailbox(&raw) {
                let _ = parse_report(m.raw);
            }
        }
    }

    #[test]
    fn every_fixture_is_listed_for_the_robustness_tests() {
        let mut names: Vec<String> = std::fs::read_dir(fixture_path(""))
            .unwrap_or_else(|e| panic!("{e}"))
            .filter_map(|entry| entry.ok())
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, FIXTURES);
    }
}
