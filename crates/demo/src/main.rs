//! `switchboard-demo`: the demo SPA on its own, pointed at any Webitel-compatible platform
//! (`switchboard serve` also serves it at `/`).

use clap::Parser;
use switchboard_demo::{Demo, DemoConfig};

#[derive(Parser)]
#[command(
    name = "switchboard-demo",
    version,
    about = "The demo SPA and its backend"
)]
struct Args {
    /// Address to listen on.
    #[arg(
        long,
        env = "SWITCHBOARD_DEMO_LISTEN",
        default_value = "127.0.0.1:8090"
    )]
    listen: std::net::SocketAddr,
    /// Folder of demo.db.
    #[arg(long, env = "SWITCHBOARD_DEMO_DATA", default_value = "demo-data")]
    data: std::path::PathBuf,
    /// The administrator's password; generated and printed on first start when unset.
    #[arg(long, env = "SWITCHBOARD_DEMO_ADMIN_PASSWORD", hide_env_values = true)]
    admin_password: Option<String>,
    /// Where desk phones send SIP (host:port), when the platform does not tell.
    #[arg(long, env = "SWITCHBOARD_DEMO_SIP_SERVER")]
    sip_server: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SWITCHBOARD_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .init();
    let (demo, generated) = Demo::open(DemoConfig {
        data: args.data.clone(),
        defaults: None,
        admin_password: args.admin_password,
        sip_server: args.sip_server,
    })
    .await?;
    if let Some(p) = generated {
        println!(
            "demo administrator password: {p}\n(also written to {})",
            args.data.join("demo-admin.password").display()
        );
    }
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    println!("demo listening on http://{}", listener.local_addr()?);
    axum::serve(listener, demo.router()).await?;
    Ok(())
}
