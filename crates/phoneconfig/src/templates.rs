//! The templates: the shipped ones (one set per family, compiled in), and the administrator's
//! overrides in a folder, most specific first:
//!
//! ```text
//! <dir>/<family>/devices/<DEVICE NAME>/<template>   one phone
//! <dir>/<family>/models/<model slug>/<template>     one model (`cisco-8845`, `yealink-t46u`)
//! <dir>/<family>/<template>                         the whole family
//! ```
//!
//! Rendering is strict (an unknown variable is an error, not an empty string), values are
//! escaped for the file's format (XML, or one `key = value` line), and the same inputs give the
//! same bytes: phones reboot when a file changes.

use crate::context::{samples, Context};
use crate::family::Family;
use minijinja::syntax::SyntaxConfig;
use minijinja::value::{Serde, Value};
use minijinja::{AutoEscape, Environment, Output, State, UndefinedBehavior};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

const SHIPPED: &[(Family, &str, &str)] = &[
    (
        Family::Cisco,
        "XmlDefault.cnf.xml",
        include_str!("../templates/cisco/XmlDefault.cnf.xml"),
    ),
    (
        Family::Cisco,
        "device.cnf.xml",
        include_str!("../templates/cisco/device.cnf.xml"),
    ),
    (
        Family::Yealink,
        "common.cfg",
        include_str!("../templates/yealink/common.cfg"),
    ),
    (
        Family::Yealink,
        "device.cfg",
        include_str!("../templates/yealink/device.cfg"),
    ),
    (
        Family::Polycom,
        "master.cfg",
        include_str!("../templates/polycom/master.cfg"),
    ),
    (
        Family::Polycom,
        "device.cfg",
        include_str!("../templates/polycom/device.cfg"),
    ),
    (
        Family::Snom,
        "device.xml",
        include_str!("../templates/snom/device.xml"),
    ),
    (
        Family::Grandstream,
        "device.xml",
        include_str!("../templates/grandstream/device.xml"),
    ),
    (
        Family::Baresip,
        "config",
        include_str!("../templates/baresip/config"),
    ),
    (
        Family::Baresip,
        "accounts",
        include_str!("../templates/baresip/accounts"),
    ),
    (
        Family::Linphone,
        "device.xml",
        include_str!("../templates/linphone/device.xml"),
    ),
];

/// Families whose files are XML (Polycom's `.cfg` files are XML too).
fn is_xml(family: Family) -> bool {
    !matches!(family, Family::Yealink | Family::Baresip)
}

/// A problem with a template: which file, which line, what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for Problem {}

/// A rendered file and the template it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub text: String,
    /// `shipped:cisco/device.cnf.xml` or the override's path relative to the folder.
    pub source: String,
}

/// A model name as a folder name: `Cisco 8845` → `cisco-8845`.
pub fn model_slug(model: &str) -> String {
    let s: String = model
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    s.split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

/// The template of a registered name's family (`shipped:` names and override paths alike).
fn family_of(name: &str) -> Option<Family> {
    name.trim_start_matches("shipped:")
        .split('/')
        .next()?
        .parse()
        .ok()
}

/// Write `value` as the file's format needs it: XML-escaped, or on one line; `none` as nothing.
fn format_value(
    out: &mut Output,
    state: &mut State,
    value: &Value,
) -> Result<(), minijinja::Error> {
    if value.is_none() || value.is_undefined() {
        return Ok(());
    }
    let text = value.to_string();
    let xml = family_of(state.name()).is_some_and(is_xml);
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' if xml => s.push_str("&amp;"),
            '<' if xml => s.push_str("&lt;"),
            '>' if xml => s.push_str("&gt;"),
            '"' if xml => s.push_str("&quot;"),
            '\'' if xml => s.push_str("&apos;"),
            // Not characters XML allows anywhere (found by the rendered_values fuzz target).
            '\u{FFFE}' | '\u{FFFF}' if xml => {}
            // A line break inside a value would start a new key (or element text).
            '\r' | '\n' => s.push(' '),
            c if c.is_control() => {}
            c => s.push(c),
        }
    }
    out.write_str(&s).map_err(minijinja::Error::from)
}

fn problem(file: &str, e: &minijinja::Error) -> Problem {
    let mut message = e.kind().to_string();
    if let Some(d) = e.detail() {
        message = format!("{message}: {d}");
    }
    Problem {
        file: file.to_owned(),
        line: e.line(),
        message,
    }
}

/// The shipped templates and the overrides in force.
#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
    /// Override names (relative paths) registered, in order.
    overrides: Vec<String>,
    dir: Option<PathBuf>,
}

impl Templates {
    fn new_env() -> Environment<'static> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.set_formatter(format_value);
        // Keep the file's last newline: phones read lines.
        if let Ok(syntax) = SyntaxConfig::builder().keep_trailing_newline(true).build() {
            env.set_syntax(syntax);
        }
        env
    }

    /// Only the shipped templates.
    pub fn shipped() -> Templates {
        let mut env = Self::new_env();
        for (family, name, source) in SHIPPED {
            // The shipped templates are checked by the tests; a broken one cannot be shipped.
            if let Err(e) = env.add_template_owned(format!("shipped:{family}/{name}"), *source) {
                unreachable!("shipped template {family}/{name} is broken: {e}");
            }
        }
        Templates {
            env,
            overrides: Vec::new(),
            dir: None,
        }
    }

    /// The shipped templates with the overrides found in `dir` (a missing folder means none).
    /// Every problem is reported at once, each with its file and line.
    pub fn load(dir: &Path) -> Result<Templates, Vec<Problem>> {
        let mut t = Templates::shipped();
        t.dir = Some(dir.to_owned());
        let mut problems = Vec::new();
        let mut files = BTreeMap::new();
        collect(dir, dir, &mut files, &mut problems);
        for (rel, path) in files {
            if let Err(p) = check_place(&rel) {
                problems.push(p);
                continue;
            }
            match std::fs::read_to_string(&path) {
                Err(e) => problems.push(Problem {
                    file: rel.clone(),
                    line: None,
                    message: format!("cannot read: {e}"),
                }),
                Ok(source) => {
                    if let Err(p) = t.add_override(&rel, source) {
                        problems.push(p);
                    }
                }
            }
        }
        if problems.is_empty() {
            Ok(t)
        } else {
            Err(problems)
        }
    }

    /// One more override, `rel` named as under the overrides folder (`yealink/mac.cfg`,
    /// `cisco/models/cisco-8845/device.xml`); a misplaced or broken one is refused with its line.
    pub fn add_override(&mut self, rel: &str, source: String) -> Result<(), Problem> {
        check_place(rel)?;
        self.env
            .add_template_owned(rel.to_owned(), source)
            .map_err(|e| problem(rel, &e))?;
        self.overrides.push(rel.to_owned());
        Ok(())
    }

    /// The overrides folder, if any.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The overrides in force (paths relative to the folder).
    pub fn overrides(&self) -> &[String] {
        &self.overrides
    }

    /// The template that applies to this family's `template` for a phone of `model` named
    /// `device`: the device's override, else the model's, else the family's, else the shipped one.
    pub fn source(
        &self,
        family: Family,
        template: &str,
        model: &str,
        device: Option<&str>,
    ) -> String {
        let candidates = [
            device.map(|d| format!("{family}/devices/{d}/{template}")),
            Some(format!("{family}/models/{}/{template}", model_slug(model))),
            Some(format!("{family}/{template}")),
        ];
        candidates
            .into_iter()
            .flatten()
            .find(|c| self.overrides.contains(c))
            .unwrap_or_else(|| format!("shipped:{family}/{template}"))
    }

    /// Render a family's template for a phone.
    pub fn render(
        &self,
        family: Family,
        template: &str,
        model: &str,
        device: Option<&str>,
        ctx: &Context,
    ) -> Result<Rendered, Problem> {
        let source = self.source(family, template, model, device);
        let t = self
            .env
            .get_template(&source)
            .map_err(|e| problem(&source, &e))?;
        let text = t.render(Serde(ctx)).map_err(|e| problem(&source, &e))?;
        if is_xml(family) {
            if let Err(e) = roxmltree::Document::parse(&text) {
                return Err(Problem {
                    file: source,
                    line: None,
                    message: format!("the rendered file is not well-formed XML: {e}"),
                });
            }
        }
        Ok(Rendered { text, source })
    }

    /// Render every template (shipped and overrides) for an auto-registered and a claimed sample
    /// phone; every problem with its file and line.
    pub fn check(&self) -> Vec<Problem> {
        let mut names: Vec<String> = SHIPPED
            .iter()
            .map(|(f, n, _)| format!("shipped:{f}/{n}"))
            .collect();
        names.extend(self.overrides.iter().cloned());
        let mut problems = Vec::new();
        for name in names {
            let family = family_of(&name);
            for ctx in samples() {
                let rendered = self
                    .env
                    .get_template(&name)
                    .and_then(|t| t.render(Serde(&ctx)));
                match (rendered, family) {
                    (Err(e), _) => problems.push(problem(&name, &e)),
                    (Ok(text), Some(f)) if is_xml(f) => {
                        if let Err(e) = roxmltree::Document::parse(&text) {
                            problems.push(Problem {
                                file: name.clone(),
                                line: None,
                                message: format!("renders to XML that is not well-formed: {e}"),
                            });
                        }
                    }
                    _ => {}
                }
            }
        }
        problems.dedup();
        problems
    }
}

/// Every regular file under `dir`, by path relative to `root` with `/` separators.
fn collect(
    root: &Path,
    dir: &Path,
    out: &mut BTreeMap<String, PathBuf>,
    problems: &mut Vec<Problem>,
) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let rel = p
            .strip_prefix(root)
            .map(|r| r.to_string_lossy().replace('\\', "/"))
            .unwrap_or_default();
        if rel.split('/').any(|c| c.starts_with('.')) {
            continue;
        }
        match e.file_type() {
            Ok(t) if t.is_dir() => collect(root, &p, out, problems),
            Ok(t) if t.is_file() => {
                out.insert(rel, p);
            }
            _ => problems.push(Problem {
                file: rel,
                line: None,
                message: "not a regular file".into(),
            }),
        }
    }
}

/// An override must sit where it can apply: under a family, with a template name of that family.
fn check_place(rel: &str) -> Result<(), Problem> {
    let parts: Vec<&str> = rel.split('/').collect();
    let bad = |why: String| {
        Err(Problem {
            file: rel.to_owned(),
            line: None,
            message: why,
        })
    };
    let Some(family) = parts.first().and_then(|f| f.parse::<Family>().ok()) else {
        return bad(format!(
            "not under a family folder ({})",
            Family::ALL.map(|f| f.as_str()).join(", ")
        ));
    };
    let template = parts.last().copied().unwrap_or_default();
    let shape_ok = matches!(
        parts.as_slice(),
        [_, _] | [_, "models", _, _] | [_, "devices", _, _]
    );
    if !shape_ok {
        return bad(format!("expected {family}/<template>, {family}/models/<model>/<template> or {family}/devices/<device>/<template>"));
    }
    if !family.templates().iter().any(|(t, _)| *t == template) {
        let names: Vec<&str> = family.templates().iter().map(|(t, _)| *t).collect();
        return bad(format!(
            "`{template}` is not a {family} template; the {family} templates are {}",
            names.join(", ")
        ));
    }
    Ok(())
}
