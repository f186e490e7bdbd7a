//! The fields every workspace starts with, for contacts and for accounts.

use super::field::{FieldDef, FieldType, ObjectKind, PicklistOption};

/// Lifecycle stages, in funnel order.
pub const LIFECYCLE_STAGES: &[(&str, &str)] = &[
    ("subscriber", "Subscriber"),
    ("lead", "Lead (inquiry)"),
    ("mql", "Marketing qualified lead"),
    ("sal", "Sales accepted lead"),
    ("sql", "Sales qualified lead"),
    ("opportunity", "Opportunity"),
    ("customer", "Customer"),
    ("other", "Other"),
];

pub const INDUSTRIES: &[(&str, &str)] = &[
    ("software", "Software"),
    ("financial_services", "Financial services"),
    ("healthcare", "Healthcare"),
    ("manufacturing", "Manufacturing"),
    ("retail", "Retail"),
    ("education", "Education"),
    ("media", "Media"),
    ("telecommunications", "Telecommunications"),
    ("energy", "Energy"),
    ("public_sector", "Public sector"),
    ("other", "Other"),
];

fn def(object: ObjectKind, key: &str, label: &str, field_type: FieldType) -> FieldDef {
    FieldDef {
        object,
        key: key.to_string(),
        label: label.to_string(),
        field_type,
        required: false,
        default: None,
        options: Vec::new(),
        builtin: true,
        read_only: false,
    }
}

fn options(list: &[(&str, &str)]) -> Vec<PicklistOption> {
    list.iter()
        .map(|(v, l)| PicklistOption::new(v, l))
        .collect()
}

fn timestamps(object: ObjectKind) -> [FieldDef; 2] {
    [
        FieldDef {
            read_only: true,
            ..def(object, "created_at", "Created", FieldType::Datetime)
        },
        FieldDef {
            read_only: true,
            ..def(object, "updated_at", "Last updated", FieldType::Datetime)
        },
    ]
}

/// The built-in contact fields, in display order.
pub fn contact_fields() -> Vec<FieldDef> {
    use FieldType::*;
    let c = ObjectKind::Contact;
    let mut fields = vec![
        def(c, "email", "Email", Email),
        def(c, "first_name", "First name", Text),
        def(c, "last_name", "Last name", Text),
        def(c, "phone", "Phone", Phone),
        def(c, "country", "Country", Country),
        def(c, "company", "Company", Text),
        def(c, "job_title", "Job title", Text),
        FieldDef {
            options: options(LIFECYCLE_STAGES),
            ..def(c, "lifecycle_stage", "Lifecycle stage", Picklist)
        },
        def(c, "owner", "Owner (email)", Email),
    ];
    fields.extend(timestamps(c));
    fields
}

/// The built-in account fields, in display order.
pub fn account_fields() -> Vec<FieldDef> {
    use FieldType::*;
    let a = ObjectKind::Account;
    let mut fields = vec![
        FieldDef {
            required: true,
            ..def(a, "name", "Name", Text)
        },
        def(a, "domain", "Domain", Text),
        FieldDef {
            options: options(INDUSTRIES),
            ..def(a, "industry", "Industry", Picklist)
        },
        def(a, "country", "Country", Country),
        def(a, "employees", "Employees", Number),
        def(a, "annual_revenue", "Annual revenue", Number),
        def(a, "phone", "Phone", Phone),
        def(a, "website", "Website", Url),
        def(a, "owner", "Owner (email)", Email),
    ];
    fields.extend(timestamps(a));
    fields
}

pub fn fields_for(object: ObjectKind) -> Vec<FieldDef> {
    match object {
        ObjectKind::Contact => contact_fields(),
        ObjectKind::Account => account_fields(),
    }
}
