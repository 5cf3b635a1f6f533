//! `switchboard admin reset-token --domain D`: recovery on the machine for a domain whose
//! administrator token was lost (the API refuses to revoke the last one, but a token can still
//! be lost by its holder).

use crate::config::StoreArgs;
use clap::Subcommand;
use switchboard_api::bootstrap;

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Issue a new integration token for the domain's administrator and print it.
    ResetToken {
        /// The domain, e.g. my-company.lo.
        #[arg(long)]
        domain: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub async fn run(cmd: AdminCommand) -> anyhow::Result<()> {
    match cmd {
        AdminCommand::ResetToken { domain, store } => {
            let db = store.open().await?;
            let reset = bootstrap::reset_admin_token(&db, &domain).await;
            db.close().await;
            let reset = reset.map_err(|e| anyhow::anyhow!("{}: {}", e.0.id, e.0.detail))?;
            if reset.restored {
                tracing::warn!(
                    %domain,
                    user = %reset.username,
                    "the domain had no administrator: admin role and licence given back"
                );
            }
            // The token itself goes to stdout only, never to the log.
            tracing::warn!(
                %domain,
                user = %reset.username,
                user_id = reset.user_id,
                "administrator token reset on the machine"
            );
            println!("{}", reset.token);
            Ok(())
        }
    }
}
