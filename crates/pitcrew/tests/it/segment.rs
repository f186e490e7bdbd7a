//! `pitcrew segment` as an analyst runs it: check a condition with a typo,
//! save it, count, preview, explain, export and print its portable SQL.

use std::path::Path;

use crate::{TempDir, pitcrew, stdout};

fn segment(dir: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["segment"];
    all.extend_from_slice(args);
    pitcrew(dir, &all)
}

#[test]
fn an_analyst_checks_counts_explains_and_exports_a_segment() {
    let dir = TempDir::new("segment");
    stdout(&pitcrew(&dir.0, &["workspace", "create", "acme"]));
    let mut csv = String::from("email,first_name,country,lifecycle_stage\n");
    for i in 0..30 {
        let country = if i % 3 == 0 { "Germany" } else { "FR" };
        let stage = if i % 2 == 0 { "mql" } else { "lead" };
        csv.push_str(&format!("p{i}@example.com,P{i},{country},{stage}\n"));
    }
    let file = dir.0.join("people.csv");
    std::fs::write(&file, csv).expect("write csv");
    stdout(&pitcrew(
        &dir.0,
        &[
            "import",
            "--workspace",
            "acme",
            "--object",
            "contacts",
            file.to_str().expect("path"),
        ],
    ));

    // A typo is pointed at, with a suggestion, and the command fails.
    let typo = "people where all of:\n  contry is \"DE\"\n  lifecycle_stage is \"mql\"\n";
    let o = segment(&dir.0, &["check", "--workspace", "acme", "--where", typo]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "a condition with errors fails the check"
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("error[field_unknown]"), "{out}");
    assert!(out.contains("did you mean `country`?"), "{out}");
    assert!(out.contains("--> line 2, column 3"), "{out}");
    assert!(
        out.contains("2 |   contry is \"DE\"\n  |   ^^^^^^"),
        "{out}"
    );

    // The fixed condition prints in canonical form, with literals normalised.
    let good = "people where all of:\n  country is \"germany\"\n  lifecycle_stage is \"mql\"\n";
    let out = stdout(&segment(
        &dir.0,
        &["check", "--workspace", "acme", "--where", good],
    ));
    assert!(out.contains("country is \"DE\""), "{out}");

    // i in 0..30 with i % 3 == 0 and i % 2 == 0: 0, 6, 12, 18, 24.
    let out = stdout(&segment(
        &dir.0,
        &["count", "--workspace", "acme", "--where", good],
    ));
    assert_eq!(out.trim(), "5");

    let out = stdout(&segment(
        &dir.0,
        &[
            "create",
            "--workspace",
            "acme",
            "--name",
            "German MQLs",
            "--where",
            good,
        ],
    ));
    assert!(out.contains("created segment `German MQLs`"), "{out}");
    let out = stdout(&segment(
        &dir.0,
        &["count", "--workspace", "acme", "German MQLs"],
    ));
    assert_eq!(out.trim(), "5");

    let out = stdout(&segment(
        &dir.0,
        &[
            "preview",
            "--workspace",
            "acme",
            "German MQLs",
            "--fields",
            "email,country",
            "--limit",
            "2",
        ],
    ));
    assert!(
        out.contains("p0@example.com") && out.contains("DE"),
        "{out}"
    );
    assert!(out.contains("2 of 5 members"), "{out}");

    // Export: a header, then one row per member.
    let export = dir.0.join("members.csv");
    stdout(&segment(
        &dir.0,
        &[
            "export",
            "--workspace",
            "acme",
            "German MQLs",
            "--fields",
            "email",
            "--output",
            export.to_str().expect("path"),
        ],
    ));
    let text = std::fs::read_to_string(&export).expect("export written");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.first(), Some(&"id,email"), "{text}");
    assert_eq!(lines.len(), 6, "{text}");
    assert!(
        lines.iter().any(|l| l.ends_with(",p6@example.com")),
        "{text}"
    );

    // Explain a member and a non-member.
    let id_of = |email: &str| {
        lines
            .iter()
            .find(|l| l.ends_with(email))
            .and_then(|l| l.split(',').next())
            .map(str::to_string)
    };
    let member = id_of("p6@example.com").expect("p6 is a member");
    let out = stdout(&segment(
        &dir.0,
        &[
            "explain",
            "--workspace",
            "acme",
            "German MQLs",
            "--record",
            &member,
        ],
    ));
    assert!(out.starts_with("yes"), "{out}");
    assert!(out.contains("country is \"DE\""), "{out}");
    let out = stdout(&segment(
        &dir.0,
        &[
            "count",
            "--workspace",
            "acme",
            "--where",
            "people where email is \"p1@example.com\"",
        ],
    ));
    assert_eq!(out.trim(), "1");

    // The portable SQL is PostgreSQL, scoped to the workspace.
    let out = stdout(&segment(
        &dir.0,
        &["sql", "--workspace", "acme", "German MQLs"],
    ));
    assert!(
        out.contains("SELECT") && out.contains("workspace_id"),
        "{out}"
    );
    assert!(out.contains("->>"), "PostgreSQL JSON access: {out}");

    // An unknown segment name gets a suggestion.
    let o = segment(&dir.0, &["count", "--workspace", "acme", "German MQL"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("did you mean `German MQLs`?"), "{err}");
}
