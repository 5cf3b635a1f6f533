//! `switchboard serve`: opens the store, seeds the first domain, serves HTTP(S).

use crate::config::ServeArgs;
use std::sync::Arc;
use switchboard_api::{bootstrap, ApiConfig, AppState};

/// Writes the administrator's token to `<data>/admin.token`, readable by the owner only.
pub fn write_admin_token(data: &std::path::Path, file: &str, token: &str) -> anyhow::Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(data)?;
    let path = data.join(file);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&path)?;
    f.write_all(token.as_bytes())?;
    f.write_all(b"\n")?;
    Ok(())
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    // Seals stored secrets (gateway passwords); created on first start, keep it with the data.
    let key = switchboard_store::SecretKey::load_or_create(&args.store.data.join("secret.key"))?;
    let store = Arc::new(args.store.open().await?.with_secret_key(key));
    let bootstrap_token = std::env::var("SWITCHBOARD_BOOTSTRAP_TOKEN").ok();
    if let Some(seeded) = bootstrap::seed_domain(
        &store,
        &args.domain,
        args.store.license_seats,
        bootstrap_token,
    )
    .await?
    {
        write_admin_token(&args.store.data, "admin.token", &seeded.admin_token)?;
        // Printed once, on the first start of a fresh store; kept in the file afterwards.
        println!(
            "domain {} created; administrator integration token: {}\n(also written to {})",
            args.domain,
            seeded.admin_token,
            args.store.data.join("admin.token").display()
        );
    }
    let state = AppState::new(
        store.clone(),
        ApiConfig {
            session_ttl_secs: args.session_ttl,
            ..ApiConfig::default()
        },
    )
    .with_ws_config(switchboard_api::ws::WsConfig {
        public_url: args.public_url.clone(),
        sip_ws_url: args.sip_ws_url.clone(),
        sip_proxy: args.sip_proxy.clone(),
        tls: args.tls_cert.is_some(),
        ..Default::default()
    });
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            Some(axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key).await?)
        }
        _ => None,
    };
    let sip_tls = match (args.sip_tls_listen, &tls) {
        (Some(addr), Some(tls)) => Some((addr, tls.get_inner())),
        _ => None,
    };
    let sip_trunk_ca = match &args.sip_trunk_ca {
        Some(path) => read_certificates(path)?,
        None => Vec::new(),
    };
    let telephony = switchboard_telephony::Telephony::start(
        store.clone(),
        state.hub.clone(),
        switchboard_telephony::TelephonyConfig {
            // A wildcard listener cannot be an ICE candidate: fall back to loopback.
            media_address: args.media_address.unwrap_or(match args.listen.ip() {
                ip if ip.is_unspecified() => std::net::IpAddr::from([127, 0, 0, 1]),
                ip => ip,
            }),
            media_port: args.media_port,
            media_threads: args.media_threads,
            no_answer_timeout: std::time::Duration::from_secs(args.no_answer_timeout),
            flow_loss_grace: std::time::Duration::from_secs(args.flow_loss_grace),
            recordings: args.record.then(|| args.store.data.join("recordings")),
            sip_listen: args.sip_listen.0,
            sip_tls,
            sip_ping_interval: std::time::Duration::from_secs(args.sip_ping_interval),
            sip_trunk_ca,
            ..Default::default()
        },
    )
    .await?;
    let sip = telephony.sip_addrs();
    if let Some(addr) = sip.udp_tcp {
        println!("sip listening on udp+tcp {addr}");
    }
    if let Some(addr) = sip.tls {
        println!("sip listening on tls {addr}");
    }
    let state = state
        .with_call_control(Arc::new(telephony.clone()))
        .with_presence(Arc::new(telephony.clone()))
        .with_contact_center(Arc::new(telephony.clone()));
    let app = switchboard_api::router(state).merge(switchboard_telephony::routes(telephony));
    let listener = std::net::TcpListener::bind(args.listen)?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let app = crate::demo::mount(app, &args, addr).await?;
    let handle = axum_server::Handle::new();
    let shutdown = handle.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        shutdown.graceful_shutdown(Some(std::time::Duration::from_secs(5)));
    });
    let service = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    match tls {
        Some(tls) => {
            println!("listening on https://{addr}");
            axum_server::from_tcp_rustls(listener, tls)
                .handle(handle)
                .serve(service)
                .await?;
        }
        _ => {
            println!("listening on http://{addr}");
            axum_server::from_tcp(listener)
                .handle(handle)
                .serve(service)
                .await?;
        }
    }
    store.close().await;
    Ok(())
}

/// The certificates of a PEM file; one that holds none is an error, not an empty trust list.
fn read_certificates(
    path: &std::path::Path,
) -> anyhow::Result<Vec<rustls::pki_types::CertificateDer<'static>>> {
    use rustls::pki_types::pem::PemObject;
    let certs = rustls::pki_types::CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    anyhow::ensure!(!certs.is_empty(), "{}: no certificate", path.display());
    Ok(certs)
}
