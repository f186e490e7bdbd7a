//! Which column of a file fills which field: mappings given by the user,
//! and suggestions read from the header — "E-mail", "Email Address",
//! "First Name", "Company Name", "Country/Region" and the like match field
//! keys, field labels (custom fields too) and the names CRMs and
//! spreadsheets commonly use. A column nothing matches is reported with a
//! "did you mean" hint and skipped, never fatal.

use std::collections::HashMap;

use pitcrew_core::record::{FieldDef, ObjectKind};
use pitcrew_core::suggest;
use serde::{Deserialize, Serialize};

use crate::AppError;

/// Where a column's values go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A field of the data model, by key.
    Field(String),
    /// The record's id in another system.
    ExternalId,
    /// The external id of the account a contact works at (contacts only).
    AccountExternalId,
    /// Not imported.
    Skip,
}

impl Target {
    /// The name used in mappings and reports (`skip` for a skipped column).
    pub fn name(&self) -> &str {
        match self {
            Target::Field(key) => key,
            Target::ExternalId => "external_id",
            Target::AccountExternalId => "account_external_id",
            Target::Skip => "skip",
        }
    }
}

/// How a column came to its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MappingSource {
    /// The mapping said so.
    Given,
    /// Read from the header.
    Suggested,
    /// Nothing matched; the column is not imported.
    Unmatched,
}

/// What happens to one column of the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ColumnMapping {
    /// 1 for the first column.
    pub position: usize,
    /// The column's header.
    pub column: String,
    /// A field key, `external_id` or `account_external_id`; absent when the
    /// column is not imported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub source: MappingSource,
    /// Why a column is not imported, and what to do if it should be.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Lowercase letters and digits only: "E-mail", "e_mail" and "EMail" all
/// become `email`, "Country/Region" becomes `countryregion`.
pub fn compact(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Header names in common use, compacted, and the target they mean.
#[rustfmt::skip]
const CONTACT_NAMES: &[(&str, &[&str])] = &[
    ("email", &["email", "emailaddress", "mail", "emailaddr", "primaryemail", "workemail", "businessemail"]),
    ("first_name", &["firstname", "givenname", "forename", "first", "fname"]),
    ("last_name", &["lastname", "surname", "familyname", "last", "lname"]),
    ("phone", &["phone", "phonenumber", "telephone", "tel", "mobile", "mobilephone", "mobilenumber", "workphone", "businessphone", "cellphone"]),
    ("country", &["country", "countryregion", "countryname", "countrycode", "nation"]),
    ("company", &["company", "companyname", "organization", "organisation", "accountname", "employer"]),
    ("job_title", &["jobtitle", "title", "position", "jobposition"]),
    ("lifecycle_stage", &["lifecyclestage", "lifecycle", "stage"]),
    ("owner", &["owner", "owneremail", "contactowner", "leadowner"]),
    ("external_id", &["externalid", "id", "recordid", "crmid", "contactid", "leadid", "extid"]),
    ("account_external_id", &["accountexternalid", "accountid", "companyid"]),
];

#[rustfmt::skip]
const ACCOUNT_NAMES: &[(&str, &[&str])] = &[
    ("name", &["name", "companyname", "accountname", "company", "organization", "organisation"]),
    ("domain", &["domain", "companydomain", "companydomainname", "domainname"]),
    ("website", &["website", "web", "url", "companywebsite", "websiteurl"]),
    ("industry", &["industry", "sector"]),
    ("country", &["country", "countryregion", "countryname", "countrycode", "nation"]),
    ("employees", &["employees", "numberofemployees", "employeecount", "headcount"]),
    ("annual_revenue", &["annualrevenue", "revenue"]),
    ("phone", &["phone", "phonenumber", "telephone", "tel"]),
    ("owner", &["owner", "owneremail", "accountowner", "companyowner"]),
    ("external_id", &["externalid", "id", "recordid", "crmid", "accountid", "companyid", "extid"]),
];

/// The targets a column of `object` may have, with their compacted names:
/// writable fields by key and by label, then the identity targets.
fn candidates(fields: &[FieldDef], object: ObjectKind) -> Vec<(Target, String, String)> {
    let mut all: Vec<(Target, String, String)> = fields
        .iter()
        .filter(|f| !f.read_only)
        .map(|f| {
            (
                Target::Field(f.key.clone()),
                compact(&f.key),
                compact(&f.label),
            )
        })
        .collect();
    all.push((Target::ExternalId, "externalid".into(), "externalid".into()));
    if object == ObjectKind::Contact {
        all.push((
            Target::AccountExternalId,
            "accountexternalid".into(),
            "accountexternalid".into(),
        ));
    }
    all
}

/// The target a header suggests: a field key, then a field label, then a
/// name in common use.
fn suggest_target(
    header: &str,
    candidates: &[(Target, String, String)],
    object: ObjectKind,
) -> Option<Target> {
    let h = compact(header);
    if h.is_empty() {
        return None;
    }
    if let Some((t, _, _)) = candidates.iter().find(|(_, key, _)| *key == h) {
        return Some(t.clone());
    }
    if let Some((t, _, _)) = candidates.iter().find(|(_, _, label)| *label == h) {
        return Some(t.clone());
    }
    let names = match object {
        ObjectKind::Contact => CONTACT_NAMES,
        ObjectKind::Account => ACCOUNT_NAMES,
    };
    let (name, _) = names.iter().find(|(_, list)| list.contains(&h.as_str()))?;
    candidates
        .iter()
        .find(|(t, _, _)| t.name() == *name)
        .map(|(t, _, _)| t.clone())
}

/// Read a target the user wrote: `skip`, `external_id`,
/// `account_external_id`, or a field's key or label.
fn parse_target(
    raw: &str,
    fields: &[FieldDef],
    object: ObjectKind,
    column: &str,
) -> Result<Target, AppError> {
    let at = format!("mapping.{column}");
    let t = raw.trim();
    match t.to_ascii_lowercase().as_str() {
        "" | "skip" | "ignore" | "-" => return Ok(Target::Skip),
        "external_id" => return Ok(Target::ExternalId),
        "account_external_id" if object == ObjectKind::Contact => {
            return Ok(Target::AccountExternalId);
        }
        "account_external_id" => {
            return Err(AppError::invalid(
                "mapping_target_unknown",
                &at,
                "`account_external_id` links contacts to accounts; an account file cannot use it",
            ));
        }
        _ => {}
    }
    let def = fields
        .iter()
        .find(|f| f.key == t)
        .or_else(|| fields.iter().find(|f| f.label.eq_ignore_ascii_case(t)));
    match def {
        Some(f) if f.read_only => Err(AppError::invalid(
            "mapping_target_read_only",
            &at,
            format!(
                "`{}` is maintained by pitcrew and cannot be imported; map column `{column}` to another field or to skip",
                f.key
            ),
        )),
        Some(f) => Ok(Target::Field(f.key.clone())),
        None => {
            let hint = suggest::closest(t, fields.iter().map(|f| f.key.as_str()))
                .map(|s| format!("did you mean `{s}`? "))
                .unwrap_or_default();
            Err(AppError::invalid(
                "mapping_target_unknown",
                &at,
                format!(
                    "column `{column}` is mapped to `{t}`, which is not a {} field; {hint}use a field key, external_id{}, or skip",
                    object.as_str(),
                    if object == ObjectKind::Contact {
                        ", account_external_id"
                    } else {
                        ""
                    }
                ),
            ))
        }
    }
}

/// The column a mapping's name refers to: its exact header, else the same
/// header ignoring case, spaces and punctuation.
fn find_column(name: &str, headers: &[String]) -> Option<usize> {
    let name = name.trim();
    headers
        .iter()
        .position(|h| h.trim() == name)
        .or_else(|| {
            headers
                .iter()
                .position(|h| h.trim().eq_ignore_ascii_case(name))
        })
        .or_else(|| {
            let c = compact(name);
            headers
                .iter()
                .position(|h| !c.is_empty() && compact(h) == c)
        })
}

/// A column's name in reports: its header, or its position when the header is blank.
pub fn column_name(headers: &[String], i: usize) -> String {
    match headers.get(i).map(|h| h.trim()) {
        Some(h) if !h.is_empty() => h.to_string(),
        _ => format!("column {}", i + 1),
    }
}

/// Decide every column's target: given mappings first, then (with
/// `suggest`) what each header suggests; each target is filled by at most
/// one column.
pub fn plan(
    headers: &[String],
    fields: &[FieldDef],
    object: ObjectKind,
    given: &[(String, String)],
    suggest_rest: bool,
) -> Result<(Vec<ColumnMapping>, Vec<Target>), AppError> {
    let mut targets: Vec<Option<Target>> = vec![None; headers.len()];
    let mut sources = vec![MappingSource::Unmatched; headers.len()];
    let mut notes: Vec<Option<String>> = vec![None; headers.len()];
    let mut taken: HashMap<String, usize> = HashMap::new();
    for (column, raw) in given {
        let Some(i) = find_column(column, headers) else {
            let hint = suggest::closest(column, headers.iter().map(String::as_str))
                .map(|s| format!("did you mean `{s}`? "))
                .unwrap_or_default();
            return Err(AppError::invalid(
                "mapping_column_unknown",
                &format!("mapping.{column}"),
                format!(
                    "the mapping names column `{column}`, which is not in the file's header; {hint}the header has: {}",
                    headers
                        .iter()
                        .map(|h| format!("`{}`", h.trim()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        };
        if targets[i].is_some() {
            return Err(AppError::invalid(
                "mapping_column_twice",
                &format!("mapping.{column}"),
                format!(
                    "column `{}` is mapped twice; map each column once",
                    column_name(headers, i)
                ),
            ));
        }
        let target = parse_target(raw, fields, object, column)?;
        if target != Target::Skip {
            if let Some(&other) = taken.get(target.name()) {
                return Err(AppError::invalid(
                    "mapping_target_twice",
                    &format!("mapping.{column}"),
                    format!(
                        "columns `{}` and `{}` are both mapped to `{}`; map one of them to skip",
                        column_name(headers, other),
                        column_name(headers, i),
                        target.name()
                    ),
                ));
            }
            taken.insert(target.name().to_string(), i);
        }
        targets[i] = Some(target);
        sources[i] = MappingSource::Given;
    }
    let candidates = candidates(fields, object);
    for i in 0..headers.len() {
        if targets[i].is_some() {
            continue;
        }
        let name = column_name(headers, i);
        if !suggest_rest {
            notes[i] = Some("not in the mapping, so not imported".into());
            continue;
        }
        match suggest_target(&headers[i], &candidates, object) {
            Some(t) => match taken.get(t.name()) {
                Some(&other) => {
                    notes[i] = Some(format!(
                        "looks like `{}` too, which column `{}` already fills; map it to import it instead",
                        t.name(),
                        column_name(headers, other)
                    ));
                }
                None => {
                    taken.insert(t.name().to_string(), i);
                    targets[i] = Some(t);
                    sources[i] = MappingSource::Suggested;
                }
            },
            None => {
                let typed = name
                    .to_lowercase()
                    .replace(|c: char| !c.is_alphanumeric(), "_");
                let keys = candidates.iter().map(|(t, _, _)| t.name());
                notes[i] = Some(match suggest::closest(&typed, keys) {
                    Some(s) => {
                        format!("no field matches; did you mean `{s}`? Map the column to import it")
                    }
                    None => "no field matches; add a field for it or map the column to one".into(),
                });
            }
        }
    }
    let mappings = (0..headers.len())
        .map(|i| {
            let target = targets[i].clone().filter(|t| *t != Target::Skip);
            ColumnMapping {
                position: i + 1,
                column: column_name(headers, i),
                target: target.as_ref().map(|t| t.name().to_string()),
                source: sources[i],
                note: if target.is_none() && sources[i] == MappingSource::Given {
                    Some("mapped to skip".into())
                } else {
                    notes[i].take()
                },
            }
        })
        .collect();
    let targets = targets
        .into_iter()
        .map(|t| t.unwrap_or(Target::Skip))
        .collect();
    Ok((mappings, targets))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pitcrew_core::record::builtin::{account_fields, contact_fields};

    fn suggested(headers: &[&str], object: ObjectKind) -> Vec<Option<String>> {
        let headers: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
        let fields = match object {
            ObjectKind::Contact => contact_fields(),
            ObjectKind::Account => account_fields(),
        };
        plan(&headers, &fields, object, &[], true)
            .expect("plan")
            .0
            .into_iter()
            .map(|m| m.target)
            .collect()
    }

    #[test]
    fn everyday_headers_find_their_fields() {
        let got = suggested(
            &[
                "E-mail",
                "First Name",
                "Company Name",
                "Country/Region",
                "Phone Number",
                "Job Title",
                "Lifecycle Stage",
                "External ID",
                "Owner (email)",
                "Notes",
            ],
            ObjectKind::Contact,
        );
        let want = [
            "email",
            "first_name",
            "company",
            "country",
            "phone",
            "job_title",
            "lifecycle_stage",
            "external_id",
            "owner",
        ];
        for (g, w) in got.iter().zip(want) {
            assert_eq!(g.as_deref(), Some(w));
        }
        assert_eq!(got[9], None, "Notes has no field");
    }

    #[test]
    fn accounts_read_company_name_as_their_name_and_id_as_external_id() {
        let got = suggested(&["Company Name", "Id", "Website"], ObjectKind::Account);
        assert_eq!(
            got,
            [
                Some("name".to_string()),
                Some("external_id".into()),
                Some("website".into())
            ]
        );
    }

    #[test]
    fn the_second_column_for_a_field_is_left_out_with_a_note() {
        let headers = vec!["Email".to_string(), "Email Address".to_string()];
        let (m, _) =
            plan(&headers, &contact_fields(), ObjectKind::Contact, &[], true).expect("plan");
        assert_eq!(m[0].target.as_deref(), Some("email"));
        assert_eq!(m[1].target, None);
        assert!(m[1].note.as_deref().unwrap_or("").contains("`Email`"));
    }

    #[test]
    fn a_given_mapping_wins_and_typos_are_caught() {
        let headers = vec!["Mail".to_string(), "Stage".to_string()];
        let given = vec![("mail".to_string(), "skip".to_string())];
        let (m, t) = plan(
            &headers,
            &contact_fields(),
            ObjectKind::Contact,
            &given,
            true,
        )
        .expect("plan");
        assert_eq!((m[0].source, &t[0]), (MappingSource::Given, &Target::Skip));
        assert_eq!(t[1], Target::Field("lifecycle_stage".into()));
        let bad = vec![("Stage".to_string(), "lifecyle_stage".to_string())];
        let e = plan(&headers, &contact_fields(), ObjectKind::Contact, &bad, true)
            .expect_err("unknown field");
        assert_eq!(e.code, "mapping_target_unknown");
        assert!(
            e.message.contains("did you mean `lifecycle_stage`"),
            "{}",
            e.message
        );
        let missing = vec![("Stgae".to_string(), "email".to_string())];
        let e = plan(
            &headers,
            &contact_fields(),
            ObjectKind::Contact,
            &missing,
            true,
        )
        .expect_err("unknown column");
        assert_eq!(e.code, "mapping_column_unknown");
        assert!(e.message.contains("did you mean `Stage`"), "{}", e.message);
    }
}
