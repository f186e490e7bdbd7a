//! The `pitcrew health` command.

use pitcrew_app::Db;

#[derive(Debug, clap::Args)]
pub struct HealthArgs {}

pub async fn run(_db: &Db, _args: HealthArgs) -> anyhow::Result<()> {
    anyhow::bail!("not available yet")
}
