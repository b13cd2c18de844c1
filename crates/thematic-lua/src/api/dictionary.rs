//! `thematic.dictionary{ code = {terms...} }`: a dictionary matcher compiled
//! once in Rust (the builtin `dictionary` strategy's matcher) and used on many texts.

use std::collections::BTreeMap;

use mlua::{Lua, Table, UserData, UserDataMethods};
use thematic_codebook::{Code, Codebook, DictionaryMatcher, Term};
use thematic_text::{fold_texts, folded_starts, is_word, FoldedTranscript};

pub(super) fn register(lua: &Lua, api: &Table, script: &str) -> mlua::Result<()> {
    let source = format!("{script}: thematic.dictionary");
    let dictionary = lua.create_function(move |_, terms: BTreeMap<String, Vec<String>>| {
        let codebook = Codebook {
            source: source.clone(),
            codes: terms
                .into_iter()
                .map(|(id, terms)| Code {
                    id,
                    terms: terms
                        .into_iter()
                        .enumerate()
                        .map(|(i, text)| Term {
                            text,
                            line: i as u64 + 1,
                        })
                        .collect(),
                    ..Code::default()
                })
                .collect(),
        };
        let matcher = DictionaryMatcher::new(&codebook).map_err(|e| mlua::Error::runtime(e.to_string()))?;
        Ok(Dictionary { matcher })
    })?;
    api.set("dictionary", dictionary)
}

struct Dictionary {
    matcher: DictionaryMatcher,
}

/// One term occurrence: its code and 1-based, inclusive byte positions.
struct Found {
    code: usize,
    first: usize,
    last: usize,
}

impl Dictionary {
    fn find(&self, text: &str) -> Vec<Found> {
        let mut folded = FoldedTranscript::default();
        fold_texts(std::iter::once(text), &mut folded);
        let mut hits = Vec::new();
        self.matcher.scan(&folded, |hit| hits.push(hit));
        if hits.is_empty() {
            return Vec::new();
        }
        let starts = folded_starts(text);
        let chars: Vec<(usize, char)> = text.char_indices().collect();
        let byte_of = |char_index: usize| chars.get(char_index).map_or(text.len(), |(byte, _)| *byte);
        hits.into_iter()
            .map(|hit| {
                let start = starts.partition_point(|&s| s <= hit.folded.start) - 1;
                let mut end = starts.partition_point(|&s| s < hit.folded.end);
                while hit.prefix && chars.get(end).is_some_and(|&(_, c)| is_word(c)) {
                    end += 1;
                }
                Found {
                    code: hit.code as usize,
                    first: byte_of(start) + 1,
                    last: byte_of(end),
                }
            })
            .collect()
    }
}

impl UserData for Dictionary {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        // The codes whose terms occur in `text`, sorted.
        methods.add_method("codes", |_, this, text: mlua::LuaString| {
            let text = super::host_text("dictionary:codes", &text)?;
            let mut codes: Vec<&str> = this
                .find(&text)
                .iter()
                .map(|f| this.matcher.codes()[f.code].as_str())
                .collect();
            codes.sort_unstable();
            codes.dedup();
            Ok(codes.into_iter().map(str::to_string).collect::<Vec<_>>())
        });
        // Every occurrence: `{ code = ..., first = ..., last = ... }`, in order of where it ends.
        methods.add_method("find", |lua, this, text: mlua::LuaString| {
            let text = super::host_text("dictionary:find", &text)?;
            let found = lua.create_table()?;
            for f in this.find(&text) {
                let entry = lua.create_table()?;
                entry.set("code", this.matcher.codes()[f.code].as_str())?;
                entry.set("first", f.first)?;
                entry.set("last", f.last)?;
                found.push(entry)?;
            }
            Ok(found)
        });
    }
}
