//! What a condition is checked and evaluated against: the workspace's field
//! registry, event catalogue, saved segments and subscription topics, and —
//! for the in-memory evaluator — the facts about one person or account.

use std::collections::BTreeSet;

use pitcrew_core::record::{FieldDef, ObjectKind};
use serde_json::{Map, Value};

use crate::ast::{Segment, Subject};

/// Channels a subscription topic can be reached on.
pub const CHANNELS: &[&str] = &["email", "sms", "push"];

/// The workspace's vocabulary.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    pub contact_fields: Vec<FieldDef>,
    pub account_fields: Vec<FieldDef>,
    /// Events seen so far, with the property keys seen on them.
    pub events: Vec<EventInfo>,
    pub segments: Vec<SegmentInfo>,
    /// Subscription topic names.
    pub topics: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct EventInfo {
    pub name: String,
    pub property_keys: Vec<String>,
}

/// A saved segment another condition may refer to by name.
#[derive(Debug, Clone)]
pub struct SegmentInfo {
    pub id: i64,
    pub name: String,
    pub subject: Subject,
    /// The saved, checked condition of a dynamic segment; `None` for a
    /// static list, whose members are stored explicitly.
    pub definition: Option<Segment>,
}

impl Schema {
    pub fn fields(&self, object: ObjectKind) -> &[FieldDef] {
        match object {
            ObjectKind::Contact => &self.contact_fields,
            ObjectKind::Account => &self.account_fields,
        }
    }

    pub fn field(&self, object: ObjectKind, key: &str) -> Option<&FieldDef> {
        self.fields(object).iter().find(|f| f.key == key)
    }

    pub fn segment(&self, name: &str) -> Option<&SegmentInfo> {
        self.segments.iter().find(|s| s.name == name)
    }

    pub fn event(&self, name: &str) -> Option<&EventInfo> {
        self.events.iter().find(|e| e.name == name)
    }
}

/// Everything a condition can ask about one person.
#[derive(Debug, Clone, Default)]
pub struct Person {
    pub id: i64,
    /// Field values in their stored form, including `email`, `created_at`
    /// and `updated_at` (as canonical RFC 3339 text).
    pub fields: Map<String, Value>,
    pub account: Option<Box<Organisation>>,
    pub events: Vec<EventFact>,
    /// Ids of the static lists the person is on.
    pub lists: BTreeSet<i64>,
    pub consent: Vec<ConsentFact>,
}

/// Everything a condition can ask about one account.
#[derive(Debug, Clone, Default)]
pub struct Organisation {
    pub id: i64,
    pub fields: Map<String, Value>,
    /// The account's people; filled when a condition asks about members.
    pub members: Vec<Person>,
    /// Ids of the static lists the account is on.
    pub lists: BTreeSet<i64>,
}

#[derive(Debug, Clone)]
pub struct EventFact {
    pub name: String,
    /// UTC epoch milliseconds.
    pub at: i64,
    pub properties: Map<String, Value>,
}

#[derive(Debug, Clone)]
pub struct ConsentFact {
    pub topic: String,
    pub channel: String,
    pub subscribed: bool,
}

/// What a checked definition uses, recorded so that deleting or retyping a
/// field, event or segment in use can be refused with the list of users.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Uses {
    pub contact_fields: BTreeSet<String>,
    pub account_fields: BTreeSet<String>,
    pub events: BTreeSet<String>,
    pub segments: BTreeSet<String>,
    pub topics: BTreeSet<String>,
}
