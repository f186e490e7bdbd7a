//! Messages in the Segment Spec: checking one call (`identify`, `track`,
//! `page`, `screen`, `group`, `alias`) into a typed `Message`, correcting the
//! client's clock, ignoring junk ids, and reading traits as fields.
//!
//! Pure rules: the time a message was received is an argument.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::record::FieldDef;

/// The kinds of call in the Segment Spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageType {
    Identify,
    Track,
    Page,
    Screen,
    Group,
    Alias,
}

impl MessageType {
    pub const ALL: [MessageType; 6] = [
        MessageType::Identify,
        MessageType::Track,
        MessageType::Page,
        MessageType::Screen,
        MessageType::Group,
        MessageType::Alias,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MessageType::Identify => "identify",
            MessageType::Track => "track",
            MessageType::Page => "page",
            MessageType::Screen => "screen",
            MessageType::Group => "group",
            MessageType::Alias => "alias",
        }
    }

    pub fn parse(s: &str) -> Option<MessageType> {
        MessageType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// Ids that buggy or placeholder code sends; treating them as real ids
/// would merge strangers into one person.
pub const JUNK_IDS: &[&str] = &[
    "",
    "null",
    "undefined",
    "nil",
    "none",
    "nan",
    "0",
    "-1",
    "anonymous",
    "unknown",
    "guest",
    "user",
    "test",
    "[object object]",
    "{}",
    "[]",
    "00000000-0000-0000-0000-000000000000",
];

/// Longest id accepted, in characters.
pub const MAX_ID_CHARS: usize = 255;
/// Longest `messageId` accepted (the Segment limit).
pub const MAX_MESSAGE_ID_CHARS: usize = 100;
/// Longest event name accepted.
pub const MAX_EVENT_NAME_CHARS: usize = 200;

/// A checked message, ready to resolve and store.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub kind: MessageType,
    pub message_id: String,
    pub user_id: Option<String>,
    pub anonymous_id: Option<String>,
    /// `alias`: the id the person had before.
    pub previous_id: Option<String>,
    /// `group`: the account's id.
    pub group_id: Option<String>,
    /// The event name for `track`, the page or screen name, else empty.
    pub name: String,
    /// When it happened, corrected for the client's clock (epoch ms).
    pub at: i64,
    pub received_at: i64,
    pub traits: Map<String, Value>,
    pub properties: Map<String, Value>,
    pub context: Map<String, Value>,
}

/// A message of a request, by its position, checked or refused.
pub type Checked = (usize, Result<Message, MessageError>);

/// Why one message was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct MessageError {
    pub code: &'static str,
    pub message: String,
}

fn refuse(code: &'static str, message: impl Into<String>) -> MessageError {
    MessageError {
        code,
        message: message.into(),
    }
}

/// An id as sent, or `None` when absent or on the junk list. Numbers are
/// accepted and read as text, as the SDKs allow.
pub fn clean_id(raw: Option<&Value>) -> Result<Option<String>, String> {
    let text = match raw {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s.trim().to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => return Err(format!("ids must be text or numbers, not {other}")),
    };
    if JUNK_IDS.contains(&text.to_lowercase().as_str()) {
        return Ok(None);
    }
    if text.chars().count() > MAX_ID_CHARS {
        return Err(format!("ids are at most {MAX_ID_CHARS} characters"));
    }
    Ok(Some(text))
}

fn object(raw: &Map<String, Value>, key: &str) -> Result<Map<String, Value>, MessageError> {
    match raw.get(key) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m.clone()),
        Some(_) => Err(refuse(
            "message_invalid",
            format!("`{key}` must be an object"),
        )),
    }
}

fn instant(raw: &Map<String, Value>, key: &str) -> Result<Option<i64>, MessageError> {
    match raw.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => crate::time::parse_instant(s)
            .map(|t| Some(t.as_millisecond()))
            .map_err(|_| {
                refuse(
                    "timestamp_invalid",
                    format!("`{key}` is not an ISO-8601 time such as 2026-03-01T09:30:00.000Z"),
                )
            }),
        Some(_) => Err(refuse(
            "timestamp_invalid",
            format!("`{key}` must be an ISO-8601 string"),
        )),
    }
}

/// What a batch sets for all of its messages.
#[derive(Debug, Clone, Default)]
pub struct BatchDefaults {
    pub context: Map<String, Value>,
    pub sent_at: Option<i64>,
}

/// Check one message. `kind` is the call's type when the route says it
/// (`/v1/track`); in a batch each message names its own `type`.
pub fn parse_message(
    raw: &Value,
    kind: Option<MessageType>,
    defaults: &BatchDefaults,
    received_at: i64,
) -> Result<Message, MessageError> {
    let Value::Object(m) = raw else {
        return Err(refuse(
            "message_invalid",
            "each message must be a JSON object",
        ));
    };
    let kind = match (kind, m.get("type").and_then(Value::as_str)) {
        (Some(k), _) => k,
        (None, Some(t)) => MessageType::parse(t).ok_or_else(|| {
            refuse(
                "type_unknown",
                format!("`type` `{t}` is not one of identify, track, page, screen, group, alias"),
            )
        })?,
        (None, None) => {
            return Err(refuse(
                "type_missing",
                "each message in a batch needs a `type`",
            ));
        }
    };
    let id =
        |key: &str| clean_id(m.get(key)).map_err(|e| refuse("id_invalid", format!("`{key}`: {e}")));
    let user_id = id("userId")?;
    let anonymous_id = id("anonymousId")?;
    let previous_id = id("previousId")?;
    let group_id = id("groupId")?;

    let message_id = match m.get("messageId") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
        Some(Value::Number(n)) => n.to_string(),
        None | Some(Value::Null) => generated_message_id(raw),
        Some(_) => return Err(refuse("message_id_invalid", "`messageId` must be text")),
    };
    if message_id.chars().count() > MAX_MESSAGE_ID_CHARS {
        return Err(refuse(
            "message_id_invalid",
            format!("`messageId` is at most {MAX_MESSAGE_ID_CHARS} characters"),
        ));
    }

    let name = match kind {
        MessageType::Track => match m.get("event") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
            _ => {
                return Err(refuse(
                    "event_missing",
                    "a track call needs an `event` name, e.g. \"Order Completed\"",
                ));
            }
        },
        MessageType::Page | MessageType::Screen => m
            .get("name")
            .and_then(Value::as_str)
            .map(|s| s.trim().to_string())
            .unwrap_or_default(),
        MessageType::Group => group_id.clone().unwrap_or_default(),
        MessageType::Identify | MessageType::Alias => String::new(),
    };
    if name.chars().count() > MAX_EVENT_NAME_CHARS {
        return Err(refuse(
            "event_invalid",
            format!("names are at most {MAX_EVENT_NAME_CHARS} characters"),
        ));
    }

    match kind {
        MessageType::Alias if previous_id.is_none() || user_id.is_none() => {
            return Err(refuse(
                "alias_ids_missing",
                "an alias call needs both `previousId` and `userId` (junk ids such as \"null\" or \"0\" do not count)",
            ));
        }
        MessageType::Group if group_id.is_none() => {
            return Err(refuse("group_id_missing", "a group call needs a `groupId`"));
        }
        _ if user_id.is_none() && anonymous_id.is_none() => {
            return Err(refuse(
                "identity_missing",
                "send a `userId` or an `anonymousId` (junk ids such as \"null\", \"undefined\" or \"0\" are ignored)",
            ));
        }
        _ => {}
    }

    let mut context = defaults.context.clone();
    context.extend(object(m, "context")?);
    let traits = match kind {
        // Segment SDKs also put identify traits in context.traits.
        MessageType::Identify | MessageType::Group => {
            let mut t = if kind == MessageType::Identify {
                context
                    .get("traits")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default()
            } else {
                Map::new()
            };
            t.extend(object(m, "traits")?);
            t
        }
        _ => Map::new(),
    };
    let mut properties = object(m, "properties")?;
    if kind == MessageType::Page || kind == MessageType::Screen {
        // Page properties may come only in context.page with the browser SDK.
        if let Some(page) = context.get("page").and_then(Value::as_object) {
            for (k, v) in page {
                properties.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
    }

    let original = match instant(m, "originalTimestamp")? {
        Some(t) => Some(t),
        None => instant(m, "timestamp")?,
    };
    let sent_at = instant(m, "sentAt")?.or(defaults.sent_at);
    let at = corrected_time(original, sent_at, received_at);

    Ok(Message {
        kind,
        message_id,
        user_id,
        anonymous_id,
        previous_id,
        group_id,
        name,
        at,
        received_at,
        traits,
        properties,
        context,
    })
}

/// When it happened: `receivedAt − (sentAt − originalTimestamp)` when the
/// client says when it sent the call, so a wrong device clock does not move
/// the event; else the client's time; else the time received.
pub fn corrected_time(original: Option<i64>, sent_at: Option<i64>, received_at: i64) -> i64 {
    match (original, sent_at) {
        (Some(o), Some(s)) => received_at - (s - o),
        (Some(o), None) => o,
        (None, _) => received_at,
    }
}

/// A stable id for a message sent without one, so an identical retry is
/// still recognised as a duplicate.
fn generated_message_id(raw: &Value) -> String {
    // FNV-1a: stable across builds and platforms, unlike std's hasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in raw.to_string().bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("pitcrew-{hash:016x}")
}

/// How Segment's reserved traits are named in pitcrew's data model.
const TRAIT_ALIASES: &[(&str, &str)] = &[
    ("firstName", "first_name"),
    ("lastName", "last_name"),
    ("title", "job_title"),
    ("jobTitle", "job_title"),
    ("employeeCount", "employees"),
    ("employee_count", "employees"),
];

/// `leadScore` → `lead_score`.
fn snake_case(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for (i, c) in key.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c == ' ' || c == '-' {
            out.push('_');
        } else {
            out.push(c);
        }
    }
    out
}

/// Traits split into values for known fields (by field key) and the rest.
/// Reserved Segment traits map to pitcrew's fields: `firstName`, `title`,
/// `company.name`, `address.country`, a `name` split into first and last.
pub fn traits_to_fields(
    traits: &Map<String, Value>,
    fields: &[FieldDef],
) -> (Map<String, Value>, Map<String, Value>) {
    let known = |k: &str| fields.iter().any(|f| f.key == k && !f.read_only);
    let mut matched = Map::new();
    let mut unknown = Map::new();
    for (key, value) in traits {
        let alias = TRAIT_ALIASES
            .iter()
            .find(|(a, _)| a == key)
            .map(|(_, f)| f.to_string());
        let target = alias.unwrap_or_else(|| snake_case(key));
        match (target.as_str(), value) {
            ("company", Value::Object(c)) if known("company") => {
                if let Some(n) = c.get("name") {
                    matched.insert("company".into(), n.clone());
                }
            }
            ("address", Value::Object(a)) => {
                for part in ["country", "city", "state", "postal_code"] {
                    let camel = if part == "postal_code" {
                        "postalCode"
                    } else {
                        part
                    };
                    if let Some(v) = a.get(part).or_else(|| a.get(camel))
                        && known(part)
                    {
                        matched.insert(part.into(), v.clone());
                    }
                }
            }
            ("name", Value::String(full)) if !known("name") => {
                let mut words = full.split_whitespace();
                let first = words.next().unwrap_or_default();
                let rest: Vec<&str> = words.collect();
                if known("first_name")
                    && !traits.contains_key("firstName")
                    && !traits.contains_key("first_name")
                {
                    matched.insert("first_name".into(), Value::String(first.into()));
                }
                if !rest.is_empty()
                    && known("last_name")
                    && !traits.contains_key("lastName")
                    && !traits.contains_key("last_name")
                {
                    matched.insert("last_name".into(), Value::String(rest.join(" ")));
                }
            }
            (t, _) if known(t) => {
                matched.insert(t.to_string(), value.clone());
            }
            _ => {
                unknown.insert(key.clone(), value.clone());
            }
        }
    }
    (matched, unknown)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::builtin::{account_fields, contact_fields};
    use serde_json::json;

    const NOW: i64 = 1_795_000_000_000;

    fn parse(v: Value) -> Result<Message, MessageError> {
        parse_message(&v, None, &BatchDefaults::default(), NOW)
    }

    #[test]
    fn clock_skew_is_corrected_from_sent_at() {
        // The device clock is an hour fast: it says it sent at 11:00 what happened at 10:59.
        let m = parse(
            json!({"type": "track", "event": "Signed Up", "userId": "u1",
            "originalTimestamp": "2026-11-18T11:59:00Z", "sentAt": "2026-11-18T12:00:00Z"}),
        )
        .expect("valid");
        assert_eq!(m.at, NOW - 60_000);
    }

    #[test]
    fn without_sent_at_the_client_time_is_used() {
        let m = parse(json!({"type": "track", "event": "X", "userId": "u1", "timestamp": "2020-01-01T00:00:00Z"})).expect("valid");
        assert_eq!(crate::time::format_ms(m.at), "2020-01-01T00:00:00.000Z");
        let m = parse(json!({"type": "track", "event": "X", "userId": "u1"})).expect("valid");
        assert_eq!(m.at, NOW);
    }

    #[test]
    fn junk_ids_count_as_absent() {
        for junk in [
            "null",
            "undefined",
            "0",
            "anonymous",
            "[object Object]",
            "  ",
            "NULL",
        ] {
            let e = parse(json!({"type": "track", "event": "X", "userId": junk})).expect_err(junk);
            assert_eq!(e.code, "identity_missing", "{junk}");
        }
        let m =
            parse(json!({"type": "track", "event": "X", "userId": "null", "anonymousId": "a-1"}))
                .expect("valid");
        assert_eq!((m.user_id, m.anonymous_id.as_deref()), (None, Some("a-1")));
    }

    #[test]
    fn numeric_ids_are_read_as_text() {
        let m = parse(json!({"type": "identify", "userId": 42})).expect("valid");
        assert_eq!(m.user_id.as_deref(), Some("42"));
    }

    #[test]
    fn each_call_checks_what_it_needs() {
        assert_eq!(
            parse(json!({"type": "track", "userId": "u"}))
                .expect_err("no event")
                .code,
            "event_missing"
        );
        assert_eq!(
            parse(json!({"type": "alias", "userId": "u"}))
                .expect_err("no previous")
                .code,
            "alias_ids_missing"
        );
        assert_eq!(
            parse(json!({"type": "group", "userId": "u"}))
                .expect_err("no group")
                .code,
            "group_id_missing"
        );
        assert_eq!(
            parse(json!({"type": "purchase", "userId": "u"}))
                .expect_err("type")
                .code,
            "type_unknown"
        );
        assert_eq!(
            parse(json!({"userId": "u"})).expect_err("type").code,
            "type_missing"
        );
        assert_eq!(
            parse(json!({"type": "track", "event": "X", "userId": "u", "properties": [1]}))
                .expect_err("props")
                .code,
            "message_invalid"
        );
        assert_eq!(
            parse(json!({"type": "track", "event": "X", "userId": "u", "timestamp": "yesterday"}))
                .expect_err("time")
                .code,
            "timestamp_invalid"
        );
        assert_eq!(
            parse(
                json!({"type": "track", "event": "X", "userId": "u", "messageId": "m".repeat(101)})
            )
            .expect_err("long")
            .code,
            "message_id_invalid"
        );
    }

    #[test]
    fn a_message_without_id_gets_a_stable_one() {
        let raw = json!({"type": "track", "event": "X", "userId": "u"});
        assert_eq!(
            parse(raw.clone()).expect("valid").message_id,
            parse(raw).expect("valid").message_id
        );
    }

    #[test]
    fn batch_context_applies_to_every_message_and_the_message_wins() {
        let defaults = BatchDefaults {
            context: json!({"ip": "1.2.3.4", "locale": "de-DE"})
                .as_object()
                .cloned()
                .expect("object"),
            sent_at: None,
        };
        let m = parse_message(
            &json!({"type": "page", "anonymousId": "a", "context": {"locale": "en-GB"}}),
            None,
            &defaults,
            NOW,
        )
        .expect("valid");
        assert_eq!(m.context["ip"], "1.2.3.4");
        assert_eq!(m.context["locale"], "en-GB");
    }

    #[test]
    fn reserved_traits_map_to_builtin_fields() {
        let traits = json!({"email": "Ada@Example.com", "firstName": "Ada", "lastName": "Lovelace", "title": "CTO",
            "company": {"name": "Analytical Engines"}, "address": {"country": "United Kingdom"}, "favouriteColour": "green"});
        let (known, unknown) =
            traits_to_fields(traits.as_object().expect("object"), &contact_fields());
        assert_eq!(known["first_name"], "Ada");
        assert_eq!(known["job_title"], "CTO");
        assert_eq!(known["company"], "Analytical Engines");
        assert_eq!(known["country"], "United Kingdom");
        assert_eq!(unknown.keys().collect::<Vec<_>>(), ["favouriteColour"]);
    }

    #[test]
    fn a_full_name_is_split_when_no_first_name_is_given() {
        let (known, _) = traits_to_fields(
            json!({"name": "Grace Brewster Hopper"})
                .as_object()
                .expect("object"),
            &contact_fields(),
        );
        assert_eq!(
            (known["first_name"].as_str(), known["last_name"].as_str()),
            (Some("Grace"), Some("Brewster Hopper"))
        );
    }

    #[test]
    fn group_traits_map_to_account_fields() {
        let (known, unknown) = traits_to_fields(
            json!({"name": "Initech", "industry": "software", "employees": 120, "plan": "gold"})
                .as_object()
                .expect("object"),
            &account_fields(),
        );
        assert_eq!(known["name"], "Initech");
        assert_eq!(known["employees"], 120);
        assert!(unknown.contains_key("plan"));
    }
}

/// A place events come from (a website, an app, a server), with its own
/// write key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Source {
    pub id: i64,
    pub name: String,
    /// The first characters of the write key, to recognise it.
    pub prefix: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// A stored event, as a contact's timeline shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Event {
    pub id: i64,
    #[serde(rename = "type")]
    pub kind: MessageType,
    /// The event name for `track`, the page or screen name, the group id.
    pub name: String,
    /// When it happened (clock-corrected).
    pub at: String,
    pub received_at: String,
    pub source_id: i64,
    pub message_id: String,
    pub user_id: Option<String>,
    pub anonymous_id: Option<String>,
    #[schema(value_type = Object)]
    pub properties: Map<String, Value>,
    #[schema(value_type = Object)]
    pub context: Map<String, Value>,
}

/// One kind of event seen in a workspace, for the event catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventType {
    #[serde(rename = "type")]
    pub kind: MessageType,
    pub name: String,
    pub count: i64,
    pub first_seen: String,
    pub last_seen: String,
    /// Every property key seen on this event, sorted.
    pub property_keys: Vec<String>,
}

/// Two people found to be one: who absorbed whom, through which ids, when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Merge {
    pub id: i64,
    /// The contact that remains.
    pub winner_id: i64,
    /// The contact that was folded in and no longer exists.
    pub loser_id: i64,
    /// `identify` (an anonymous visitor identified) or `alias`.
    pub reason: String,
    /// The ids that moved, e.g. `[{"kind": "anonymous_id", "value": "a-1"}]`.
    #[schema(value_type = Object)]
    pub identities: Value,
    /// The message that caused it.
    pub message_id: Option<String>,
    pub at: String,
}

/// A trait key sent that the data model has no field for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UndeclaredTrait {
    pub object: String,
    pub key: String,
    pub count: i64,
    /// Stored on the record (`keep`), or refused (`reject`).
    pub kept: bool,
    pub first_seen: String,
    pub last_seen: String,
    pub last_value: Value,
}
