//! The screens for Polycom's microbrowser (UC Software): XHTML 1.0 pages. A form is an HTML form
//! sent with GET (its inputs become the query string, as the other vendors' forms do); a text is
//! the text, the outcome code on a line of its own, and one link per soft key. The phone's own
//! Exit/Back key leaves the browser, so an Exit key has no link.

use super::screen::{Screen, Target};
use super::xml::esc;
use std::fmt::Write as _;

pub(crate) const CONTENT_TYPE: &str = "application/xhtml+xml; charset=utf-8";

fn head(x: &mut String, title: &str) {
    x.push_str("<html xmlns=\"http://www.w3.org/1999/xhtml\">\n");
    let _ = writeln!(x, "<head><title>{}</title></head>", esc(title));
    x.push_str("<body>\n");
    let _ = writeln!(x, "<h1>{}</h1>", esc(title));
}

/// `screen` as a Polycom microbrowser page (after the XML declaration in `x`).
pub(crate) fn render(x: &mut String, screen: &Screen) {
    match screen {
        Screen::Input {
            title,
            prompt,
            url,
            fields,
            submit,
        } => {
            head(x, title);
            let _ = writeln!(x, "<p class=\"prompt\">{}</p>", esc(prompt));
            let _ = writeln!(x, "<form method=\"get\" action=\"{}\">", esc(url));
            for f in fields {
                let kind = if f.secret { "password" } else { "text" };
                let _ = writeln!(
                    x,
                    "<p>{}<br/><input type=\"{kind}\" name=\"{}\" value=\"\"/></p>",
                    esc(f.label),
                    esc(f.param)
                );
            }
            let _ = writeln!(
                x,
                "<p><input type=\"submit\" value=\"{}\"/></p>",
                esc(submit)
            );
            x.push_str("</form>\n");
        }
        Screen::Text {
            title,
            prompt,
            text,
            keys,
        } => {
            head(x, title);
            let _ = writeln!(x, "<p class=\"text\">{}</p>", esc(text));
            if !prompt.is_empty() {
                let _ = writeln!(x, "<p class=\"status\">{}</p>", esc(prompt));
            }
            let links: Vec<String> = keys
                .iter()
                .filter_map(|k| match &k.target {
                    Target::Url(u) => Some(format!("<a href=\"{}\">{}</a>", esc(u), esc(k.label))),
                    Target::Exit => None,
                })
                .collect();
            if !links.is_empty() {
                let _ = writeln!(x, "<p class=\"keys\">{}</p>", links.join(" "));
            }
        }
    }
    x.push_str("</body>\n</html>\n");
}
