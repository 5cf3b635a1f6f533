//! `switchboard provision`: the integration guide's flow (device → user → user token) against
//! any Webitel-compatible REST endpoint, for one user or for a CSV file of users.
//!
//! Idempotent by extension: a user that already has the extension is reused (its default device
//! too; a device is added if it has none) and only a new token is issued, so a re-run after a
//! partial failure completes the missing rows without duplicating the others. A device created
//! for a user whose creation then fails is deleted again.

use anyhow::{bail, Context as _};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use rand::distributions::{Alphanumeric, DistString};
use rand::Rng;
use serde::Serialize;
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use switchboard_client::{Client, Error as ClientError, Search};
use switchboard_model::{Device, LicenseUser, LicenseV1, ObjectId, Role, User};

#[derive(Args, Debug)]
pub struct ProvisionArgs {
    /// REST API base URL, e.g. http://127.0.0.1:8080/api or https://cloud.webitel.com/api/.
    #[arg(long, env = "SWITCHBOARD_API")]
    pub api: String,
    /// Integration (administrator) token, sent as X-Webitel-Access.
    #[arg(long, env = "SWITCHBOARD_TOKEN", hide_env_values = true)]
    pub token: String,
    /// The user's display name (Caller-ID name).
    #[arg(long, required_unless_present = "csv", conflicts_with = "csv")]
    pub name: Option<String>,
    /// The user's extension (internal number); the key that makes re-runs idempotent.
    #[arg(long, required_unless_present = "csv", conflicts_with = "csv")]
    pub extension: Option<String>,
    /// The user's e-mail.
    #[arg(long, conflicts_with = "csv")]
    pub email: Option<String>,
    /// Login name; the extension when not given.
    #[arg(long, conflicts_with = "csv")]
    pub username: Option<String>,
    /// Licence to grant, by id (serial) or product name; the first licence with free seats when
    /// not given. With --csv, the default for rows without one.
    #[arg(long)]
    pub license: Option<String>,
    /// Role to grant, by id or name; the role named `user` (else the first role) when not given.
    /// With --csv, the default for rows without one.
    #[arg(long)]
    pub role: Option<String>,
    /// Provision every row of a CSV file: name,extension[,email,username,license,role]
    /// (a header row with these names is optional; lines starting with # are skipped).
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Write the results to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Result format with --csv: JSON lines or CSV.
    #[arg(long, value_enum, default_value_t = OutFormat::Jsonl)]
    pub format: OutFormat,
    /// Rows provisioned concurrently with --csv.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutFormat {
    Jsonl,
    Csv,
}

/// One user to provision.
#[derive(Debug, Clone, Default)]
struct Row {
    line: u64,
    name: String,
    extension: String,
    email: Option<String>,
    username: Option<String>,
    license: Option<String>,
    role: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Status {
    Created,
    Reused,
    Failed,
}

/// What became of one row.
#[derive(Debug, Clone, Serialize)]
struct Outcome {
    line: u64,
    name: String,
    extension: String,
    status: Status,
    user_id: Option<String>,
    device_id: Option<String>,
    token: Option<String>,
    error: Option<String>,
}

/// Lookups shared by every row: the API, roles and licences of the domain.
struct Ctx {
    api: Client,
    roles: Vec<Role>,
    licenses: Mutex<Vec<LicenseV1>>,
    default_role: Option<String>,
    default_license: Option<String>,
    /// Notes for standard error, printed above the progress bar.
    notes: Box<dyn Fn(String) + Send + Sync>,
}

pub async fn run(args: ProvisionArgs) -> anyhow::Result<()> {
    let api = Client::new(&args.api, args.token.trim())?;
    let roles = match list_roles(&api).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("warning: cannot list roles ({e}); --role must then be a role id");
            Vec::new()
        }
    };
    let licenses = match api.licenses().await {
        Ok(l) => l.items,
        Err(e) => {
            eprintln!("warning: cannot list licences ({e}); --license must then be a licence id");
            Vec::new()
        }
    };
    let ctx = Ctx {
        api,
        roles,
        licenses: Mutex::new(licenses),
        default_role: args.role.clone(),
        default_license: args.license.clone(),
        notes: Box::new(|s| eprintln!("{s}")),
    };
    match &args.csv {
        None => single(ctx, &args).await,
        Some(file) => batch(ctx, &args, file).await,
    }
}

fn output(args: &ProvisionArgs) -> anyhow::Result<Box<dyn Write + Send>> {
    Ok(match &args.out {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        )),
        None => Box::new(std::io::stdout()),
    })
}

async fn single(ctx: Ctx, args: &ProvisionArgs) -> anyhow::Result<()> {
    let row = Row {
        line: 0,
        name: args.name.clone().unwrap_or_default(),
        extension: args.extension.clone().unwrap_or_default(),
        email: args.email.clone(),
        username: args.username.clone(),
        license: None,
        role: None,
    };
    let o = provision(&ctx, &row).await;
    if o.status == Status::Failed {
        bail!(
            "provisioning extension {} failed: {}",
            row.extension,
            o.error.unwrap_or_default()
        );
    }
    let mut out = output(args)?;
    let json = serde_json::json!({
        "user_id": o.user_id,
        "device_id": o.device_id,
        "token": o.token,
    });
    writeln!(out, "{json}")?;
    out.flush()?;
    eprintln!(
        "{} user {} (extension {}) with device {}",
        if o.status == Status::Created {
            "created"
        } else {
            "reused"
        },
        o.user_id.as_deref().unwrap_or("?"),
        row.extension,
        o.device_id.as_deref().unwrap_or("?"),
    );
    Ok(())
}

/// Reads the CSV rows; rows that cannot be provisioned at all come back as failures.
fn read_csv(file: &std::path::Path) -> anyhow::Result<(Vec<Row>, Vec<Outcome>)> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .from_path(file)
        .with_context(|| format!("cannot read {}", file.display()))?;
    const COLUMNS: [&str; 6] = ["name", "extension", "email", "username", "license", "role"];
    let mut columns: Vec<usize> = (0..COLUMNS.len()).collect();
    let mut rows = Vec::new();
    let mut failed = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.with_context(|| format!("{}: bad CSV", file.display()))?;
        let line = rec.position().map(|p| p.line()).unwrap_or(i as u64 + 1);
        if rec.iter().all(str::is_empty) {
            continue;
        }
        if i == 0 && rec.iter().any(|f| f.eq_ignore_ascii_case("extension")) {
            // A header row names the columns, in any order.
            columns = COLUMNS
                .iter()
                .map(|c| {
                    rec.iter()
                        .position(|f| f.eq_ignore_ascii_case(c))
                        .unwrap_or(usize::MAX)
                })
                .collect();
            if columns[0] == usize::MAX {
                bail!("{}: the header row has no `name` column", file.display());
            }
            continue;
        }
        let get = |c: usize| {
            rec.get(columns[c])
                .map(str::to_string)
                .filter(|s| !s.is_empty())
        };
        let row = Row {
            line,
            name: get(0).unwrap_or_default(),
            extension: get(1).unwrap_or_default(),
            email: get(2),
            username: get(3),
            license: get(4),
            role: get(5),
        };
        let problem = if row.name.is_empty() || row.extension.is_empty() {
            Some("name and extension are required".to_string())
        } else {
            seen.get(&row.extension)
                .map(|first| format!("extension {} is also on line {first}", row.extension))
        };
        match problem {
            Some(p) => failed.push(failure(&row, p)),
            None => {
                seen.insert(row.extension.clone(), line);
                rows.push(row);
            }
        }
    }
    Ok((rows, failed))
}

struct Sink {
    out: Box<dyn Write + Send>,
    csv: Option<csv::Writer<Box<dyn Write + Send>>>,
}

impl Sink {
    fn new(out: Box<dyn Write + Send>, format: OutFormat) -> Self {
        match format {
            OutFormat::Jsonl => Sink { out, csv: None },
            OutFormat::Csv => Sink {
                out: Box::new(std::io::sink()),
                csv: Some(csv::Writer::from_writer(out)),
            },
        }
    }

    fn write(&mut self, o: &Outcome) -> anyhow::Result<()> {
        match &mut self.csv {
            Some(w) => {
                w.serialize(o)?;
                w.flush()?;
            }
            None => {
                writeln!(self.out, "{}", serde_json::to_string(o)?)?;
                self.out.flush()?;
            }
        }
        Ok(())
    }
}

async fn batch(mut ctx: Ctx, args: &ProvisionArgs, file: &std::path::Path) -> anyhow::Result<()> {
    let (rows, early_failures) = read_csv(file)?;
    let total = rows.len() + early_failures.len();
    let pb = ProgressBar::new(total as u64);
    pb.set_style(
        ProgressStyle::with_template("{spinner} [{bar:40}] {pos}/{len} {msg} ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let notes_pb = pb.clone();
    ctx.notes = Box::new(move |s| notes_pb.suspend(|| eprintln!("{s}")));
    let ctx = Arc::new(ctx);
    let mut sink = Sink::new(output(args)?, args.format);
    let mut counts = HashMap::<&'static str, usize>::new();
    let mut failures = Vec::new();
    let mut record = |o: Outcome, sink: &mut Sink| -> anyhow::Result<()> {
        let key = match o.status {
            Status::Created => "created",
            Status::Reused => "reused",
            Status::Failed => "failed",
        };
        *counts.entry(key).or_default() += 1;
        if o.status == Status::Failed {
            failures.push(o.clone());
        }
        pb.set_message(format!("{key} {}", o.extension));
        pb.inc(1);
        sink.write(&o)
    };
    for o in early_failures {
        record(o, &mut sink)?;
    }
    let mut tasks = tokio::task::JoinSet::new();
    for row in rows {
        while tasks.len() >= args.jobs as usize {
            if let Some(r) = tasks.join_next().await {
                record(r?, &mut sink)?;
            }
        }
        let ctx = ctx.clone();
        tasks.spawn(async move { provision(&ctx, &row).await });
    }
    while let Some(r) = tasks.join_next().await {
        record(r?, &mut sink)?;
    }
    pb.finish_and_clear();
    let n = |k| counts.get(k).copied().unwrap_or(0);
    failures.sort_by_key(|o| o.line);
    for f in &failures {
        eprintln!(
            "failed: line {} ({}, extension {}): {}",
            f.line,
            f.name,
            f.extension,
            f.error.as_deref().unwrap_or("")
        );
    }
    eprintln!(
        "{total} rows: {} created, {} reused, {} failed",
        n("created"),
        n("reused"),
        n("failed")
    );
    if n("failed") > 0 {
        bail!(
            "{} of {total} rows failed; fix them and run the same command again (rows already \
             provisioned are reused, not duplicated)",
            n("failed")
        );
    }
    Ok(())
}

fn failure(row: &Row, reason: String) -> Outcome {
    Outcome {
        line: row.line,
        name: row.name.clone(),
        extension: row.extension.clone(),
        status: Status::Failed,
        user_id: None,
        device_id: None,
        token: None,
        error: Some(reason),
    }
}

/// Runs the flow for one row; never panics, failures come back as `Status::Failed`.
async fn provision(ctx: &Ctx, row: &Row) -> Outcome {
    match flow(ctx, row).await {
        Ok(o) => o,
        Err(e) => failure(row, format!("{e:#}")),
    }
}

async fn flow(ctx: &Ctx, row: &Row) -> anyhow::Result<Outcome> {
    let ext = row.extension.trim();
    if row.name.trim().is_empty() || ext.is_empty() {
        bail!("name and extension are required");
    }
    let usage = format!("switchboard provision ({ext})");
    if let Some(user) = find_user(&ctx.api, ext).await? {
        return reuse(ctx, row, user, &usage).await;
    }

    // Everything that can be refused locally is, before anything is created.
    let role = resolve_role(ctx, row.role.as_ref().or(ctx.default_role.as_ref()))?;
    let license = resolve_license(ctx, row.license.as_ref().or(ctx.default_license.as_ref()))?;
    let device = create_device(ctx, row).await?;
    let device_id = device.id.clone().context("the new device has no id")?;
    let input = User {
        name: Some(row.name.trim().to_string()),
        email: row.email.clone(),
        username: Some(row.username.clone().unwrap_or_else(|| ext.to_string())),
        password: Some(secret(24)),
        extension: Some(ext.to_string()),
        roles: Some(role.into_iter().collect()),
        device: Some(ObjectId {
            id: Some(device_id.clone()),
            name: None,
        }),
        devices: Some(vec![ObjectId {
            id: Some(device_id.clone()),
            name: None,
        }]),
        license: Some(license.into_iter().collect()),
        ..Default::default()
    };
    let user = match ctx.api.create_user(&input).await {
        Ok(u) => u,
        Err(e) => {
            // If the reply was lost, the user may exist all the same: then keep going.
            if e.outcome_unknown() {
                if let Ok(Some(u)) = find_user(&ctx.api, ext).await {
                    if u.device.as_ref().and_then(|d| d.id.as_deref()) == Some(&device_id) {
                        return finish(ctx, row, u, device_id, Status::Created, &usage).await;
                    }
                }
            }
            remove_device(ctx, &device_id).await;
            return Err(describe(e)).context("creating the user");
        }
    };
    finish(ctx, row, user, device_id, Status::Created, &usage).await
}

/// The user exists: give it a default device and a licence if it lacks them, then a new token.
async fn reuse(ctx: &Ctx, row: &Row, user: User, usage: &str) -> anyhow::Result<Outcome> {
    let user_id = user.id.clone().context("the existing user has no id")?;
    let mut patch = User::default();
    let mut added_device = None;
    let device_id = match user.device.as_ref().and_then(|d| d.id.clone()) {
        Some(id) => id,
        None => {
            let d = create_device(ctx, row).await?;
            let id = d.id.context("the new device has no id")?;
            let mut devices = user.devices.clone().unwrap_or_default();
            devices.push(ObjectId {
                id: Some(id.clone()),
                name: None,
            });
            patch.device = Some(ObjectId {
                id: Some(id.clone()),
                name: None,
            });
            patch.devices = Some(devices);
            added_device = Some(id.clone());
            id
        }
    };
    if user.license.as_ref().is_none_or(Vec::is_empty) {
        let wanted = row.license.as_ref().or(ctx.default_license.as_ref());
        if let Some(l) = resolve_license(ctx, wanted)? {
            patch.license = Some(vec![l]);
        }
    }
    if patch != User::default() {
        if let Err(e) = ctx.api.patch_user(&user_id, &patch).await {
            if let Some(id) = &added_device {
                remove_device(ctx, id).await;
            }
            return Err(describe(e)).context("completing the existing user");
        }
    }
    (ctx.notes)(format!(
        "note: extension {} already belongs to user {user_id}; reusing it{} and issuing a new \
         token (earlier tokens stay valid)",
        row.extension,
        if patch == User::default() {
            String::new()
        } else {
            " (completed its device/licence)".to_string()
        }
    ));
    finish(ctx, row, user, device_id, Status::Reused, usage).await
}

async fn finish(
    ctx: &Ctx,
    row: &Row,
    user: User,
    device_id: String,
    status: Status,
    usage: &str,
) -> anyhow::Result<Outcome> {
    let user_id = user.id.context("the user has no id")?;
    let token = ctx
        .api
        .create_token(&user_id, Some(usage))
        .await
        .map_err(describe)
        .with_context(|| format!("issuing a token for user {user_id} (run again to retry)"))?;
    let token = token.token.context("the token reply holds no token")?;
    Ok(Outcome {
        line: row.line,
        name: row.name.clone(),
        extension: row.extension.clone(),
        status,
        user_id: Some(user_id),
        device_id: Some(device_id),
        token: Some(token),
        error: None,
    })
}

async fn create_device(ctx: &Ctx, row: &Row) -> anyhow::Result<Device> {
    let account = device_account(&row.extension);
    let d = Device {
        name: Some(format!("device for {}", row.name.trim())),
        account: Some(account),
        password: Some(secret(20)),
        ..Default::default()
    };
    ctx.api
        .create_device(&d)
        .await
        .map_err(describe)
        .context("creating the device")
}

async fn remove_device(ctx: &Ctx, id: &str) {
    if let Err(e) = ctx.api.delete_device(id).await {
        (ctx.notes)(format!(
            "warning: could not delete device {id} after the failure: {e}; delete it by hand"
        ));
    }
}

/// The user holding `extension`, if any. Filters by `extension` (Switchboard) and `q` (both
/// platforms) and keeps only exact matches.
async fn find_user(api: &Client, extension: &str) -> anyhow::Result<Option<User>> {
    for page in 1..=20 {
        let res = api
            .search_users(
                &Search::new()
                    .page(page)
                    .size(100)
                    .q(extension)
                    .filter("extension", extension),
            )
            .await
            .map_err(describe)
            .context("searching users by extension")?;
        if let Some(u) = res
            .items
            .into_iter()
            .find(|u| u.extension.as_deref().map(str::trim) == Some(extension))
        {
            // The list may carry fewer fields than the object itself.
            let id = u.id.clone().unwrap_or_default();
            return Ok(Some(api.user(&id).await.unwrap_or(u)));
        }
        if !res.next {
            break;
        }
    }
    Ok(None)
}

async fn list_roles(api: &Client) -> Result<Vec<Role>, ClientError> {
    let mut out = Vec::new();
    for page in 1..=10 {
        let res = api.roles(&Search::new().page(page).size(100)).await?;
        out.extend(res.items);
        if !res.next {
            break;
        }
    }
    Ok(out)
}

/// `wanted` as a role reference (by id or name), or the role named `user`, else the first.
fn resolve_role(ctx: &Ctx, wanted: Option<&String>) -> anyhow::Result<Option<ObjectId>> {
    let found = match wanted {
        Some(w) => {
            let w = w.trim();
            match ctx.roles.iter().find(|r| {
                r.id.as_deref() == Some(w)
                    || r.name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(w))
            }) {
                Some(r) => r.id.clone(),
                None if w.chars().all(|c| c.is_ascii_digit()) => Some(w.to_string()),
                None => bail!("no role {w:?} in this domain"),
            }
        }
        None => ctx
            .roles
            .iter()
            .find(|r| r.name.as_deref() == Some("user"))
            .or_else(|| ctx.roles.first())
            .and_then(|r| r.id.clone()),
    };
    Ok(found.map(|id| ObjectId {
        id: Some(id),
        name: None,
    }))
}

/// `wanted` as a licence reference (by id or product), or the first licence with a free seat,
/// whose local seat count then drops by one.
fn resolve_license(ctx: &Ctx, wanted: Option<&String>) -> anyhow::Result<Option<LicenseUser>> {
    let mut ls = ctx.licenses.lock().unwrap_or_else(|e| e.into_inner());
    let id = match wanted {
        Some(w) => {
            let w = w.trim();
            ls.iter()
                .find(|l| l.id == w || l.product.eq_ignore_ascii_case(w))
                .map(|l| l.id.clone())
                .unwrap_or_else(|| w.to_string())
        }
        None => {
            if ls.is_empty() {
                return Ok(None);
            }
            let l = ls
                .iter_mut()
                .find(|l| l.remain > 0)
                .context("no licence has a free seat; free one or pass --license")?;
            l.remain -= 1;
            l.id.clone()
        }
    };
    Ok(Some(LicenseUser {
        id: Some(id),
        ..Default::default()
    }))
}

/// A SIP account for the extension: its safe characters plus a random suffix, so that a
/// re-created device never collides with a leftover one.
fn device_account(extension: &str) -> String {
    let base: String = extension
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._+-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(48)
        .collect();
    let base = if base.is_empty() { "web".into() } else { base };
    let mut rng = rand::thread_rng();
    let suffix: String = (0..6)
        .map(|_| {
            const A: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
            A[rng.gen_range(0..A.len())] as char
        })
        .collect();
    format!("{base}-{suffix}")
}

/// A random password from the OS-seeded generator: `len` alphanumerics (≈ 5.95 bits each).
fn secret(len: usize) -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), len)
}

/// A client error as a readable reason.
fn describe(e: ClientError) -> anyhow::Error {
    match e {
        ClientError::Api(a) => anyhow::anyhow!("{} ({}): {}", a.id, a.code, a.detail),
        other => anyhow::Error::new(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_are_safe_and_distinct() {
        let a = device_account("12 34");
        assert!(a.starts_with("12_34-"), "{a}");
        assert!(!a.contains(' '));
        assert_ne!(device_account("1001"), device_account("1001"));
        assert!(device_account("").starts_with("web-"));
    }

    #[test]
    fn secrets_are_long_and_random() {
        let s = secret(24);
        assert_eq!(s.len(), 24);
        assert!(s.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(s, secret(24));
    }

    #[test]
    fn csv_with_header_duplicates_and_gaps() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("u.csv");
        std::fs::write(
            &p,
            "extension,name,email\n# comment\n1001,Ann,a@x\n1002,Bob,\n1001,Dup,\n,NoExt,\n",
        )
        .unwrap();
        let (rows, failed) = read_csv(&p).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].name, "Ann");
        assert_eq!(rows[0].extension, "1001");
        assert_eq!(rows[0].email.as_deref(), Some("a@x"));
        assert_eq!(rows[1].email, None);
        assert_eq!(failed.len(), 2);
        assert!(failed[0].error.as_deref().unwrap().contains("also on line"));
    }

    #[test]
    fn csv_without_header_is_positional() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("u.csv");
        std::fs::write(&p, "Ann,1001,a@x,ann,CALL_CENTER,agent\nBob,1002\n").unwrap();
        let (rows, failed) = read_csv(&p).unwrap();
        assert!(failed.is_empty());
        assert_eq!(rows[0].username.as_deref(), Some("ann"));
        assert_eq!(rows[0].license.as_deref(), Some("CALL_CENTER"));
        assert_eq!(rows[0].role.as_deref(), Some("agent"));
        assert_eq!(rows[1].extension, "1002");
        assert_eq!(rows[1].line, 2);
    }
}
