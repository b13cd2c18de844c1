//! Themes as the researcher shapes them in the workbench: a theme (or
//! sub-theme) created or renamed, a code moved into a theme, a theme into a
//! discussion area, an area created. Each change is made to the text of
//! `thematic.toml` in place (toml_edit: comments, order and layout kept) and
//! the result checked as a configuration; a change that would leave it
//! invalid is refused. Pure: text in, text out.

use thematic_config::{StudyConfig, CONFIG_FILE};
use thematic_model::{DeskError, ThemeChange};
use toml_edit::{value, Array, ArrayOfTables, DocumentMut, Item, Table, TableLike, Value};

/// `text` (of `thematic.toml`) with `change` made, and what was done, in
/// words. `codes` are the study's codes, which alone can go into a theme.
pub fn shaped(text: &str, change: &ThemeChange, codes: &[&str]) -> Result<(String, String), DeskError> {
    let mut document: DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| DeskError::Refused(format!("{CONFIG_FILE} cannot be read: {e}")))?;
    if let ThemeChange::NewTheme { name, .. }
    | ThemeChange::RenameTheme { name, .. }
    | ThemeChange::NewArea { name, .. } = change
    {
        if name.trim().is_empty() {
            return Err(DeskError::Refused("give it a name".into()));
        }
    }
    let said = match change {
        ThemeChange::NewTheme { id, name, parent } => new_theme(&mut document, id, name, parent.as_deref())?,
        ThemeChange::RenameTheme { id, name } => {
            let mut found = false;
            each_theme(&mut document, &mut |theme, _| {
                if theme_id(theme) == Some(id.as_str()) {
                    set_string(theme, "name", name);
                    found = true;
                }
            });
            if !found {
                return Err(no_theme(id));
            }
            format!("renamed theme `{id}` to “{name}”")
        }
        ThemeChange::MoveCode { code, to } => {
            if !codes.contains(&code.as_str()) {
                return Err(DeskError::NotFound(format!(
                    "`{code}` is not a code of the study's codebooks"
                )));
            }
            move_code(&mut document, code, to.as_deref())?
        }
        ThemeChange::MoveTheme { theme, area } => move_theme(&mut document, theme, area.as_deref())?,
        ThemeChange::NewArea { id, name } => {
            checked_id(id, "an area")?;
            if tables(&mut document, "areas")
                .iter()
                .any(|area| theme_id(*area) == Some(id.as_str()))
            {
                return Err(DeskError::Refused(format!("an area `{id}` is already there")));
            }
            let mut area = Table::new();
            area["id"] = value(id.as_str());
            area["name"] = value(name.as_str());
            area["themes"] = value(Array::new());
            array_of_tables(&mut document, "areas")?.push(area);
            format!("added discussion area `{id}`, “{name}”")
        }
    };
    let new_text = document.to_string();
    let config =
        StudyConfig::parse(CONFIG_FILE, &new_text).map_err(|e| DeskError::Refused(format!("not changed: {e}")))?;
    // What toml_edit cannot write out is dropped without a word: a new theme must be there to be said added.
    if let ThemeChange::NewTheme { id, .. } = change {
        if !config.all_themes().iter().any(|t| t.id.get_ref() == id) {
            return Err(DeskError::Refused(format!(
                "`{id}` could not be written into {CONFIG_FILE} as it is laid out; add it by hand"
            )));
        }
    }
    Ok((new_text, said))
}

fn new_theme(document: &mut DocumentMut, id: &str, name: &str, parent: Option<&str>) -> Result<String, DeskError> {
    checked_id(id, "a theme")?;
    if has_theme(document, id) {
        return Err(DeskError::Refused(format!("a theme `{id}` is already there")));
    }
    let mut theme = Table::new();
    theme["id"] = value(id);
    theme["name"] = value(name);
    theme["codes"] = value(Array::new());
    let Some(parent) = parent else {
        array_of_tables(document, "themes")?.push(theme);
        return Ok(format!("added theme `{id}`, “{name}”"));
    };
    let mut placed = Err(no_theme(parent));
    each_theme(document, &mut |under, inline| {
        if theme_id(under) == Some(parent) && placed.is_err() {
            placed = add_subtheme(under, inline, theme.clone());
        }
    });
    placed.map(|()| format!("added sub-theme `{id}`, “{name}”, under `{parent}`"))
}

/// Puts `theme` among `under`'s sub-themes, written as they already are
/// (`[[themes.subthemes]]` tables, or an inline list); under a theme written
/// inline, an inline list (a table cannot be written inside one).
fn add_subtheme(under: &mut dyn TableLike, inline: bool, theme: Table) -> Result<(), DeskError> {
    let empty = match inline {
        true => Item::Value(Value::Array(Array::new())),
        false => Item::ArrayOfTables(ArrayOfTables::new()),
    };
    let subthemes = under.entry("subthemes").or_insert(empty);
    match subthemes {
        Item::ArrayOfTables(tables) => tables.push(theme),
        Item::Value(Value::Array(list)) => list.push(theme.into_inline_table()),
        _ => return Err(not_as_expected("subthemes")),
    }
    Ok(())
}

fn move_code(document: &mut DocumentMut, code: &str, to: Option<&str>) -> Result<String, DeskError> {
    let mut found = to.is_none();
    each_theme(document, &mut |theme, _| {
        let into = to.is_some_and(|to| theme_id(theme) == Some(to));
        found |= into;
        move_member(theme, "codes", code, into);
    });
    match to {
        _ if !found => Err(no_theme(to.unwrap_or_default())),
        Some(to) => Ok(format!("moved code `{code}` into theme `{to}`")),
        None => Ok(format!("took code `{code}` out of every theme")),
    }
}

fn move_theme(document: &mut DocumentMut, theme: &str, area: Option<&str>) -> Result<String, DeskError> {
    if !has_theme(document, theme) {
        return Err(no_theme(theme));
    }
    let mut found = area.is_none();
    for table in tables(document, "areas") {
        let into = area.is_some_and(|area| theme_id(table) == Some(area));
        found |= into;
        move_member(table, "themes", theme, into);
    }
    match area {
        Some(area) if !found => Err(DeskError::NotFound(format!("{CONFIG_FILE} has no area `{area}`"))),
        Some(area) => Ok(format!("moved theme `{theme}` into area `{area}`")),
        None => Ok(format!("took theme `{theme}` out of every area")),
    }
}

/// Takes `member` out of `table`'s list `key`, and, `into` it, puts it at the end.
fn move_member(table: &mut dyn TableLike, key: &str, member: &str, into: bool) {
    if let Some(list) = table.get_mut(key).and_then(Item::as_array_mut) {
        list.retain(|m| m.as_str() != Some(member));
    }
    if !into {
        return;
    }
    match table.get_mut(key).and_then(Item::as_array_mut) {
        Some(list) => list.push(member),
        None => {
            table.insert(key, value(Array::from_iter([member])));
        }
    }
}

/// Whether `document` defines a theme or sub-theme `id`.
fn has_theme(document: &mut DocumentMut, id: &str) -> bool {
    let mut found = false;
    each_theme(document, &mut |theme, _| found |= theme_id(theme) == Some(id));
    found
}

/// Calls `visit` with every theme and sub-theme `document` defines, depth
/// first, and whether it is written inline.
fn each_theme(document: &mut DocumentMut, visit: &mut dyn FnMut(&mut dyn TableLike, bool)) {
    if let Some(themes) = document.get_mut("themes") {
        each_theme_in(themes, visit);
    }
}

fn each_theme_in(item: &mut Item, visit: &mut dyn FnMut(&mut dyn TableLike, bool)) {
    let mut visit_one = |theme: &mut dyn TableLike, inline: bool| {
        visit(theme, inline);
        if let Some(subthemes) = theme.get_mut("subthemes") {
            each_theme_in(subthemes, visit);
        }
    };
    match item {
        Item::ArrayOfTables(themes) => themes.iter_mut().for_each(|t| visit_one(t, false)),
        Item::Value(Value::Array(themes)) => themes
            .iter_mut()
            .filter_map(Value::as_inline_table_mut)
            .for_each(|t| visit_one(t, true)),
        _ => {}
    }
}

/// The tables of `[[key]]`, none where there are none.
fn tables<'d>(document: &'d mut DocumentMut, key: &str) -> Vec<&'d mut Table> {
    document
        .get_mut(key)
        .and_then(Item::as_array_of_tables_mut)
        .map(|tables| tables.iter_mut().collect())
        .unwrap_or_default()
}

fn array_of_tables<'d>(document: &'d mut DocumentMut, key: &str) -> Result<&'d mut ArrayOfTables, DeskError> {
    crate::import::array_of_tables(document, key).map_err(|e| DeskError::Refused(format!("{e:#}")))
}

fn theme_id(theme: &dyn TableLike) -> Option<&str> {
    theme.get("id").and_then(Item::as_str)
}

/// Sets `key` to `text`, keeping the spaces and comment around the old value.
fn set_string(table: &mut dyn TableLike, key: &str, text: &str) {
    match table.get_mut(key).and_then(Item::as_value_mut) {
        Some(old) => {
            let decor = old.decor().clone();
            *old = Value::from(text);
            *old.decor_mut() = decor;
        }
        None => {
            table.insert(key, value(text));
        }
    }
}

/// An id a person gives a new theme or area (`what`: "a theme"): something
/// to type, with no spaces (ids are written in lists and reports).
fn checked_id(id: &str, what: &str) -> Result<(), DeskError> {
    if id.is_empty() || id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(DeskError::Refused(format!(
            "`{id}` cannot be {what}'s id: give one without spaces, such as T13"
        )));
    }
    Ok(())
}

fn no_theme(id: &str) -> DeskError {
    DeskError::NotFound(format!("{CONFIG_FILE} defines no theme `{id}`"))
}

fn not_as_expected(key: &str) -> DeskError {
    DeskError::Refused(format!(
        "`{key}` in {CONFIG_FILE} is not written as a list of tables; change it by hand"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const STUDY: &str = r#"# The study's own comment stays.
[study]
name = "Shaping"

[[codebooks]]
name = "book"
file = "codebook.csv"

[[stages]]
name = "code"
kind = "coding"
strategy = "dictionary"
codebook = "book"

[[themes]]
id = "T1"
name = "Support" # named in week 2
codes = ["help", "peers"]

[[themes.subthemes]]
id = "T1a"
name = "From peers"
codes = []

[[themes]]
id = "T2"
name = "Risk"
codes = ["risk"]
subthemes = [{ id = "T2a", name = "Inline", codes = [] }]

[[areas]]
id = "A1"
name = "Practice"
themes = ["T1"]
"#;

    const CODES: &[&str] = &["help", "peers", "risk", "time"];

    fn shape(change: ThemeChange) -> Result<String, DeskError> {
        shaped(STUDY, &change, CODES).map(|(text, _)| text)
    }

    #[test]
    fn each_change_is_made_in_place_with_comments_and_order_kept() {
        let renamed = shape(ThemeChange::RenameTheme {
            id: "T1".into(),
            name: "Support at work".into(),
        })
        .unwrap();
        assert!(
            renamed.contains("name = \"Support at work\" # named in week 2\n"),
            "{renamed}"
        );
        assert!(renamed.starts_with("# The study's own comment stays.\n"));

        let moved = shape(ThemeChange::MoveCode {
            code: "peers".into(),
            to: Some("T1a".into()),
        })
        .unwrap();
        assert!(moved.contains("codes = [\"help\"]\n"), "{moved}");
        assert!(
            moved.contains("name = \"From peers\"\ncodes = [\"peers\"]\n"),
            "{moved}"
        );

        let into_inline = shape(ThemeChange::MoveCode {
            code: "time".into(),
            to: Some("T2a".into()),
        })
        .unwrap();
        assert!(
            into_inline.contains("{ id = \"T2a\", name = \"Inline\", codes = [\"time\"] }"),
            "{into_inline}"
        );

        let sub = shape(ThemeChange::NewTheme {
            id: "T2b".into(),
            name: "Second".into(),
            parent: Some("T2".into()),
        })
        .unwrap();
        let config = StudyConfig::parse(CONFIG_FILE, &sub).unwrap();
        let ids: Vec<&str> = config.all_themes().iter().map(|t| t.id.get_ref().as_str()).collect();
        assert_eq!(ids, ["T1", "T1a", "T2", "T2a", "T2b"]);

        let under_inline = shaped(
            "themes = [{ id = \"T1\", name = \"One\", codes = [] }]\n\n[study]\nname = \"x\"\n",
            &ThemeChange::NewTheme {
                id: "T1a".into(),
                name: "Sub".into(),
                parent: Some("T1".into()),
            },
            CODES,
        )
        .unwrap()
        .0;
        let config = StudyConfig::parse(CONFIG_FILE, &under_inline).unwrap();
        let ids: Vec<&str> = config.all_themes().iter().map(|t| t.id.get_ref().as_str()).collect();
        assert_eq!(
            ids,
            ["T1", "T1a"],
            "a sub-theme under a theme written inline: {under_inline}"
        );

        let area = shape(ThemeChange::NewArea {
            id: "A2".into(),
            name: "Policy".into(),
        })
        .unwrap();
        let (text, said) = shaped(
            &area,
            &ThemeChange::MoveTheme {
                theme: "T1".into(),
                area: Some("A2".into()),
            },
            CODES,
        )
        .unwrap();
        assert_eq!(said, "moved theme `T1` into area `A2`");
        let config = StudyConfig::parse(CONFIG_FILE, &text).unwrap();
        let areas: Vec<(&str, Vec<&str>)> = config
            .study
            .areas
            .iter()
            .map(|a| {
                (
                    a.id.get_ref().as_str(),
                    a.themes.iter().map(|t| t.get_ref().as_str()).collect(),
                )
            })
            .collect();
        assert_eq!(areas, [("A1", vec![]), ("A2", vec!["T1"])]);
    }

    #[test]
    fn a_change_naming_what_is_not_there_or_leaving_the_study_invalid_is_refused() {
        let refused = [
            ThemeChange::RenameTheme {
                id: "T9".into(),
                name: "x".into(),
            },
            ThemeChange::MoveCode {
                code: "nope".into(),
                to: Some("T1".into()),
            },
            ThemeChange::MoveCode {
                code: "help".into(),
                to: Some("T9".into()),
            },
            ThemeChange::MoveTheme {
                theme: "T1".into(),
                area: Some("A9".into()),
            },
            ThemeChange::NewTheme {
                id: "T1a".into(),
                name: "taken".into(),
                parent: None,
            },
            ThemeChange::NewTheme {
                id: "with space".into(),
                name: "x".into(),
                parent: None,
            },
            ThemeChange::NewTheme {
                id: "T3".into(),
                name: "x".into(),
                parent: Some("T9".into()),
            },
            ThemeChange::NewArea {
                id: "A1".into(),
                name: "again".into(),
            },
        ];
        for change in refused {
            assert!(shape(change.clone()).is_err(), "{change:?} is refused");
        }
        let broken = "[study\nname = 1";
        assert!(matches!(
            shaped(
                broken,
                &ThemeChange::NewArea {
                    id: "A1".into(),
                    name: "x".into()
                },
                CODES
            ),
            Err(DeskError::Refused(_))
        ));
    }
}
