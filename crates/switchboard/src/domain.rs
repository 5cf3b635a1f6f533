//! `switchboard domain add NAME`: a further tenant with its own administrator.

use crate::config::StoreArgs;
use clap::Subcommand;
use switchboard_api::bootstrap;

#[derive(Subcommand)]
pub enum DomainCommand {
    /// Create a domain with built-in roles, a licence and an administrator; prints its token.
    Add {
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub async fn run(cmd: DomainCommand) -> anyhow::Result<()> {
    match cmd {
        DomainCommand::Add { name, store } => {
            let db = store.open().await?;
            let seeded = bootstrap::seed_domain(&db, &name, store.license_seats, None).await?;
            db.close().await;
            match seeded {
                Some(s) => {
                    println!("{}", s.admin_token);
                    Ok(())
                }
                None => anyhow::bail!("domain {name} already exists"),
            }
        }
    }
}
