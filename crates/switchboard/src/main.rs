//! `switchboard`: the platform binary. Thin: configuration, wiring, subcommands.

mod admin;
mod config;
mod demo;
mod domain;
mod members;
mod provision;
mod serve;
mod simulate;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "switchboard",
    version,
    about = "Self-hosted, Webitel-compatible calling platform"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: config::ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Run the platform (the default when no command is given).
    Serve(config::ServeArgs),
    /// Manage domains (tenants) of this platform's store.
    Domain {
        #[command(subcommand)]
        command: domain::DomainCommand,
    },
    /// Recovery on the machine: a new administrator token for a domain.
    Admin {
        #[command(subcommand)]
        command: admin::AdminCommand,
    },
    /// Provision SPA users through any Webitel-compatible REST API (the integration guide's
    /// device → user → token flow); idempotent by extension.
    Provision(provision::ProvisionArgs),
    /// Dialer members of a queue, through any Webitel-compatible REST API.
    Members {
        #[command(subcommand)]
        command: members::MembersCommand,
    },
    /// Offline simulations (no server needed).
    Simulate {
        #[command(subcommand)]
        command: simulate::SimulateCommand,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Two TLS stacks are linked (server and client); name the one rustls should use.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SWITCHBOARD_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        match cli.command {
            None => serve::run(cli.serve).await,
            Some(Command::Serve(args)) => serve::run(args).await,
            Some(Command::Domain { command }) => domain::run(command).await,
            Some(Command::Admin { command }) => admin::run(command).await,
            Some(Command::Provision(args)) => provision::run(args).await,
            Some(Command::Members { command }) => members::run(command).await,
            // Plain CPU work on this thread; nothing else runs meanwhile.
            Some(Command::Simulate { command }) => simulate::run(command),
        }
    })
}
