//! Builds the front end (web/demo) with npm when its output is missing or older than its
//! sources, then embeds web/demo/dist into the binary. Without npm (or with
//! SWITCHBOARD_DEMO_NPM=0) an existing dist is embedded as is, or a page that says how to build.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

const SOURCES: &[&str] = &[
    "src",
    "index.html",
    "package.json",
    "package-lock.json",
    "tsconfig.json",
    "vite.config.ts",
];

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let web = manifest.join("../../web/demo");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    println!("cargo:rerun-if-env-changed=SWITCHBOARD_DEMO_NPM");
    for s in SOURCES {
        println!("cargo:rerun-if-changed={}", web.join(s).display());
    }

    let dist = web.join("dist");
    let built = newest(&dist.join("index.html"));
    let sources = SOURCES.iter().filter_map(|s| newest(&web.join(s))).max();
    let stale = match (built, sources) {
        (None, _) => true,
        (Some(b), Some(s)) => s > b,
        (Some(_), None) => false,
    };
    let npm_allowed = std::env::var("SWITCHBOARD_DEMO_NPM").map_or(true, |v| v != "0");
    if stale && npm_allowed && web.join("package.json").exists() {
        if let Err(e) = npm_build(&web) {
            println!("cargo:warning=demo front end not rebuilt: {e}");
        }
    }

    let mut files = Vec::new();
    if dist.join("index.html").exists() {
        collect(&dist, &dist, &mut files);
    }
    let mut code = String::from("pub static ASSETS: &[(&str, &[u8])] = &[\n");
    if files.is_empty() {
        // Copied into OUT_DIR so that the embedded path always exists.
        let page = out.join("fallback.html");
        std::fs::write(&page, FALLBACK).unwrap();
        code.push_str(&format!(
            "    (\"index.html\", include_bytes!({:?})),\n",
            page.display().to_string()
        ));
    }
    for (rel, path) in files {
        // Copy, so that a later `rm -r dist` cannot break an incremental build.
        let copy = out.join("dist").join(&rel);
        std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
        std::fs::copy(&path, &copy).unwrap();
        code.push_str(&format!(
            "    ({rel:?}, include_bytes!({:?})),\n",
            copy.display().to_string()
        ));
    }
    code.push_str("];\n");
    std::fs::write(out.join("assets.rs"), code).unwrap();
}

fn npm_build(web: &Path) -> Result<(), String> {
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    let run = |args: &[&str]| -> Result<(), String> {
        let out = Command::new(npm)
            .args(args)
            .current_dir(web)
            .output()
            .map_err(|e| format!("cannot run npm ({e}); install Node.js 20+ and npm"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "npm {} failed: {}{}",
                args.join(" "),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    };
    let installed = newest(&web.join("node_modules/.package-lock.json"));
    let lock = newest(&web.join("package-lock.json"));
    if installed.is_none() || lock > installed {
        run(&["ci", "--no-audit", "--no-fund", "--loglevel=error"])?;
    }
    run(&["run", "build", "--silent"])
}

/// The newest modification time of a file or of any file under a folder.
fn newest(p: &Path) -> Option<SystemTime> {
    let meta = std::fs::metadata(p).ok()?;
    if !meta.is_dir() {
        return meta.modified().ok();
    }
    std::fs::read_dir(p)
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| newest(&e.path()))
        .max()
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(|e| e.ok()).collect();
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            collect(root, &p, out);
        } else {
            let rel = p
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            out.push((rel, p));
        }
    }
}

const FALLBACK: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Switchboard demo: front end not built</title></head>
<body style="font-family: sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem">
<h1>The demo's front end was not built</h1>
<p>This binary was built without npm, so the demo SPA is missing. Install Node.js 20 or newer
(with npm) and build again:</p>
<pre>cargo build --release -p switchboard</pre>
<p>or build the front end by hand: <code>cd web/demo &amp;&amp; npm ci &amp;&amp; npm run build</code>,
then rebuild the binary. The REST API (<a href="/api/openapi.json">/api/openapi.json</a>) and the
WebSocket API work without it.</p>
</body></html>
"#;
