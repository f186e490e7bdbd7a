//! The `pitcrew import` command: load contacts or accounts from a CSV file
//! as the workspace's system actor — a progress bar on stderr when it is a
//! terminal, a summary on stdout, and on request every rejected row's
//! problems in a CSV file. The exit code is non-zero only when nothing could
//! be imported or the file could not be read.

use std::fs::File;
use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use pitcrew_app::import::{
    Encoding, ImportMode, ImportObserver, ImportOptions, ImportProgress, ImportStatus,
    ImportSummary, MatchBy, REJECTS_HEADER, Reject, import_csv, parse_delimiter,
};
use pitcrew_app::{Actor, Db, admin, now_ms};
use pitcrew_core::record::ObjectKind;

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The workspace to import into (its slug).
    #[arg(long)]
    workspace: String,
    /// What the file holds: contacts or accounts.
    #[arg(long, value_parser = parse_object)]
    object: ObjectKind,
    /// The CSV file; `-` reads standard input.
    file: PathBuf,
    /// Map a column to a field, e.g. --map "Email Address=email"; repeat for
    /// more columns. The target is a field key or label, external_id,
    /// account_external_id (contacts) or skip. Other columns are mapped from
    /// their headers.
    #[arg(long = "map", value_name = "COLUMN=FIELD")]
    map: Vec<String>,
    /// Import only the columns given with --map.
    #[arg(long)]
    no_suggest: bool,
    /// upsert: update what matches and create the rest; create: only new
    /// records; update: only existing ones.
    #[arg(long, default_value = "upsert")]
    mode: ImportMode,
    /// What finds an existing record: email (contacts) or external_id
    /// [default: email for contacts when a column maps to it, else external_id].
    #[arg(long = "match")]
    match_by: Option<MatchBy>,
    /// Show what the import would do, and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Write every problem of every rejected row to this CSV file
    /// (line, column, value, reason, code).
    #[arg(long, value_name = "FILE")]
    rejects: Option<PathBuf>,
    /// utf8 or latin1 (Windows-1252) [default: UTF-8, or Latin-1 when the
    /// file is not valid UTF-8].
    #[arg(long)]
    encoding: Option<Encoding>,
    /// The separator: , ; | or tab [default: the one the header line uses].
    #[arg(long, value_parser = parse_separator)]
    delimiter: Option<u8>,
}

fn parse_object(s: &str) -> Result<ObjectKind, String> {
    ObjectKind::parse(&s.trim().to_ascii_lowercase())
        .ok_or_else(|| "use contacts or accounts".to_string())
}

fn parse_separator(s: &str) -> Result<u8, String> {
    parse_delimiter(s).ok_or_else(|| "use one of , ; | or tab".to_string())
}

/// `COLUMN=FIELD`, split at the last `=` (field keys have none).
fn parse_map(raw: &str) -> anyhow::Result<(String, String)> {
    match raw.rsplit_once('=') {
        Some((column, field)) if !column.trim().is_empty() => {
            Ok((column.trim().to_string(), field.trim().to_string()))
        }
        _ => bail!("--map takes COLUMN=FIELD, e.g. --map \"Email Address=email\"; got `{raw}`"),
    }
}

/// The progress bar and the rejects file, fed by the import as it runs.
struct Terminal {
    bar: ProgressBar,
    started: Instant,
    rejects: Option<csv::Writer<File>>,
    /// The first error writing the rejects file; reported at the end.
    write_error: Option<String>,
}

impl ImportObserver for Terminal {
    fn progress(&mut self, p: &ImportProgress) {
        self.bar.set_position(p.bytes);
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        self.bar.set_message(format!(
            "{} rows · {:.0} rows/s · {} rejected",
            p.rows,
            p.rows as f64 / secs,
            p.rejected
        ));
    }

    fn reject(&mut self, r: &Reject) {
        if let Some(w) = &mut self.rejects
            && let Err(e) = w.write_record(r.csv_record())
        {
            self.write_error.get_or_insert(e.to_string());
        }
    }
}

fn progress_bar(size: Option<u64>) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let (bar, template) = match size {
        Some(n) => (
            ProgressBar::new(n),
            "{spinner} [{elapsed_precise}] {wide_bar} {percent:>3}%  {msg}",
        ),
        None => (
            ProgressBar::new_spinner(),
            "{spinner} [{elapsed_precise}] {msg}",
        ),
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

pub async fn run(db: &Db, args: ImportArgs) -> anyhow::Result<()> {
    pitcrew_store::migrate::migrate(db, now_ms()).await?;
    let ws = admin::workspace_by_slug(db, &args.workspace).await?;
    let actor = Actor::system(ws.id);
    let (source, size, file_name): (Box<dyn Read + Send>, Option<u64>, Option<String>) =
        if args.file.as_os_str() == "-" {
            (Box::new(std::io::stdin()), None, None)
        } else {
            let file = File::open(&args.file)
                .with_context(|| format!("cannot open {}", args.file.display()))?;
            let size = file.metadata().ok().map(|m| m.len());
            let name = args
                .file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned());
            (Box::new(file), size, name)
        };
    let mut options = ImportOptions::new(args.object);
    options.mapping = args
        .map
        .iter()
        .map(|m| parse_map(m))
        .collect::<anyhow::Result<_>>()?;
    options.suggest = !args.no_suggest;
    options.mode = args.mode;
    options.match_by = args.match_by;
    options.dry_run = args.dry_run;
    options.encoding = args.encoding;
    options.delimiter = args.delimiter;
    options.file_name = file_name;
    let rejects = match &args.rejects {
        Some(path) => {
            let mut w = csv::Writer::from_path(path)
                .with_context(|| format!("cannot write the rejects file {}", path.display()))?;
            w.write_record(REJECTS_HEADER)?;
            Some(w)
        }
        None => None,
    };
    let mut terminal = Terminal {
        bar: progress_bar(size),
        started: Instant::now(),
        rejects,
        write_error: None,
    };
    let result = import_csv(db, &actor, source, options, &mut terminal, now_ms()).await;
    terminal.bar.finish_and_clear();
    let elapsed = terminal.started.elapsed();
    let summary = result?;
    if let Some(mut w) = terminal.rejects.take() {
        w.flush()?;
    }
    print!("{}", report(&summary, &args, elapsed));
    if let Some(e) = terminal.write_error {
        bail!("the rejects file could not be written completely: {e}");
    }
    if let (ImportStatus::Failed, Some(f)) = (summary.status, &summary.error) {
        bail!("{} ({})", f.message, f.code);
    }
    if summary.created + summary.updated + summary.unchanged == 0 {
        bail!(
            "nothing {} imported: all {} rows were rejected",
            if summary.dry_run { "would be" } else { "was" },
            summary.rows
        );
    }
    Ok(())
}

/// The summary printed on stdout.
fn report(s: &ImportSummary, args: &ImportArgs, elapsed: Duration) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let objects = format!("{}s", s.object.as_str());
    let from = s
        .file_name
        .as_deref()
        .map_or_else(|| "standard input".to_string(), |n| n.to_string());
    let _ = if s.dry_run {
        writeln!(
            out,
            "Dry run of import {} of {objects} from {from} into `{}`: nothing was changed.",
            s.id, args.workspace
        )
    } else {
        writeln!(
            out,
            "Import {} of {objects} from {from} into `{}`.",
            s.id, args.workspace
        )
    };
    let encoding = if s.encoding_detected {
        format!("{} (the file is not valid UTF-8)", s.encoding.label())
    } else {
        s.encoding.label().to_string()
    };
    let _ = writeln!(
        out,
        "Read {} rows as {encoding}, separated by `{}`; mode {}, matched by {}.",
        s.rows,
        s.delimiter,
        s.mode.as_str(),
        s.match_by.as_str()
    );
    let would = if s.dry_run { "would be " } else { "" };
    for (what, n) in [
        ("created", s.created),
        ("updated", s.updated),
        ("unchanged", s.unchanged),
        ("rejected", s.rejected),
    ] {
        let label = format!("{would}{what}");
        let _ = write!(out, "  {label:<19}{n:>9}");
        let _ = if what == "rejected" {
            writeln!(out, "  ({} problems)", s.problems)
        } else {
            writeln!(out)
        };
    }
    let _ = writeln!(out, "Columns:");
    let width = s
        .mapping
        .iter()
        .map(|m| m.column.chars().count())
        .max()
        .unwrap_or(0);
    for m in &s.mapping {
        let _ = match &m.target {
            Some(t) => writeln!(
                out,
                "  {:<width$}  -> {t} ({})",
                m.column,
                match m.source {
                    pitcrew_app::import::MappingSource::Given => "given",
                    _ => "suggested",
                }
            ),
            None => writeln!(
                out,
                "  {:<width$}  not imported: {}",
                m.column,
                m.note.as_deref().unwrap_or("skipped")
            ),
        };
    }
    if !s.rejects.is_empty() {
        let _ = writeln!(out, "First problems:");
        for r in s.rejects.iter().take(10) {
            let at = if r.column.is_empty() {
                String::new()
            } else {
                format!(" {} `{}`", r.column, r.value)
            };
            let _ = writeln!(out, "  line {}{at}: {} ({})", r.line, r.reason, r.code);
        }
        let _ = match &args.rejects {
            Some(path) => writeln!(out, "Every problem is in {}.", path.display()),
            None => writeln!(
                out,
                "Save every problem with --rejects FILE, or download GET /api/v1/imports/{}/rejects.csv.",
                s.id
            ),
        };
    }
    let secs = elapsed.as_secs_f64().max(0.001);
    let _ = writeln!(
        out,
        "Took {secs:.1} s ({:.0} rows/s).",
        s.rows as f64 / secs
    );
    out
}
