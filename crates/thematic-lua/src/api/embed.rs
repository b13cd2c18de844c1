//! Sentence embeddings for scripts, from the model the stage names
//! (`model = "NAME"` on a `lua` coding or themes stage): `thematic.embed`,
//! `thematic.similarity` and `thematic.nearest`, so that a script can build
//! its own coding by meaning. Without a model they say how to give one.
//! The model runs in Rust, outside the script's memory limit; a vector
//! handed to the script is a table of numbers, inside it.

use std::sync::Arc;

use mlua::{Lua, Table, Value};

/// Embeds texts as the stage's model does: each text's vector, of length one.
pub type Embed = Arc<dyn Fn(&[&str]) -> Result<Vec<Vec<f32>>, String> + Send + Sync>;

/// Most texts one call embeds: an embedding takes milliseconds, and a call has seconds.
const MAX_TEXTS: usize = 1_000;

/// Installs the functions in `api`, embedding with `embed`, or refusing to without one.
pub(crate) fn register(lua: &Lua, api: &Table, embed: Option<Embed>) -> mlua::Result<()> {
    let embedding = embed.clone();
    api.set(
        "embed",
        lua.create_function(move |lua, texts: Value| {
            let embed = usable(&embedding, "thematic.embed")?;
            match texts {
                Value::String(text) => {
                    let text = super::host_text("thematic.embed", &text)?;
                    vector_table(lua, &embedded(embed, &[text])?.remove(0))
                }
                Value::Table(list) => {
                    let texts = texts_of(&list)?;
                    let list = lua.create_table()?;
                    for vector in embedded(embed, &texts)? {
                        list.push(vector_table(lua, &vector)?)?;
                    }
                    Ok(list)
                }
                other => Err(mlua::Error::runtime(format!(
                    "thematic.embed: takes a text or a list of texts, not a {}",
                    other.type_name()
                ))),
            }
        })?,
    )?;
    let embedding = embed.clone();
    api.set(
        "similarity",
        lua.create_function(move |_, (a, b): (Value, Value)| {
            let a = vector_of(&embedding, a, "thematic.similarity")?;
            let b = vector_of(&embedding, b, "thematic.similarity")?;
            Ok(f64::from(thematic_embed::cosine(&a, &b)))
        })?,
    )?;
    let embedding = embed;
    api.set(
        "nearest",
        lua.create_function(move |lua, (to, candidates, count): (Value, Table, Option<usize>)| {
            let to = vector_of(&embedding, to, "thematic.nearest")?;
            let mut scored = Vec::new();
            for (index, candidate) in candidates.sequence_values::<Value>().enumerate() {
                let candidate = vector_of(&embedding, candidate?, "thematic.nearest")?;
                scored.push((index + 1, thematic_embed::cosine(&to, &candidate)));
            }
            // Nearest first; equally near, the earlier candidate first.
            scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            let list = lua.create_table()?;
            for (index, similarity) in scored.into_iter().take(count.unwrap_or(1)) {
                let entry = lua.create_table()?;
                entry.set("index", index)?;
                entry.set("similarity", f64::from(similarity))?;
                list.push(entry)?;
            }
            Ok(list)
        })?,
    )
}

fn usable<'e>(embed: &'e Option<Embed>, function: &str) -> mlua::Result<&'e Embed> {
    embed.as_ref().ok_or_else(|| {
        mlua::Error::runtime(format!(
            "{function}: this stage names no model; give it one with `model = \"NAME\"` in thematic.toml"
        ))
    })
}

fn texts_of(list: &Table) -> mlua::Result<Vec<String>> {
    let texts: Vec<String> = list
        .sequence_values::<mlua::LuaString>()
        .map(|text| super::host_text("thematic.embed", &text?))
        .collect::<mlua::Result<_>>()?;
    if texts.len() > MAX_TEXTS {
        return Err(mlua::Error::runtime(format!(
            "thematic.embed: {} texts in one call; at most {MAX_TEXTS}",
            texts.len()
        )));
    }
    Ok(texts)
}

fn embedded(embed: &Embed, texts: &[String]) -> mlua::Result<Vec<Vec<f32>>> {
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    embed(&texts).map_err(|e| mlua::Error::runtime(format!("thematic.embed: {e}")))
}

fn vector_table(lua: &Lua, vector: &[f32]) -> mlua::Result<Table> {
    lua.create_sequence_from(vector.iter().map(|&x| f64::from(x)))
}

/// A vector the script gave (a table of numbers), or a text's embedding.
fn vector_of(embed: &Option<Embed>, value: Value, function: &str) -> mlua::Result<Vec<f32>> {
    match value {
        Value::String(text) => {
            let text = super::host_text(function, &text)?;
            Ok(embedded(usable(embed, function)?, &[text])?.remove(0))
        }
        Value::Table(numbers) => numbers.sequence_values::<f64>().map(|x| x.map(|x| x as f32)).collect(),
        other => Err(mlua::Error::runtime(format!(
            "{function}: takes a text or a vector (a table of numbers), not a {}",
            other.type_name()
        ))),
    }
}
