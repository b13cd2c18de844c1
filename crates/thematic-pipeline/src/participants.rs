use std::collections::HashSet;

use thematic_model::Participant;

/// Reads participants from TOML: a table per participant, named by the id,
/// holding the attributes (`[P1]` then `tier = "Tier 2"`). Values that are
/// not text (numbers, true/false) are taken as written; a value that is a
/// table or a list is reported as `file:line: message` and left out.
pub fn participants_from_toml(file: &str, text: &str) -> (Vec<Participant>, Vec<String>) {
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let table: toml::Spanned<toml::Table> = match toml::from_str(text) {
        Ok(table) => table,
        Err(e) => {
            let line = e.span().map_or(1, |span| line_of(span.start));
            return (Vec::new(), vec![format!("{file}:{line}: {}", e.message())]);
        }
    };
    let mut participants = Vec::new();
    let mut problems = Vec::new();
    for (id, value) in table.into_inner() {
        let Some(attributes) = value.as_table() else {
            problems.push(format!(
                "{file}: participant `{id}` is not a table of attributes (write `[{id}]` above them)"
            ));
            continue;
        };
        let mut kept = Vec::new();
        for (name, value) in attributes {
            match value {
                toml::Value::String(text) => kept.push((name.clone(), text.clone())),
                toml::Value::Table(_) | toml::Value::Array(_) => problems.push(format!(
                    "{file}: participant `{id}`: attribute `{name}` must be one value, not a table or a list"
                )),
                other => kept.push((name.clone(), other.to_string())),
            }
        }
        participants.push(Participant { id, attributes: kept });
    }
    (participants, problems)
}

/// Reads participants from CSV: the first column is the participant id, any
/// further columns are attributes named by the header. Rows with a problem
/// (an empty or repeated id, a broken row) are left out and reported as
/// `file:line: message`; the rest are kept.
pub fn participants_from_csv(file: &str, text: &str) -> (Vec<Participant>, Vec<String>) {
    let mut problems = Vec::new();
    let mut participants: Vec<Participant> = Vec::new();
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let headers = match reader.headers() {
        Ok(headers) => headers.clone(),
        Err(e) => return (participants, vec![format!("{file}:1: {e}")]),
    };
    if headers.is_empty() || headers.iter().all(str::is_empty) {
        return (
            participants,
            vec![format!(
                "{file}:1: no header row (expected `participant,attribute,...`)"
            )],
        );
    }
    let mut seen = HashSet::new();
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                problems.push(format!("{file}:{}: {e}", e.position().map_or(0, |p| p.line())));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(str::is_empty) {
            continue;
        }
        let id = record.get(0).unwrap_or("");
        if id.is_empty() {
            problems.push(format!("{file}:{line}: the participant id (first column) is empty"));
            continue;
        }
        if !seen.insert(id.to_string()) {
            problems.push(format!(
                "{file}:{line}: participant `{id}` is listed twice; the first row is kept"
            ));
            continue;
        }
        if record.len() != headers.len() {
            problems.push(format!(
                "{file}:{line}: participant `{id}` has {} values for {} columns",
                record.len(),
                headers.len()
            ));
        }
        participants.push(Participant {
            id: id.to_string(),
            attributes: headers
                .iter()
                .skip(1)
                .zip(record.iter().skip(1))
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect(),
        });
    }
    (participants, problems)
}

/// `text` (a participants TOML file) without participant `id`'s table: from
/// its `[id]` line to the next table's, every other byte as it was; `None`
/// when no table is theirs.
pub fn without_participant_toml(text: &str, id: &str) -> Option<String> {
    let header = |line: &str| {
        let inside = line.trim().strip_prefix('[')?.strip_suffix(']')?.trim();
        Some(inside.trim_matches(['"', '\'']).to_string())
    };
    let mut kept = String::with_capacity(text.len());
    let mut theirs = false;
    let mut found = false;
    for line in text.split_inclusive('\n') {
        if let Some(name) = header(line) {
            theirs = name == id;
            found |= theirs;
        }
        if !theirs {
            kept.push_str(line);
        }
    }
    found.then_some(kept)
}

/// `text` (a participants CSV) without the rows of participant `id`, every
/// other byte as it was; `None` when no row is theirs.
pub fn without_participant(text: &str, id: &str) -> Option<String> {
    // Byte offsets are taken on the text as given, so the reader sees the BOM too
    // (it is part of the header row, never of a participant's row).
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut starts: Vec<(usize, bool)> = Vec::new();
    let mut record = csv::StringRecord::new();
    // The header row is never a participant's.
    reader.headers().ok()?;
    loop {
        let mut start = reader.position().byte() as usize;
        // After a `\r\n` row end the reader stands on the `\n`, which belongs to the row before.
        if text.as_bytes().get(start) == Some(&b'\n') && start > 0 && text.as_bytes()[start - 1] == b'\r' {
            start += 1;
        }
        match reader.read_record(&mut record) {
            Ok(true) => starts.push((start, record.get(0) == Some(id))),
            Ok(false) => break,
            // A row the reader cannot take is not theirs; keep it as it is.
            Err(_) => starts.push((start, false)),
        }
    }
    if !starts.iter().any(|&(_, theirs)| theirs) {
        return None;
    }
    let mut kept = String::with_capacity(text.len());
    let header_end = starts.first().map_or(text.len(), |&(start, _)| start);
    kept.push_str(&text[..header_end]);
    for (i, &(start, theirs)) in starts.iter().enumerate() {
        let end = starts.get(i + 1).map_or(text.len(), |&(next, _)| next);
        if !theirs {
            kept.push_str(&text[start..end]);
        }
    }
    Some(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_follow_the_header() {
        let (people, problems) =
            participants_from_csv("p.csv", "participant,gender,tier\nP1,Male,Tier 2\nP2,Female,Tier 1\n");
        assert!(problems.is_empty());
        assert_eq!(people[1].id, "P2");
        assert_eq!(
            people[1].attributes,
            [("gender".into(), "Female".into()), ("tier".into(), "Tier 1".into())]
        );
    }

    #[test]
    fn duplicate_and_empty_ids_are_reported_with_their_line() {
        let (people, problems) = participants_from_csv("p.csv", "id,tier\nP1,a\n,b\nP1,c\nP2,d\n");
        assert_eq!(people.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), ["P1", "P2"]);
        assert_eq!(people[0].attributes[0].1, "a", "the first row wins");
        assert_eq!(
            problems,
            [
                "p.csv:3: the participant id (first column) is empty",
                "p.csv:4: participant `P1` is listed twice; the first row is kept"
            ]
        );
    }

    #[test]
    fn a_withdrawn_participants_row_leaves_and_every_other_byte_stays() {
        let text = "participant,role\r\nP1,\"Lead, north\"\r\nP9,Manager\r\nP10,\"Two\nlines\"\r\n";
        assert_eq!(
            without_participant(text, "P9").unwrap(),
            "participant,role\r\nP1,\"Lead, north\"\r\nP10,\"Two\nlines\"\r\n"
        );
        assert_eq!(
            without_participant(text, "P10").unwrap(),
            "participant,role\r\nP1,\"Lead, north\"\r\nP9,Manager\r\n"
        );
        assert_eq!(
            without_participant(text, "P1").unwrap(),
            "participant,role\r\nP9,Manager\r\nP10,\"Two\nlines\"\r\n"
        );
        assert_eq!(
            without_participant("participant,role\nP1,Lead", "P1").unwrap(),
            "participant,role\n"
        );
        assert_eq!(without_participant(text, "P1 ").map(|_| ()), None);
        assert_eq!(without_participant(text, "participant"), None);
    }

    #[test]
    fn participants_come_from_toml_tables() {
        let text = "[P1]\ntier = \"Tier 2\"\nyears = 4\n\n[\"P 2\"]\ntier = \"Tier 3\"\nlist = [1]\n";
        let (participants, problems) = participants_from_toml("people.toml", text);
        assert_eq!(participants[0].id, "P 2");
        assert_eq!(
            participants[1].attributes,
            vec![("tier".into(), "Tier 2".into()), ("years".into(), "4".into())]
        );
        assert_eq!(
            problems,
            ["people.toml: participant `P 2`: attribute `list` must be one value, not a table or a list"]
        );
        let (_, problems) = participants_from_toml("people.toml", "[P1]\ntier = \n");
        assert!(problems[0].starts_with("people.toml:2: "), "{problems:?}");
        assert_eq!(
            without_participant_toml(text, "P1").as_deref(),
            Some("[\"P 2\"]\ntier = \"Tier 3\"\nlist = [1]\n")
        );
        assert_eq!(without_participant_toml(text, "P9"), None);
    }
}
