//! Log lines a stranger cannot forge or flood: every logged value has its control characters
//! escaped (a Call-ID carrying `\r\n` or a terminal escape cannot start a fake line or repaint the
//! operator's terminal) and is cut to [`MAX_VALUE`] bytes. The text format keeps
//! tracing-subscriber's layout with these field values; the JSON format is one object per line
//! (`timestamp`, `level`, `target`, `fields`), values cut the same way (JSON escapes the rest).

use std::fmt::{self, Write as _};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The longest value a log line carries, in bytes (a longer one is cut, saying by how much).
pub const MAX_VALUE: usize = 1024;

/// `s` with control characters escaped (`\n`, `\r`, `\t`, `\u{1b}`, ...) and cut to
/// [`MAX_VALUE`] bytes on a character boundary.
pub fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_VALUE) + 16);
    for (i, c) in s.char_indices() {
        if out.len() >= MAX_VALUE {
            let _ = write!(out, "…[{} more bytes]", s.len() - i);
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// A field of the text format: `name=value` (the message bare), the value cleaned. Strings and
/// `?debug` values print as their `Debug` form (quoted, as before), `%display` values as shown.
pub fn text_field(w: &mut Writer<'_>, field: &Field, value: &dyn fmt::Debug) -> fmt::Result {
    let shown = clean(&format!("{value:?}"));
    match field.name() {
        "message" => w.write_str(&shown),
        name => write!(w, "{}={shown}", name.trim_start_matches("r#")),
    }
}

/// One JSON object per line, every string value cleaned.
pub struct SafeJson;

impl<S, N> FormatEvent<S, N> for SafeJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut timestamp = String::new();
        SystemTime.format_time(&mut Writer::new(&mut timestamp))?;
        let mut fields = JsonFields(serde_json::Map::new());
        event.record(&mut fields);
        let meta = event.metadata();
        let line = serde_json::json!({
            "timestamp": timestamp,
            "level": meta.level().as_str(),
            "target": meta.target(),
            "fields": fields.0,
        });
        writeln!(writer, "{line}")
    }
}

struct JsonFields(serde_json::Map<String, serde_json::Value>);

impl JsonFields {
    fn put(&mut self, field: &Field, v: serde_json::Value) {
        self.0
            .insert(field.name().trim_start_matches("r#").to_owned(), v);
    }
}

impl Visit for JsonFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, clean(value).into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, clean(&format!("{value:?}")).into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, value.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::field::MakeExt;
    use tracing_subscriber::fmt::format::debug_fn;
    use tracing_subscriber::fmt::MakeWriter;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl<'a> MakeWriter<'a> for Buf {
        type Writer = Buf;
        fn make_writer(&'a self) -> Buf {
            self.clone()
        }
    }
    impl Buf {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    const HOSTILE: &str = "abc\r\nINFO selfprov ready fake=1\u{1b}[2J\u{0}\u{7f}\u{85}";

    fn log_hostile() {
        let long = "x".repeat(60_000);
        let id = HOSTILE.to_owned();
        tracing::info!(call_id = %id, debug = ?id, plain = id.as_str(), long = %long, n = 7, "got {id}");
    }

    fn assert_clean(out: &str) {
        assert_eq!(out.lines().count(), 1, "{out:?}");
        assert!(out.ends_with('\n'));
        assert!(
            !out[..out.len() - 1].chars().any(char::is_control),
            "{out:?}"
        );
        assert!(out.len() < 6 * MAX_VALUE, "{}", out.len());
        assert!(out.contains("[58976 more bytes]"), "{out}");
    }

    #[test]
    fn text_lines_escape_control_characters_and_cut_long_values() {
        let buf = Buf::default();
        let sub = tracing_subscriber::fmt()
            .with_writer(buf.clone())
            .with_ansi(false)
            .fmt_fields(debug_fn(text_field).delimited(" "))
            .finish();
        tracing::subscriber::with_default(sub, log_hostile);
        let out = buf.text();
        assert_clean(&out);
        assert!(
            out.contains(r"call_id=abc\r\nINFO selfprov ready fake=1\u{1b}[2J"),
            "{out}"
        );
        assert!(out.contains(" n=7"), "{out}");
        assert!(out.contains(r"got abc\r\n"), "{out}");
    }

    #[test]
    fn json_lines_are_one_object_with_cut_values() {
        let buf = Buf::default();
        let sub = tracing_subscriber::fmt()
            .with_writer(buf.clone())
            .with_ansi(false)
            .event_format(SafeJson)
            .finish();
        tracing::subscriber::with_default(sub, log_hostile);
        let out = buf.text();
        assert_clean(&out);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["fields"]["n"], 7);
        assert_eq!(v["fields"]["plain"], clean(HOSTILE));
        assert!(v["fields"]["message"]
            .as_str()
            .unwrap()
            .starts_with(r"got abc\r\n"));
        assert!(v["timestamp"].as_str().unwrap().starts_with("20"));
    }

    #[test]
    fn clean_cuts_on_a_character_boundary() {
        let s = "é".repeat(MAX_VALUE);
        let c = clean(&s);
        assert!(c.starts_with(&"é".repeat(MAX_VALUE / 2)));
        assert!(c.ends_with(&format!("…[{} more bytes]", s.len() - MAX_VALUE)));
        assert_eq!(clean("plain"), "plain");
    }
}
