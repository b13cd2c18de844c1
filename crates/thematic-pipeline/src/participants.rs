use std::collections::HashSet;

use thematic_model::Participant;

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
}
