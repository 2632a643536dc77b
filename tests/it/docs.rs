//! The documentation (issue 16 item 7): README.md is a guide and the rest lives in `docs/`, so
//! two things must never drift: `docs/configuration.md`'s table and `config.toml` (and the
//! environment variables `scimgate::config::ENV_VARS` accepts), and the relative links between
//! README.md and `docs/*.md` (files and GitHub-style `#anchor` slugs of headings).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `section.key` -> the environment variable named in its row, from the first table of
/// `docs/configuration.md` whose first column is a backticked key.
fn doc_table() -> BTreeMap<String, String> {
    let text = read(&root().join("docs/configuration.md"));
    let mut rows = BTreeMap::new();
    for line in text.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // "| `a.b` | default | `ENV` | meaning |" splits into ["", key, default, env, meaning, ""].
        if cells.len() < 6 || !cells[0].is_empty() {
            continue;
        }
        let key = cells[1];
        if let Some(key) = key.strip_prefix('`').and_then(|k| k.strip_suffix('`'))
            && key.contains('.')
        {
            let previous = rows.insert(key.to_string(), cells[3].to_string());
            assert!(
                previous.is_none(),
                "{key} has two rows in docs/configuration.md"
            );
        }
    }
    rows
}

/// Every `section.key` of `config.toml`.
fn config_keys() -> BTreeSet<String> {
    let table: toml::Table = read(&root().join("config.toml")).parse().unwrap();
    let mut keys = BTreeSet::new();
    for (section, value) in &table {
        let toml::Value::Table(inner) = value else {
            panic!("config.toml: {section} is not a section");
        };
        for key in inner.keys() {
            keys.insert(format!("{section}.{key}"));
        }
    }
    keys
}

#[test]
fn configuration_doc_matches_config_toml() {
    let doc = doc_table();
    let file: BTreeSet<String> = config_keys();
    let documented: BTreeSet<String> = doc.keys().cloned().collect();
    let missing: Vec<_> = file.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&file).collect();
    assert!(
        missing.is_empty(),
        "keys in config.toml missing from docs/configuration.md: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "keys in docs/configuration.md that config.toml does not have: {extra:?}"
    );
    assert!(doc.len() > 30, "the table was not read: {doc:?}");
}

#[test]
fn configuration_doc_names_every_environment_variable() {
    let doc = doc_table();
    for (var, key) in scimgate::config::ENV_VARS {
        let row = doc
            .get(*key)
            .unwrap_or_else(|| panic!("{key} (set by {var}) has no row in docs/configuration.md"));
        assert!(
            row.contains(&format!("`{var}`")),
            "the row of {key} in docs/configuration.md does not name {var}: {row}"
        );
    }
}

/// GitHub's heading anchors: lower case, punctuation other than `-` and `_` dropped, spaces to
/// hyphens; a repeated heading gets `-1`, `-2` …
fn slugs(markdown: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = BTreeSet::new();
    let mut fenced = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let hashes = line.chars().take_while(|c| *c == '#').count();
        if !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
            continue;
        }
        let slug: String = line[hashes..]
            .trim()
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '_' || *c == ' ')
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let n = seen.entry(slug.clone()).or_insert(0);
        out.insert(if *n == 0 {
            slug.clone()
        } else {
            format!("{slug}-{n}")
        });
        *n += 1;
    }
    out
}

/// The targets of `[text](target)` and `![alt](target)` outside code fences and inline code.
fn links(markdown: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut fenced = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        // Drop inline code spans so `a](b)` inside backticks is not read as a link.
        let mut plain = String::new();
        for (i, part) in line.split('`').enumerate() {
            if i % 2 == 0 {
                plain.push_str(part);
            }
        }
        let mut rest = plain.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(end) = after.find(')') else { break };
            out.push(after[..end].trim().to_string());
            rest = &after[end..];
        }
    }
    out
}

#[test]
fn every_relative_link_resolves() {
    let root = root();
    let mut files = vec![root.join("README.md")];
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            files.push(path);
        }
    }
    assert!(files.len() >= 8, "README.md and docs/*.md: {files:?}");
    let mut broken = Vec::new();
    let mut checked = 0;
    for file in &files {
        let text = read(file);
        for target in links(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (path, anchor) = match target.split_once('#') {
                Some((p, a)) => (p, Some(a)),
                None => (target.as_str(), None),
            };
            let resolved = if path.is_empty() {
                file.clone()
            } else {
                file.parent().unwrap().join(path)
            };
            let name = format!("{}: {target}", file.strip_prefix(&root).unwrap().display());
            if !resolved.exists() {
                broken.push(format!("{name} (no such file)"));
                continue;
            }
            if let Some(anchor) = anchor
                && resolved.extension().is_some_and(|e| e == "md")
                && !slugs(&read(&resolved)).contains(anchor)
            {
                broken.push(format!("{name} (no such heading)"));
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
    assert!(checked > 50, "only {checked} links were checked");
}

#[test]
fn slugs_are_githubs() {
    let s = slugs(
        "# Set-up on a VM, from start to Okta's \"Test API Credentials\"\n## Verifying codes: `POST /api/v1/verify`\n```\n# not a heading\n```\n## Logs\n## Logs\n",
    );
    let want: BTreeSet<String> = [
        "set-up-on-a-vm-from-start-to-oktas-test-api-credentials",
        "verifying-codes-post-apiv1verify",
        "logs",
        "logs-1",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(s, want);
    assert_eq!(
        links("[a](x.md#y) `[b](not)` ![c](img.png)\n```\n[d](e)\n```\n"),
        ["x.md#y", "img.png"]
    );
}
