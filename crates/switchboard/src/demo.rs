//! The demo SPA served at `/` by `switchboard serve`, configured by default to use this same
//! server. It still reaches the platform only over HTTP, through the public REST API.

use crate::config::ServeArgs;
use std::net::SocketAddr;
use switchboard_demo::{Demo, DemoConfig, Settings};

/// `app` with the demo's routes, unless the demo is turned off.
pub async fn mount(
    app: axum::Router,
    args: &ServeArgs,
    addr: SocketAddr,
) -> anyhow::Result<axum::Router> {
    if !args.demo || args.no_demo {
        return Ok(app);
    }
    let base = match &args.public_url {
        Some(u) if !u.is_empty() => u.trim_end_matches('/').to_string(),
        _ => {
            // A wildcard listener is reached through loopback from this same machine.
            let mut a = addr;
            if a.ip().is_unspecified() {
                a.set_ip(if a.is_ipv4() {
                    [127, 0, 0, 1].into()
                } else {
                    std::net::Ipv6Addr::LOCALHOST.into()
                });
            }
            let scheme = if args.tls_cert.is_some() {
                "https"
            } else {
                "http"
            };
            format!("{scheme}://{a}")
        }
    };
    let ws_base = base.replacen("http", "ws", 1);
    // The administrator's token from this server's bootstrap: the demo's default integration
    // token (the administrator of the demo can replace it on the Settings page).
    let token = std::fs::read_to_string(args.store.data.join("admin.token"))
        .ok()
        .or_else(|| std::env::var("SWITCHBOARD_BOOTSTRAP_TOKEN").ok())
        .map(|t| t.trim().to_string())
        .unwrap_or_default();
    let (demo, generated) = Demo::open(DemoConfig {
        data: args.store.data.clone(),
        defaults: Some(Settings {
            rest_endpoint: format!("{base}/api/"),
            ws_endpoint: format!("{ws_base}/ws/"),
            integration_token: token,
            domain: args.domain.clone(),
            use_stun: false,
        }),
        admin_password: args.demo_admin_password.clone(),
        // The proxy handed to hardware phones, when set; else the demo asks /sip/status.
        sip_server: args.sip_proxy.clone(),
    })
    .await?;
    if let Some(p) = generated {
        println!(
            "demo SPA administrator password: {p}\n(also written to {})",
            args.store.data.join("demo-admin.password").display()
        );
    }
    println!("demo SPA at {base}/");
    Ok(app.merge(demo.router()))
}
