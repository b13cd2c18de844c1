//! Codes learnt from a person's coded sentences, and how far what was learnt
//! agrees with that person.
//!
//! Each code gets a linear classifier over sentence embeddings: ridge
//! regression onto 1 for the person's sentences carrying the code and 0 for
//! the rest, the code's sentences weighted so that both sides count alike (a
//! code is rare among a transcript's sentences). A sentence carries the code
//! when its score reaches [`THRESHOLD`]. Chosen by measurement (see
//! docs/benchmarks.md): on the evaluation set it agrees with the labels as
//! well as logistic regression and better than nearest examples, a centroid
//! or k nearest neighbours, and it is solved in closed form, so it is
//! deterministic and cheap enough to be fitted again for every fold of the
//! cross-validation.
//!
//! Agreement is measured by cross-validation across transcripts: the
//! transcripts are dealt into [`FOLDS`] parts, and each part's sentences are
//! coded by classifiers fitted on the other parts only.

use std::collections::BTreeMap;

use thematic_model::LearntCode;
use thematic_pipeline::Decisions;

use crate::cosine;

/// A code needs this many of the person's sentences to be learnt.
pub const MIN_EXAMPLES: usize = 3;
/// A sentence carries a code when its score reaches this (halfway between
/// the targets of sentences with and without it).
pub const THRESHOLD: f32 = 0.5;
/// How strongly the weights are pulled towards zero (chosen on the evaluation set).
const RIDGE: f64 = 3.0;
/// The parts the transcripts are dealt into for cross-validation, at most.
pub const FOLDS: usize = 5;

/// A sentence the person decided on.
pub struct Decided<'a> {
    /// The transcript's place among the person's transcripts; none for what
    /// the codebook says a code means, which is never held out.
    pub transcript: Option<usize>,
    pub text: &'a str,
    pub embedding: &'a [f32],
    /// Indices into the codes being learnt.
    pub codes: Vec<usize>,
}

/// A code's classifier: a score is the weights' product with an embedding, plus the bias.
#[derive(Debug, Clone)]
pub struct Classifier {
    weights: Vec<f32>,
    bias: f32,
}

impl Classifier {
    pub fn score(&self, embedding: &[f32]) -> f32 {
        self.bias + self.weights.iter().zip(embedding).map(|(w, x)| w * x).sum::<f32>()
    }
}

/// Sums over sentences that every code's fit shares: the products of each
/// pair of an embedding's components, the embedding extended by a 1 for the bias.
#[derive(Clone)]
struct Gram {
    size: usize,
    sums: Vec<f64>,
    count: usize,
}

impl Gram {
    fn new(dimension: usize) -> Gram {
        let size = dimension + 1;
        Gram {
            size,
            sums: vec![0.0; size * size],
            count: 0,
        }
    }

    fn add(&mut self, embedding: &[f32], weight: f64) {
        let extended: Vec<f64> = embedding.iter().map(|&x| f64::from(x)).chain([1.0]).collect();
        for (i, &xi) in extended.iter().enumerate() {
            let row = &mut self.sums[i * self.size..(i + 1) * self.size];
            for (sum, &xj) in row.iter_mut().zip(&extended) {
                *sum += weight * xi * xj;
            }
        }
        self.count += 1;
    }

    fn without(&self, part: &Gram) -> Gram {
        Gram {
            size: self.size,
            sums: self.sums.iter().zip(&part.sums).map(|(a, b)| a - b).collect(),
            count: self.count - part.count,
        }
    }
}

/// Fits one code's classifier: `all` sums over every training sentence,
/// `positives` are the embeddings of those carrying the code.
fn fit(all: &Gram, positives: &[&[f32]]) -> Classifier {
    let size = all.size;
    let negatives = all.count - positives.len();
    // The code's sentences count as much, together, as all the others.
    let weight = negatives.max(1) as f64 / positives.len() as f64;
    let mut extra = Gram::new(size - 1);
    let mut target = vec![0.0; size];
    for embedding in positives {
        extra.add(embedding, weight - 1.0);
        for (t, x) in target
            .iter_mut()
            .zip(embedding.iter().map(|&x| f64::from(x)).chain([1.0]))
        {
            *t += weight * x;
        }
    }
    let mut matrix: Vec<f64> = all.sums.iter().zip(&extra.sums).map(|(a, b)| a + b).collect();
    // The bias (last) is not pulled towards zero.
    for i in 0..size - 1 {
        matrix[i * size + i] += RIDGE;
    }
    let solution = solve_positive_definite(matrix, size, target);
    Classifier {
        weights: solution[..size - 1].iter().map(|&w| w as f32).collect(),
        bias: solution[size - 1] as f32,
    }
}

/// Solves `matrix · x = target` for a symmetric positive definite `matrix`
/// (`size` × `size`, by rows), by its Cholesky factor. One small solve per
/// code and fold, so it is written here rather than taken from a linear
/// algebra crate.
fn solve_positive_definite(mut matrix: Vec<f64>, size: usize, mut target: Vec<f64>) -> Vec<f64> {
    // The factor L overwrites the lower triangle: matrix = L·Lᵀ.
    for j in 0..size {
        let mut diagonal = matrix[j * size + j];
        for k in 0..j {
            diagonal -= matrix[j * size + k] * matrix[j * size + k];
        }
        // Positive by construction (the ridge on the weights, the weights of
        // the sentences on the bias); the floor guards only against rounding.
        let pivot = diagonal.max(f64::MIN_POSITIVE).sqrt();
        matrix[j * size + j] = pivot;
        for i in j + 1..size {
            let mut value = matrix[i * size + j];
            for k in 0..j {
                value -= matrix[i * size + k] * matrix[j * size + k];
            }
            matrix[i * size + j] = value / pivot;
        }
    }
    // L·y = target, then Lᵀ·x = y.
    for i in 0..size {
        for k in 0..i {
            target[i] -= matrix[i * size + k] * target[k];
        }
        target[i] /= matrix[i * size + i];
    }
    for i in (0..size).rev() {
        for k in i + 1..size {
            target[i] -= matrix[k * size + i] * target[k];
        }
        target[i] /= matrix[i * size + i];
    }
    target
}

/// Codes learnt from a person: a classifier for each code with enough
/// examples, and the examples themselves (a coding names those nearest to it).
pub struct Learnt {
    pub codes: Vec<LearntCodeModel>,
}

pub struct LearntCodeModel {
    pub id: String,
    /// `None` when the person gave the code too few sentences.
    pub classifier: Option<Classifier>,
    /// The person's sentences carrying the code, with their embeddings.
    pub examples: Vec<(String, Vec<f32>)>,
}

impl LearntCodeModel {
    /// The `count` examples nearest to `embedding`, nearest first, with their similarity.
    pub fn nearest_examples(&self, embedding: &[f32], count: usize) -> Vec<(&str, f32)> {
        let mut near: Vec<(&str, f32)> = self
            .examples
            .iter()
            .map(|(text, example)| (text.as_str(), cosine(embedding, example)))
            .collect();
        near.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        near.truncate(count);
        near
    }
}

/// Learns each of `codes` from the person's `decided` sentences (of
/// `transcripts` transcripts), and measures by cross-validation how far the
/// classifiers agree with the person.
pub fn learn(
    codes: &[String],
    decided: &[Decided],
    transcripts: usize,
    dimension: usize,
) -> (Learnt, Vec<LearntCode>, usize) {
    let positives = |code: usize, keep: &dyn Fn(&Decided) -> bool| -> Vec<&[f32]> {
        decided
            .iter()
            .filter(|d| d.codes.contains(&code) && keep(d))
            .map(|d| d.embedding)
            .collect()
    };
    let folds = if transcripts >= 2 { transcripts.min(FOLDS) } else { 0 };
    let fold_of = |d: &Decided| d.transcript.map(|t| t % folds.max(1));
    let mut parts = vec![Gram::new(dimension); folds.max(1)];
    let mut all = Gram::new(dimension);
    for d in decided {
        all.add(d.embedding, 1.0);
        if let Some(fold) = fold_of(d) {
            parts[fold].add(d.embedding, 1.0);
        }
    }
    let mut held_out: BTreeMap<usize, Decisions> = BTreeMap::new();
    for (fold, part) in parts.iter().enumerate().take(folds) {
        let training = all.without(part);
        for code in 0..codes.len() {
            let examples = positives(code, &|d| fold_of(d) != Some(fold));
            let persons = decided
                .iter()
                .filter(|d| d.transcript.is_some() && fold_of(d) != Some(fold) && d.codes.contains(&code))
                .count();
            // With too few of the person's examples in the other parts the stage would not code it.
            let classifier = (persons >= MIN_EXAMPLES).then(|| fit(&training, &examples));
            let decisions = held_out.entry(code).or_default();
            for d in decided.iter().filter(|d| fold_of(d) == Some(fold)) {
                let coded = classifier.as_ref().is_some_and(|c| c.score(d.embedding) >= THRESHOLD);
                decisions.add(d.codes.contains(&code), coded);
            }
        }
    }
    let mut models = Vec::with_capacity(codes.len());
    let mut measured = Vec::with_capacity(codes.len());
    for (code, id) in codes.iter().enumerate() {
        let persons: Vec<&Decided> = decided
            .iter()
            .filter(|d| d.transcript.is_some() && d.codes.contains(&code))
            .collect();
        let learnt = persons.len() >= MIN_EXAMPLES;
        let decisions = held_out.get(&code).filter(|_| learnt && folds > 0);
        measured.push(LearntCode {
            code: id.clone(),
            examples: persons.len(),
            learnt,
            agreement: decisions.and_then(Decisions::agreement),
            precision: decisions.and_then(Decisions::precision),
            recall: decisions.and_then(Decisions::recall),
        });
        models.push(LearntCodeModel {
            id: id.clone(),
            classifier: learnt.then(|| fit(&all, &positives(code, &|_| true))),
            examples: persons
                .iter()
                .map(|d| (d.text.to_string(), d.embedding.to_vec()))
                .collect(),
        });
    }
    (Learnt { codes: models }, measured, folds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_solver_solves_a_symmetric_positive_definite_system() {
        // [[4, 2, 0], [2, 5, 1], [0, 1, 3]] · [1, -1, 2] = [2, -1, 5]
        let matrix = vec![4.0, 2.0, 0.0, 2.0, 5.0, 1.0, 0.0, 1.0, 3.0];
        let solution = solve_positive_definite(matrix, 3, vec![2.0, -1.0, 5.0]);
        for (found, expected) in solution.iter().zip([1.0, -1.0, 2.0]) {
            assert!((found - expected).abs() < 1e-12, "{solution:?}");
        }
    }

    /// Two-dimensional "embeddings": the code's sentences point one way, the rest another.
    fn decided<'a>(points: &'a [(usize, [f32; 2], bool)]) -> Vec<Decided<'a>> {
        points
            .iter()
            .map(|(transcript, embedding, coded)| Decided {
                transcript: Some(*transcript),
                text: if *coded { "coded" } else { "left" },
                embedding,
                codes: if *coded { vec![0] } else { vec![] },
            })
            .collect()
    }

    #[test]
    fn a_code_is_learnt_from_its_examples_and_scored_only_on_transcripts_held_out() {
        let points: Vec<(usize, [f32; 2], bool)> = (0..10)
            .flat_map(|t| [(t, [1.0, 0.1], true), (t, [0.1, 1.0], false), (t, [0.2, 0.9], false)])
            .collect();
        let (learnt, measured, folds) = learn(&["trust".to_string()], &decided(&points), 10, 2);
        assert_eq!(folds, FOLDS);
        let classifier = learnt.codes[0].classifier.as_ref().unwrap();
        assert!(classifier.score(&[0.9, 0.2]) >= THRESHOLD);
        assert!(classifier.score(&[0.1, 0.95]) < THRESHOLD);
        let code = &measured[0];
        assert_eq!((code.examples, code.learnt), (10, true));
        let agreement = code.agreement.unwrap();
        // Every sentence scored once, each by classifiers that never saw its transcript.
        assert_eq!(agreement.units, 30);
        assert_eq!(
            (agreement.kappa, code.precision, code.recall),
            (Some(1.0), Some(1.0), Some(1.0))
        );
    }

    #[test]
    fn what_the_codebook_says_is_always_taught_and_never_scored() {
        let points: Vec<(usize, [f32; 2], bool)> = (0..4)
            .flat_map(|t| [(t, [1.0, 0.1], t < 2), (t, [0.1, 1.0], false)])
            .collect();
        let mut taught = decided(&points);
        // The codebook's description teaches, but the person's two examples are too few to learn from.
        taught.push(Decided {
            transcript: None,
            text: "the description",
            embedding: &[0.9, 0.0],
            codes: vec![0],
        });
        let (learnt, measured, _) = learn(&["trust".to_string()], &taught, 4, 2);
        assert!(learnt.codes[0].classifier.is_none() && !measured[0].learnt);
        assert_eq!((measured[0].examples, learnt.codes[0].examples.len()), (2, 2));
        taught.push(Decided {
            transcript: Some(3),
            text: "a third",
            embedding: &[1.0, 0.2],
            codes: vec![0],
        });
        let (learnt, measured, _) = learn(&["trust".to_string()], &taught, 4, 2);
        assert!(learnt.codes[0].classifier.is_some() && measured[0].learnt);
        assert_eq!(measured[0].examples, 3);
        assert_eq!(
            measured[0].agreement.unwrap().units,
            9,
            "only the person's sentences are scored"
        );
    }

    #[test]
    fn a_code_with_too_few_examples_is_named_and_not_coded() {
        let points = [(0, [1.0, 0.0], true), (1, [1.0, 0.1], true), (1, [0.0, 1.0], false)];
        let (learnt, measured, _) = learn(&["rare".to_string()], &decided(&points), 2, 2);
        assert!(learnt.codes[0].classifier.is_none());
        assert_eq!(learnt.codes[0].examples.len(), 2);
        assert_eq!((measured[0].examples, measured[0].learnt), (2, false));
        assert_eq!(measured[0].agreement, None);
    }

    #[test]
    fn one_transcript_is_learnt_from_but_cannot_be_held_out() {
        let points = [
            (0, [1.0, 0.0], true),
            (0, [1.0, 0.1], true),
            (0, [0.9, 0.0], true),
            (0, [0.0, 1.0], false),
        ];
        let (learnt, measured, folds) = learn(&["trust".to_string()], &decided(&points), 1, 2);
        assert_eq!(folds, 0);
        assert!(learnt.codes[0].classifier.is_some());
        assert!(measured[0].learnt && measured[0].agreement.is_none());
    }

    #[test]
    fn nearest_examples_come_nearest_first() {
        let model = LearntCodeModel {
            id: "trust".into(),
            classifier: None,
            examples: vec![("far".into(), vec![0.0, 1.0]), ("near".into(), vec![1.0, 0.0])],
        };
        let near = model.nearest_examples(&[1.0, 0.2], 1);
        assert_eq!(near.len(), 1);
        assert_eq!(near[0].0, "near");
    }
}
