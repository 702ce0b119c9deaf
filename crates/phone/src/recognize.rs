//! Which prompt is the IVR playing? The service sends the frames of its prompt catalog as they
//! are (each prompt encoded once, encoder restarted per prompt), and every codec we use encodes
//! deterministically, so a phone that loads the same prompts and encodes them the same way can
//! name what it hears by looking each received payload up. Frames shared by several prompts
//! (silence) say nothing; a frame that belongs to one prompt only names it.

use selfprov_media::Codec;
use selfprov_prompts::Catalog;
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

/// A prompt recognised in the received audio.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Heard {
    pub name: String,
    pub language: String,
    /// Index of the first recognised frame within the prompt (leading frames may be silence
    /// shared with other prompts): the prompt began this many packet times earlier.
    pub first_frame: usize,
}

/// Payload → (prompt, frame index) for one codec; shared by every call of a load generator.
struct Index {
    names: Vec<(String, String)>,
    frames: HashMap<u64, Vec<(u32, u32)>>,
}

/// Names the prompts of one received stream.
pub struct Recognizer {
    index: std::sync::Arc<Index>,
    /// The prompt being heard and its last frame index.
    current: Option<(u32, u32)>,
}

fn key(payload: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    payload.hash(&mut h);
    h.finish()
}

impl Recognizer {
    /// Index every prompt of `catalog` encoded with `codec` (the catalog must hold that codec).
    pub fn new(catalog: &Catalog, codec: Codec) -> Recognizer {
        let mut names = Vec::new();
        let mut frames: HashMap<u64, Vec<(u32, u32)>> = HashMap::new();
        let mut all: Vec<_> = catalog.prompts().collect();
        all.sort_by(|a, b| (&a.language, &a.name).cmp(&(&b.language, &b.name)));
        for p in all {
            let Some(enc) = p.encoded(codec) else { continue };
            let id = names.len() as u32;
            names.push((p.name.clone(), p.language.clone()));
            for (i, f) in enc.frames.iter().enumerate() {
                frames.entry(key(f)).or_default().push((id, i as u32));
            }
        }
        Recognizer {
            index: std::sync::Arc::new(Index { names, frames }),
            current: None,
        }
    }

    /// A recognizer for another stream, sharing this one's index.
    pub fn fork(&self) -> Recognizer {
        Recognizer {
            index: self.index.clone(),
            current: None,
        }
    }

    /// Number of prompts indexed.
    pub fn prompts(&self) -> usize {
        self.index.names.len()
    }

    /// Feed one received payload; `Some` when it starts a new prompt (or a new playing of the
    /// same prompt, e.g. the two zeros of extension 1004).
    pub fn feed(&mut self, payload: &[u8]) -> Option<Heard> {
        let cands = self.index.frames.get(&key(payload))?;
        if let Some((p, i)) = self.current {
            if cands.contains(&(p, i + 1)) {
                self.current = Some((p, i + 1));
                return None;
            }
        }
        let first = cands[0].0;
        if cands.iter().any(|&(p, _)| p != first) {
            // Shared by several prompts: ambiguous, keep listening.
            return None;
        }
        let idx = cands.iter().map(|&(_, i)| i).min().unwrap_or(0);
        let fresh = match self.current {
            Some((p, i)) => p != first || idx <= i,
            None => true,
        };
        self.current = Some((first, idx));
        if !fresh {
            return None;
        }
        let (name, language) = self.index.names[first as usize].clone();
        Some(Heard {
            name,
            language,
            first_frame: idx as usize,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn catalog() -> Catalog {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../prompts");
        Catalog::load(&dir, &["en_US"], &[Codec::Pcmu], 20).unwrap()
    }

    fn frames(c: &Catalog, name: &str) -> Vec<Box<[u8]>> {
        c.lookup(name, &["en_US"]).unwrap().encoded(Codec::Pcmu).unwrap().frames.clone()
    }

    #[test]
    fn names_prompts_played_back_to_back_including_repeats() {
        let c = catalog();
        let mut r = Recognizer::new(&c, Codec::Pcmu);
        assert!(r.prompts() >= 34);
        let seq = ["confirm_extension", "digit_1", "digit_0", "digit_0", "digit_4", "confirm_press"];
        let mut heard = Vec::new();
        for n in seq {
            for f in frames(&c, n) {
                if let Some(h) = r.feed(&f) {
                    heard.push(h.name);
                }
            }
        }
        assert_eq!(heard, seq);
    }

    #[test]
    fn silence_and_foreign_audio_name_nothing() {
        let c = catalog();
        let mut r = Recognizer::new(&c, Codec::Pcmu);
        assert_eq!(r.feed(&[0xffu8; 160]), None);
        assert_eq!(r.feed(&[0x13u8; 160]), None);
        // A prompt cut short (barge-in) is still named from its first distinctive frame.
        let f = frames(&c, "enter_pin");
        let named: Vec<_> = f.iter().take(20).filter_map(|x| r.feed(x)).collect();
        assert_eq!(named.len(), 1);
        assert_eq!(named[0].name, "enter_pin");
    }
}
