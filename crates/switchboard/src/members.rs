//! `switchboard members import --queue ID FILE.csv`: loads a dialer queue's members from a CSV
//! file through any Webitel-compatible REST API (`POST …/members/bulk`, in batches).
//!
//! The first row names the columns: `name`, `destination` (also `phone` or `number`; several
//! numbers separated by `|`), and optionally `priority`, `timezone` (IANA), `expire_at` (epoch
//! ms or RFC 3339), `display`; every other column becomes a member variable. Rows are checked
//! before anything is sent and reported with their line numbers. Safe to re-run: a row whose
//! name and first number are already a member of the queue is skipped, as is a repeat of an
//! earlier row of the file. A row with a number on the queue's do-not-call list (not expired)
//! is refused with its line.

use anyhow::{bail, Context as _};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use switchboard_client::{Client, Error as ClientError, Search};
use switchboard_model::{Communication, Member, MemberBulk, ObjectId};

#[derive(Subcommand, Debug)]
pub enum MembersCommand {
    /// Import a CSV file of members into a dialer queue (re-runs skip rows already imported).
    Import(ImportArgs),
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// REST API base URL, e.g. http://127.0.0.1:8080/api.
    #[arg(long, env = "SWITCHBOARD_API")]
    pub api: String,
    /// Administrator token, sent as X-Webitel-Access.
    #[arg(long, env = "SWITCHBOARD_TOKEN", hide_env_values = true)]
    pub token: String,
    /// The queue's id.
    #[arg(long)]
    pub queue: String,
    /// Members per bulk request.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub batch: u32,
    /// The CSV file.
    pub file: PathBuf,
}

pub async fn run(cmd: MembersCommand) -> anyhow::Result<()> {
    match cmd {
        MembersCommand::Import(args) => import(args).await,
    }
}

/// One row of the file that may be sent.
#[derive(Debug, Clone)]
struct Row {
    line: u64,
    member: Member,
    key: (String, String),
}

/// What the file holds: rows to send and rows refused, with their line numbers.
#[derive(Debug, Default)]
struct Parsed {
    rows: Vec<Row>,
    errors: Vec<(u64, String)>,
    /// Lines repeating an earlier line (name and first number), with that line.
    repeats: Vec<(u64, u64)>,
}

fn column(header: &[String], names: &[&str]) -> Option<usize> {
    header
        .iter()
        .position(|h| names.iter().any(|n| h.eq_ignore_ascii_case(n)))
}

fn expire_at(raw: &str) -> Result<String, String> {
    if let Ok(ms) = raw.parse::<i64>() {
        if ms > 0 {
            return Ok(ms.to_string());
        }
    }
    match raw.parse::<jiff::Timestamp>() {
        Ok(t) => Ok(t.as_millisecond().to_string()),
        Err(_) => Err(format!(
            "expire_at {raw:?} is neither epoch milliseconds nor an RFC 3339 time"
        )),
    }
}

fn parse(file: &std::path::Path) -> anyhow::Result<Parsed> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_path(file)
        .with_context(|| format!("cannot read {}", file.display()))?;
    let mut header: Option<Vec<String>> = None;
    let mut out = Parsed::default();
    let mut seen: HashMap<(String, String), u64> = HashMap::new();
    for rec in rdr.records() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                out.errors.push((line, format!("not CSV: {e}")));
                continue;
            }
        };
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        // Blank lines and `#` comments (the csv crate's own comment skipping misnumbers the
        // line after a comment).
        if rec.iter().all(str::is_empty) || rec.get(0).is_some_and(|f| f.starts_with('#')) {
            continue;
        }
        let Some(h) = &header else {
            let h: Vec<String> = rec.iter().map(str::to_string).collect();
            if column(&h, &["destination", "phone", "number"]).is_none() {
                bail!(
                    "{}: the first row must name the columns, one of them `destination` \
                     (or `phone`, `number`)",
                    file.display()
                );
            }
            header = Some(h);
            continue;
        };
        match member(h, &rec) {
            Ok(m) => {
                let key = (
                    m.name.clone().unwrap_or_default(),
                    first_number(&m).to_string(),
                );
                if let Some(first) = seen.get(&key) {
                    out.repeats.push((line, *first));
                    continue;
                }
                seen.insert(key.clone(), line);
                out.rows.push(Row {
                    line,
                    member: m,
                    key,
                });
            }
            Err(e) => out.errors.push((line, e)),
        }
    }
    if header.is_none() {
        bail!("{}: the file is empty", file.display());
    }
    Ok(out)
}

fn first_number(m: &Member) -> &str {
    m.communications
        .as_ref()
        .and_then(|c| c.first())
        .and_then(|c| c.destination.as_deref())
        .unwrap_or("")
}

/// A CSV record as a member, or why not.
fn member(header: &[String], rec: &csv::StringRecord) -> Result<Member, String> {
    let get = |names: &[&str]| {
        column(header, names)
            .and_then(|i| rec.get(i))
            .filter(|v| !v.is_empty())
    };
    let numbers = get(&["destination", "phone", "number"]).unwrap_or("");
    let display = get(&["display"]).map(str::to_string);
    let mut communications = Vec::new();
    for n in numbers.split('|').map(str::trim) {
        if n.is_empty() {
            continue;
        }
        if n.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("destination {n:?} has spaces in it"));
        }
        communications.push(Communication {
            destination: Some(n.to_string()),
            display: display.clone(),
            ..Default::default()
        });
    }
    if communications.is_empty() {
        return Err("destination is required".into());
    }
    let priority = match get(&["priority"]) {
        None => None,
        Some(p) => Some(
            p.parse::<i32>()
                .map_err(|_| format!("priority {p:?} is not an integer"))?,
        ),
    };
    let timezone = match get(&["timezone", "time_zone", "tz"]) {
        None => None,
        Some(tz) => {
            jiff::tz::TimeZone::get(tz).map_err(|_| {
                format!("unknown time zone {tz:?}: give an IANA name such as Europe/Kyiv")
            })?;
            Some(ObjectId {
                id: None,
                name: Some(tz.to_string()),
            })
        }
    };
    let expire = get(&["expire_at"]).map(expire_at).transpose()?;
    const KNOWN: &[&str] = &[
        "name",
        "destination",
        "phone",
        "number",
        "display",
        "priority",
        "timezone",
        "time_zone",
        "tz",
        "expire_at",
    ];
    let mut variables = BTreeMap::new();
    for (i, h) in header.iter().enumerate() {
        if h.is_empty() || KNOWN.iter().any(|k| h.eq_ignore_ascii_case(k)) {
            continue;
        }
        if let Some(v) = rec.get(i).filter(|v| !v.is_empty()) {
            variables.insert(h.clone(), v.to_string());
        }
    }
    Ok(Member {
        name: Some(get(&["name"]).unwrap_or("").to_string()),
        priority,
        timezone,
        expire_at: expire,
        variables: (!variables.is_empty()).then_some(variables),
        communications: Some(communications),
        ..Default::default()
    })
}

/// `(name, first number)` of every member the queue already has.
async fn existing(api: &Client, queue: &str) -> anyhow::Result<HashSet<(String, String)>> {
    let mut keys = HashSet::new();
    let mut page = 1;
    loop {
        let res = api
            .members(
                queue,
                &Search::new()
                    .page(page)
                    .size(1000)
                    .field("name")
                    .field("communications"),
            )
            .await
            .map_err(describe)?;
        for m in &res.items {
            keys.insert((
                m.name.clone().unwrap_or_default(),
                first_number(m).to_string(),
            ));
        }
        if !res.next || res.items.is_empty() {
            return Ok(keys);
        }
        page += 1;
    }
}

/// The numbers on the queue's DNC list that are barred now (none when it has no list).
async fn barred(api: &Client, queue: &switchboard_model::Queue) -> anyhow::Result<HashSet<String>> {
    let mut out = HashSet::new();
    let Some(list) = queue
        .dnc_list
        .as_ref()
        .and_then(|l| l.id.clone())
        .filter(|id| !id.is_empty() && id != "0")
    else {
        return Ok(out);
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let mut page = 1;
    loop {
        let res = api
            .list_communications(
                &list,
                &Search::new()
                    .page(page)
                    .size(1000)
                    .field("number")
                    .field("expire_at"),
            )
            .await
            .map_err(describe)
            .with_context(|| format!("DNC list {list}"))?;
        for c in &res.items {
            let expire_at = c.expire_at.as_deref().and_then(|e| e.parse::<i64>().ok());
            if expire_at.is_none_or(|e| e == 0 || e > now) {
                out.extend(c.number.clone());
            }
        }
        if !res.next || res.items.is_empty() {
            return Ok(out);
        }
        page += 1;
    }
}

/// The first of the member's numbers that is barred.
fn barred_number<'a>(m: &'a Member, barred: &HashSet<String>) -> Option<&'a str> {
    m.communications
        .iter()
        .flatten()
        .filter_map(|c| c.destination.as_deref())
        .find(|d| barred.contains(*d))
}

fn describe(e: ClientError) -> anyhow::Error {
    match e.app_error() {
        Some(a) => anyhow::anyhow!("{} ({})", a.detail, a.id),
        None => anyhow::anyhow!("{e}"),
    }
}

async fn import(args: ImportArgs) -> anyhow::Result<()> {
    let api = Client::new(&args.api, args.token.trim())?;
    let parsed = parse(&args.file)?;
    let queue = api
        .queue(&args.queue)
        .await
        .map_err(describe)
        .with_context(|| format!("queue {}", args.queue))?;
    let have = existing(&api, &args.queue).await?;
    let barred = barred(&api, &queue).await?;
    let file_name = args
        .file
        .file_name()
        .map(|f| f.to_string_lossy().into_owned());
    let mut errors = parsed.errors;
    let mut rows = Vec::with_capacity(parsed.rows.len());
    for r in parsed.rows {
        match barred_number(&r.member, &barred) {
            Some(n) => errors.push((
                r.line,
                format!("number {n:?} is on the queue's do-not-call list"),
            )),
            None => rows.push(r),
        }
    }
    let (skip, todo): (Vec<Row>, Vec<Row>) = rows.into_iter().partition(|r| have.contains(&r.key));
    let total = todo.len() + skip.len() + errors.len() + parsed.repeats.len();
    let pb = ProgressBar::new(total as u64);
    pb.set_style(
        ProgressStyle::with_template("{spinner} [{bar:40}] {pos}/{len} rows {msg} ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb.inc((skip.len() + errors.len() + parsed.repeats.len()) as u64);
    let mut imported = 0usize;
    for chunk in todo.chunks(args.batch as usize) {
        let bulk = MemberBulk {
            items: chunk.iter().map(|r| r.member.clone()).collect(),
            file_name: file_name.clone(),
        };
        match api.create_members(&args.queue, &bulk).await {
            Ok(ids) => imported += ids.len(),
            Err(e) if e.status() == Some(400) => {
                // The server refused the batch whole: send its rows one by one to name the
                // bad ones and keep the good.
                for r in chunk {
                    let one = MemberBulk {
                        items: vec![r.member.clone()],
                        file_name: file_name.clone(),
                    };
                    match api.create_members(&args.queue, &one).await {
                        Ok(ids) => imported += ids.len(),
                        Err(e) => {
                            let why = describe(e).to_string();
                            let why = why.strip_prefix("items[0]: ").unwrap_or(&why);
                            errors.push((r.line, why.to_string()));
                        }
                    }
                }
            }
            Err(e) => {
                pb.finish_and_clear();
                eprintln!(
                    "{imported} members imported before the server failed; run the same \
                     command again to go on"
                );
                return Err(describe(e));
            }
        }
        pb.set_message(format!("{imported} imported"));
        pb.inc(chunk.len() as u64);
    }
    pb.finish_and_clear();
    errors.sort();
    for (line, why) in &errors {
        eprintln!("line {line}: {why}");
    }
    for (line, first) in &parsed.repeats {
        eprintln!("line {line}: skipped, the same member as line {first}");
    }
    println!(
        "{total} rows: {imported} imported, {} skipped (already in the queue), {} repeated \
         in the file, {} failed",
        skip.len(),
        parsed.repeats.len(),
        errors.len()
    );
    if !errors.is_empty() {
        bail!(
            "{} rows failed; fix them and run the same command again (rows already imported \
             are skipped)",
            errors.len()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_become_members_and_bad_rows_name_their_line() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("m.csv");
        std::fs::write(
            &f,
            "name,phone,priority,timezone,plan\n\
             Ann,+15550100|+15550101,5,America/New_York,gold\n\
             # a comment\n\
             Bob,,1,,\n\
             Cy,+15550300,high,,\n\
             Dee,+15550400,,Mars/Base,\n\
             Ann,+15550100,,,\n\
             Eve,+15550500,,,\n",
        )
        .unwrap();
        let p = parse(&f).unwrap();
        assert_eq!(p.rows.len(), 2);
        let ann = &p.rows[0].member;
        assert_eq!(ann.priority, Some(5));
        assert_eq!(ann.communications.as_ref().unwrap().len(), 2);
        assert_eq!(ann.variables.as_ref().unwrap()["plan"], "gold");
        assert_eq!(p.rows[1].line, 8);
        let lines: Vec<u64> = p.errors.iter().map(|e| e.0).collect();
        assert_eq!(lines, [4, 5, 6]);
        assert!(p.errors[0].1.contains("destination"));
        assert_eq!(p.repeats, [(7, 2)]);
        assert_eq!(expire_at("2030-01-01T00:00:00Z").unwrap(), "1893456000000");
    }
}
