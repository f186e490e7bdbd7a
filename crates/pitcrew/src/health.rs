//! The `pitcrew health` command: the data health report of a workspace, as
//! a table to read or as the API's JSON.

use anyhow::bail;
use pitcrew_app::health::{self, HealthParams, HealthReport};
use pitcrew_app::{Actor, Db, admin, now_ms};

/// Ids shown per check in the table; `--json` lists up to `--ids-limit`.
const IDS_SHOWN: usize = 5;

#[derive(Debug, clap::Args)]
pub struct HealthArgs {
    /// The workspace's slug.
    #[arg(long)]
    workspace: String,
    /// contacts or accounts.
    #[arg(long, default_value = "contacts")]
    object: String,
    /// Records with no activity for this many days count as stale.
    #[arg(long, default_value_t = health::DEFAULT_STALE_DAYS)]
    stale_days: i64,
    /// The most ids listed per check in the JSON (0 for counts only).
    #[arg(long, default_value_t = health::DEFAULT_IDS_LIMIT)]
    ids_limit: i64,
    /// Print the report as JSON, as `GET /api/v1/health` answers it.
    #[arg(long)]
    json: bool,
}

pub async fn run(db: &Db, args: HealthArgs) -> anyhow::Result<()> {
    let pending = pitcrew_store::migrate::pending(db).await?;
    if !pending.is_empty() {
        bail!(
            "the database needs migrations ({}); run `pitcrew migrate` first",
            pending.join(", ")
        );
    }
    let ws = admin::workspace_by_slug(db, &args.workspace).await?;
    let params = HealthParams {
        object: Some(args.object),
        stale_days: Some(args.stale_days),
        ids_limit: Some(args.ids_limit),
    };
    let report = health::report(db, &Actor::system(ws.id), params, now_ms()).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", table(&ws.slug, &report));
    }
    Ok(())
}

/// The report as a table: one line per check, then a summary.
fn table(slug: &str, r: &HealthReport) -> String {
    let mut out = format!(
        "Data health of `{slug}`: {} {}s, as of {} (stale after {} days)\n\n",
        r.total,
        r.object.as_str(),
        r.generated_at,
        r.stale_days
    );
    let rows: Vec<[String; 5]> = r
        .checks
        .iter()
        .map(|c| {
            let mut ids: Vec<String> = c.ids.iter().take(IDS_SHOWN).map(i64::to_string).collect();
            if c.count > ids.len() as i64 {
                ids.push("…".into());
            }
            [
                c.severity.as_str().to_string(),
                c.code.clone(),
                c.field.clone().unwrap_or_default(),
                c.count.to_string(),
                ids.join(" "),
            ]
        })
        .collect();
    let header = ["severity", "check", "field", "count", "first ids"];
    let width = |i: usize| {
        rows.iter()
            .map(|r| r[i].chars().count())
            .chain([header[i].len()])
            .max()
            .unwrap_or(0)
    };
    let (w0, w1, w2, w3) = (width(0), width(1), width(2), width(3));
    let line = |r: [&str; 5]| {
        let l = format!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {:>w3$}  {}",
            r[0], r[1], r[2], r[3], r[4]
        );
        format!("{}\n", l.trim_end())
    };
    out.push_str(&line(header));
    for r in &rows {
        out.push_str(&line([&r[0], &r[1], &r[2], &r[3], &r[4]]));
    }
    let found: Vec<_> = r.checks.iter().filter(|c| c.count > 0).collect();
    out.push('\n');
    if found.is_empty() {
        out.push_str(&format!("All {} checks passed.\n", r.checks.len()));
    } else {
        out.push_str(&format!(
            "{} of {} checks found something. `--json` lists every id (up to --ids-limit), samples and what to do.\n",
            found.len(),
            r.checks.len()
        ));
    }
    out
}
