//! A theme grouper as a native plugin: clusters codes that the same
//! participants put on the same segments.
//!
//! Two codes are associated by how many participants used them together (on
//! one segment) out of the participants who used either (a Jaccard index over
//! participants), counted only when at least `min_shared` participants did.
//! Clusters grow by average linkage: the two clusters whose codes are, on
//! average, most associated merge while that average is at least
//! `min_association`. Each cluster of two or more codes is a candidate theme,
//! named after its two most widely used codes; the review rule then judges it.
//!
//! `params = { min_shared = 2, min_association = 0.5 }` (the defaults).

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use thematic_plugin_api::{export_plugin, GroupRequest, GroupResponse, ResponseTheme};

export_plugin!(name: "cooccurrence-themes", group: group);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default = "default_min_shared")]
    min_shared: usize,
    #[serde(default = "default_min_association")]
    min_association: f64,
}

fn default_min_shared() -> usize {
    2
}

fn default_min_association() -> f64 {
    0.5
}

fn group(request: GroupRequest) -> Result<GroupResponse, String> {
    let params: Params = match &request.params {
        serde_json::Value::Null => serde_json::from_value(serde_json::json!({})),
        value => serde_json::from_value(value.clone()),
    }
    .map_err(|e| format!("params: {e} (it takes min_shared, a count, and min_association, from 0 to 1)"))?;
    if !(0.0..=1.0).contains(&params.min_association) {
        return Err(format!(
            "params.min_association is {}; it must be from 0 to 1",
            params.min_association
        ));
    }

    let users: BTreeMap<&str, BTreeSet<&str>> = request
        .codes
        .iter()
        .map(|(code, used)| (code.as_str(), used.participants.iter().map(String::as_str).collect()))
        .collect();
    let mut association: BTreeMap<(&str, &str), f64> = BTreeMap::new();
    for pair in &request.cooccurrence {
        let (Some(a), Some(b)) = (users.get(pair.a.as_str()), users.get(pair.b.as_str())) else {
            continue;
        };
        let shared = pair.participants.len();
        let either = a.union(b).count();
        if shared >= params.min_shared && either > 0 {
            association.insert(ordered(&pair.a, &pair.b), shared as f64 / either as f64);
        }
    }

    let mut clusters: Vec<Vec<&str>> = users.keys().map(|code| vec![*code]).collect();
    loop {
        let mut best: Option<(f64, usize, usize)> = None;
        for i in 0..clusters.len() {
            for j in i + 1..clusters.len() {
                let linkage = average_linkage(&clusters[i], &clusters[j], &association);
                // Strictly greater: among equals the first pair in name order wins.
                if linkage >= params.min_association && linkage > 0.0 && best.is_none_or(|(b, _, _)| linkage > b) {
                    best = Some((linkage, i, j));
                }
            }
        }
        let Some((_, i, j)) = best else { break };
        let merged = clusters.remove(j);
        clusters[i].extend(merged);
        clusters[i].sort_unstable();
    }

    let reach = |code: &str| users[code].len();
    let mut groups: Vec<(usize, Vec<&str>)> = clusters
        .into_iter()
        .filter(|codes| codes.len() >= 2)
        .map(|mut codes| {
            codes.sort_by(|x, y| reach(y).cmp(&reach(x)).then(x.cmp(y)));
            let covered: BTreeSet<&str> = codes.iter().flat_map(|c| users[c].iter().copied()).collect();
            (covered.len(), codes)
        })
        .collect();
    groups.sort_by(|(x, xs), (y, ys)| y.cmp(x).then(xs[0].cmp(ys[0])));
    let themes = groups
        .into_iter()
        .enumerate()
        .map(|(i, (_, codes))| ResponseTheme {
            id: format!("K{}", i + 1),
            name: format!("{} with {}", codes[0], codes[1]),
            codes: codes.iter().map(|c| c.to_string()).collect(),
            subthemes: Vec::new(),
        })
        .collect();
    Ok(GroupResponse { themes })
}

fn ordered<'a>(a: &'a str, b: &'a str) -> (&'a str, &'a str) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

/// The mean association over every pair of codes across two clusters; pairs
/// never used together count as 0.
fn average_linkage(x: &[&str], y: &[&str], association: &BTreeMap<(&str, &str), f64>) -> f64 {
    let total: f64 = x
        .iter()
        .flat_map(|a| y.iter().map(move |b| ordered(a, b)))
        .map(|pair| association.get(&pair).copied().unwrap_or(0.0))
        .sum();
    total / (x.len() * y.len()) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use thematic_plugin_api::{SummaryCode, SummaryPair};

    fn request(codes: &[(&str, &[&str])], pairs: &[(&str, &str, &[&str])], params: serde_json::Value) -> GroupRequest {
        let people = |ids: &[&str]| ids.iter().map(|p| p.to_string()).collect::<Vec<_>>();
        GroupRequest {
            codes: codes
                .iter()
                .map(|(code, who)| {
                    let used = SummaryCode {
                        segments: who.len(),
                        participants: people(who),
                    };
                    (code.to_string(), used)
                })
                .collect(),
            cooccurrence: pairs
                .iter()
                .map(|(a, b, who)| SummaryPair {
                    a: a.to_string(),
                    b: b.to_string(),
                    segments: who.len(),
                    participants: people(who),
                })
                .collect(),
            params,
        }
    }

    const EVERYONE: &[&str] = &["P1", "P2", "P3", "P4"];

    #[test]
    fn codes_used_together_by_the_same_participants_form_one_theme() {
        let themes = group(request(
            &[
                ("anger", EVERYONE),
                ("trust", EVERYONE),
                ("blame", EVERYONE),
                ("pay", &["P4"]),
            ],
            &[
                ("anger", "trust", &["P1", "P2", "P3"]),
                ("anger", "blame", &["P1", "P2", "P3", "P4"]),
                ("blame", "trust", &["P1", "P2"]),
                ("anger", "pay", &["P4"]),
            ],
            serde_json::Value::Null,
        ))
        .unwrap()
        .themes;
        assert_eq!(themes.len(), 1);
        assert_eq!(themes[0].id, "K1");
        assert_eq!(themes[0].codes, ["anger", "blame", "trust"]);
        assert_eq!(themes[0].name, "anger with blame");
    }

    #[test]
    fn average_linkage_keeps_a_weakly_tied_code_out() {
        // blame–anger is strong; trust ties to anger only, so its average with
        // the pair {anger, blame} is (0.5 + 0) / 2, under the threshold.
        let themes = group(request(
            &[("anger", EVERYONE), ("blame", EVERYONE), ("trust", EVERYONE)],
            &[
                ("anger", "blame", &["P1", "P2", "P3", "P4"]),
                ("anger", "trust", &["P1", "P2"]),
            ],
            serde_json::json!({ "min_association": 0.5 }),
        ))
        .unwrap()
        .themes;
        assert_eq!(themes.len(), 1);
        assert_eq!(themes[0].codes, ["anger", "blame"]);
    }

    #[test]
    fn pairs_shared_by_too_few_participants_do_not_count() {
        let themes = group(request(
            &[("anger", &["P1"]), ("trust", &["P1"])],
            &[("anger", "trust", &["P1"])],
            serde_json::Value::Null,
        ))
        .unwrap()
        .themes;
        assert!(themes.is_empty());
    }

    #[test]
    fn bad_params_are_named() {
        let err = group(request(&[], &[], serde_json::json!({ "min_association": 2.0 }))).unwrap_err();
        assert_eq!(err, "params.min_association is 2; it must be from 0 to 1");
        let err = group(request(&[], &[], serde_json::json!({ "min_shard": 2 }))).unwrap_err();
        assert!(err.contains("unknown field `min_shard`"), "{err}");
    }
}
