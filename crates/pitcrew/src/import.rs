//! The `pitcrew import` command.

use pitcrew_app::Db;

#[derive(Debug, clap::Args)]
pub struct ImportArgs {}

pub async fn run(_db: &Db, _args: ImportArgs) -> anyhow::Result<()> {
    anyhow::bail!("not available yet")
}
