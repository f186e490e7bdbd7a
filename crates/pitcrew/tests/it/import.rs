//! `pitcrew import` as an operator runs it: a dry run, the import itself
//! with a rejects file, and the exit codes of imports that cannot work.

use std::path::Path;

use crate::{TempDir, pitcrew, stdout};

/// The number on the summary line that starts with `label`.
fn count(out: &str, label: &str) -> i64 {
    out.lines()
        .map(str::trim)
        .find(|l| l.starts_with(label))
        .and_then(|l| l[label.len()..].split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no `{label}` line in:\n{out}"))
}

fn import(dir: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["import", "--workspace", "acme"];
    all.extend_from_slice(args);
    pitcrew(dir, &all)
}

#[test]
fn an_operator_imports_a_csv_and_gets_every_rejected_line() {
    let dir = TempDir::new("import");
    stdout(&pitcrew(&dir.0, &["workspace", "create", "acme"]));
    let mut csv = String::from("Mail;First Name;Country;Notes\n");
    for i in 0..200 {
        csv.push_str(&format!("p{i}@example.com;P{i};DE;\"two\nlines\"\n"));
    }
    csv.push_str("broken;Bad;DE;x\n");
    csv.push_str("q@example.com;Q;Narnia;x\n");
    let file = dir.0.join("people.csv");
    std::fs::write(&file, csv).expect("write csv");
    let file = file.to_str().expect("path");
    let rejects = dir.0.join("rejects.csv");
    let rejects_arg = rejects.to_str().expect("path");

    let args = [
        "--object",
        "contacts",
        file,
        "--map",
        "Mail=email",
        "--rejects",
        rejects_arg,
    ];
    let mut dry = args.to_vec();
    dry.push("--dry-run");
    let out = stdout(&import(&dir.0, &dry));
    assert!(out.contains("nothing was changed"), "{out}");
    assert_eq!(count(&out, "would be created"), 200, "{out}");
    assert_eq!(count(&out, "would be rejected"), 2, "{out}");

    let out = stdout(&import(&dir.0, &args));
    assert_eq!(count(&out, "created"), 200, "{out}");
    assert_eq!(count(&out, "rejected"), 2, "{out}");
    assert!(out.contains("separated by `;`"), "{out}");
    assert!(
        out.contains("Mail") && out.contains("-> email (given)"),
        "{out}"
    );
    assert!(
        out.contains("Notes") && out.contains("not imported"),
        "{out}"
    );
    assert!(out.contains("rows/s"), "{out}");
    let report = std::fs::read_to_string(&rejects).expect("rejects file");
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines[0], "line,column,value,reason,code", "{report}");
    assert!(lines[1].starts_with("402,Mail,broken,"), "{report}");
    assert!(lines[2].starts_with("403,Country,Narnia,"), "{report}");

    let again = import(
        &dir.0,
        &[
            "--object",
            "contacts",
            file,
            "--map",
            "Mail=email",
            "--mode",
            "create",
        ],
    );
    assert!(
        !again.status.success(),
        "every row exists: nothing can be imported"
    );
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("nothing was imported"), "{err}");

    let empty = dir.0.join("empty.csv");
    std::fs::write(&empty, "").expect("write");
    let o = import(
        &dir.0,
        &["--object", "contacts", empty.to_str().expect("path")],
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("import_empty") && err.contains("the file is empty"),
        "{err}"
    );
}
