//! The BERT encoder's forward pass on the CPU, shaped for embedding many
//! short texts: the word pieces of every window in a batch go through the
//! dense layers together with no padding at all, attention runs per window
//! over that window's own pieces, and bias, residual, activation and
//! normalisation are folded into as few passes over memory as possible. The
//! dense layers' products run AVX-512 kernels where the CPU has it
//! ([`crate::panels`]); the other products, and the dense layers' elsewhere,
//! are gemm's, the kernels candle's CPU backend runs; candle's
//! own BERT (kept as the reference the tests hold this pass to) pads every
//! window of a batch to one length, and runs each element-wise step as a
//! separate pass with its own hand-over between threads, which cost half the
//! time of a forward pass.

use candle_core::Tensor;
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{Config, HiddenAct};
use gemm::Parallelism;
use rayon::prelude::*;

use crate::panels::Panels;

/// Rows of a matrix one thread takes at a time in a row-wise pass.
const ROWS_PER_TASK: usize = 32;

/// Elements one thread takes at a time in an element-wise pass.
const ELEMENTS_PER_TASK: usize = 16 * 1024;

/// A dense layer: a batch of rows times its weights (`inputs × outputs`),
/// plus its bias, is the layer's output.
struct Dense {
    weights: Weights,
    bias: Vec<f32>,
    inputs: usize,
    outputs: usize,
}

/// A dense layer's weights, laid out for the kernel that multiplies by them.
enum Weights {
    /// Row-major, for gemm.
    Rows(Vec<f32>),
    /// In panels, for AVX-512 ([`Panels`]).
    Panels(Panels),
}

impl Dense {
    /// The layer of `weight` (`inputs × outputs`, row-major) and `bias`.
    fn new(weight: Vec<f32>, bias: Vec<f32>, inputs: usize, outputs: usize) -> Dense {
        let weights = match Panels::new(&weight, inputs, outputs) {
            Some(panels) => Weights::Panels(panels),
            None => Weights::Rows(weight),
        };
        Dense {
            weights,
            bias,
            inputs,
            outputs,
        }
    }
}

struct Norm {
    weight: Vec<f32>,
    bias: Vec<f32>,
}

struct Layer {
    /// Query, key and value side by side: `hidden × 3·hidden`.
    query_key_value: Dense,
    attention_output: Dense,
    attention_norm: Norm,
    intermediate: Dense,
    output: Dense,
    output_norm: Norm,
}

/// A BERT encoder's weights, ready for [`Network::token_sums`].
pub(crate) struct Network {
    hidden: usize,
    heads: usize,
    eps: f32,
    activation: HiddenAct,
    /// `vocabulary × hidden`.
    words: Vec<f32>,
    /// `positions × hidden`.
    positions: Vec<f32>,
    /// The embedding of token type 0, the only type a single text has.
    token_type: Vec<f32>,
    embedding_norm: Norm,
    layers: Vec<Layer>,
}

fn floats(tensor: Tensor) -> candle_core::Result<Vec<f32>> {
    tensor.flatten_all()?.to_vec1::<f32>()
}

fn dense(weights: &VarBuilder, inputs: usize, outputs: usize) -> candle_core::Result<Dense> {
    let weight = weights.get((outputs, inputs), "weight")?;
    Ok(Dense::new(
        floats(weight.t()?.contiguous()?)?,
        floats(weights.get(outputs, "bias")?)?,
        inputs,
        outputs,
    ))
}

/// The query, key and value layers as one, their outputs side by side.
fn query_key_value(weights: &VarBuilder, hidden: usize) -> candle_core::Result<Dense> {
    let parts = ["query", "key", "value"];
    let weight: Vec<Tensor> = parts
        .iter()
        .map(|part| weights.pp(*part).get((hidden, hidden), "weight"))
        .collect::<candle_core::Result<_>>()?;
    let bias: Vec<Tensor> = parts
        .iter()
        .map(|part| weights.pp(*part).get(hidden, "bias"))
        .collect::<candle_core::Result<_>>()?;
    Ok(Dense::new(
        floats(Tensor::cat(&weight, 0)?.t()?.contiguous()?)?,
        floats(Tensor::cat(&bias, 0)?)?,
        hidden,
        3 * hidden,
    ))
}

/// A layer norm's weights, under the names either generation of BERT checkpoints uses.
fn norm(weights: &VarBuilder, size: usize) -> candle_core::Result<Norm> {
    let named = |names: [&'static str; 2]| {
        names
            .into_iter()
            .find(|name| weights.contains_tensor(name))
            .unwrap_or(names[0])
    };
    Ok(Norm {
        weight: floats(weights.get(size, named(["weight", "gamma"]))?)?,
        bias: floats(weights.get(size, named(["bias", "beta"]))?)?,
    })
}

impl Network {
    /// Reads the encoder `config` describes from `weights`, whose names may
    /// have a `bert.` (or the model type's) prefix, as checkpoints differ.
    pub fn load(weights: VarBuilder, config: &Config) -> candle_core::Result<Network> {
        let prefix = ["bert".to_string()]
            .into_iter()
            .chain(config.model_type.clone())
            .find(|prefix| weights.contains_tensor(&format!("{prefix}.embeddings.word_embeddings.weight")));
        let weights = match prefix {
            Some(prefix) => weights.pp(prefix),
            None => weights,
        };
        let hidden = config.hidden_size;
        let embeddings = weights.pp("embeddings");
        let layers = (0..config.num_hidden_layers)
            .map(|index| {
                let layer = weights.pp(format!("encoder.layer.{index}"));
                let attention = layer.pp("attention");
                Ok(Layer {
                    query_key_value: query_key_value(&attention.pp("self"), hidden)?,
                    attention_output: dense(&attention.pp("output.dense"), hidden, hidden)?,
                    attention_norm: norm(&attention.pp("output.LayerNorm"), hidden)?,
                    intermediate: dense(&layer.pp("intermediate.dense"), hidden, config.intermediate_size)?,
                    output: dense(&layer.pp("output.dense"), config.intermediate_size, hidden)?,
                    output_norm: norm(&layer.pp("output.LayerNorm"), hidden)?,
                })
            })
            .collect::<candle_core::Result<_>>()?;
        Ok(Network {
            hidden,
            heads: config.num_attention_heads,
            eps: config.layer_norm_eps as f32,
            activation: config.hidden_act,
            words: floats(embeddings.get((config.vocab_size, hidden), "word_embeddings.weight")?)?,
            positions: floats(embeddings.get((config.max_position_embeddings, hidden), "position_embeddings.weight")?)?,
            token_type: floats(
                embeddings
                    .get((config.type_vocab_size, hidden), "token_type_embeddings.weight")?
                    .get(0)?,
            )?,
            embedding_norm: norm(&embeddings.pp("LayerNorm"), hidden)?,
            layers,
        })
    }

    /// The sum of each window's final token states over its word pieces.
    /// Each window's ids must be known to the vocabulary and no longer than
    /// the model's positions (the embedder's windows are).
    pub fn token_sums(&self, windows: &[&[u32]]) -> Vec<Vec<f32>> {
        let hidden = self.hidden;
        let lengths: Vec<usize> = windows.iter().map(|w| w.len()).collect();
        let tokens: usize = lengths.iter().sum();
        let mut states = self.embed(windows, tokens);
        let intermediate = self.layers.first().map_or(0, |l| l.intermediate.outputs);
        let mut query_key_value = vec![0f32; tokens * 3 * hidden];
        let mut attended = vec![0f32; tokens * hidden];
        let mut inner = vec![0f32; tokens * intermediate];
        for layer in &self.layers {
            layer.query_key_value.apply(&states, &mut query_key_value, false);
            self.attention(&query_key_value, &lengths, &mut attended);
            // The residual is the destination the products add to.
            layer.attention_output.apply(&attended, &mut states, true);
            self.normalise(&mut states, &layer.attention_norm);
            layer.intermediate.apply(&states, &mut inner, false);
            activate(&mut inner, self.activation);
            layer.output.apply(&inner, &mut states, true);
            self.normalise(&mut states, &layer.output_norm);
        }
        let mut sums = Vec::with_capacity(windows.len());
        let mut rows = states.chunks_exact(hidden);
        for &length in &lengths {
            let mut sum = vec![0f32; hidden];
            for row in rows.by_ref().take(length) {
                sum.iter_mut().zip(row).for_each(|(total, x)| *total += x);
            }
            sums.push(sum);
        }
        sums
    }

    /// Each token's word, position and type embeddings summed and normalised.
    fn embed(&self, windows: &[&[u32]], tokens: usize) -> Vec<f32> {
        let hidden = self.hidden;
        let mut states = Vec::with_capacity(tokens * hidden);
        for window in windows {
            for (position, &id) in window.iter().enumerate() {
                let word = &self.words[id as usize * hidden..][..hidden];
                let place = &self.positions[position * hidden..][..hidden];
                states.extend(
                    word.iter()
                        .zip(place)
                        .zip(&self.token_type)
                        .map(|((w, p), t)| w + p + t),
                );
            }
        }
        self.normalise(&mut states, &self.embedding_norm);
        states
    }

    /// Each window's attention, head by head, over its own tokens only:
    /// `query_key_value` holds every token's query, key and value side by
    /// side; each token's attended values go to its row of `attended`.
    fn attention(&self, query_key_value: &[f32], lengths: &[usize], attended: &mut [f32]) {
        let hidden = self.hidden;
        let mut per_window = Vec::with_capacity(lengths.len());
        let (mut rest, mut first) = (attended, 0);
        for &length in lengths {
            let (window, after) = rest.split_at_mut(length * hidden);
            per_window.push((first, length, window));
            rest = after;
            first += length;
        }
        per_window.into_par_iter().for_each(|(first, length, window)| {
            let rows = &query_key_value[first * 3 * hidden..][..length * 3 * hidden];
            self.window_attention(rows, length, window);
        });
    }

    fn window_attention(&self, rows: &[f32], length: usize, attended: &mut [f32]) {
        let (hidden, head) = (self.hidden, self.hidden / self.heads);
        let scale = 1.0 / (head as f32).sqrt();
        let mut scores = vec![0f32; length * length];
        for h in 0..self.heads {
            let query = &rows[h * head..];
            let key = &rows[hidden + h * head..];
            let value = &rows[2 * hidden + h * head..];
            // scores = scale · query · keyᵀ, one row per query token.
            product(
                Operand::strided(&mut scores, length, 1),
                Operand::strided(query, 3 * hidden, 1),
                Operand::strided(key, 1, 3 * hidden),
                (length, head, length),
                scale,
                false,
                Parallelism::None,
            );
            scores.chunks_exact_mut(length).for_each(softmax);
            product(
                Operand::strided(&mut attended[h * head..], hidden, 1),
                Operand::strided(&scores, length, 1),
                Operand::strided(value, 3 * hidden, 1),
                (length, length, head),
                1.0,
                false,
                Parallelism::None,
            );
        }
    }

    /// Layer-normalises each row of `states` in place.
    fn normalise(&self, states: &mut [f32], norm: &Norm) {
        let (hidden, eps) = (self.hidden, self.eps);
        rows_in_parallel(states, hidden, |row| {
            let mean = row.iter().sum::<f32>() / hidden as f32;
            let variance = row.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>() / hidden as f32;
            let scale = 1.0 / (variance + eps).sqrt();
            for ((x, w), b) in row.iter_mut().zip(&norm.weight).zip(&norm.bias) {
                *x = (*x - mean) * scale * w + b;
            }
        });
    }
}

impl Dense {
    /// `output = input · weight + bias`, or with `add`, `output += input · weight + bias`.
    fn apply(&self, input: &[f32], output: &mut [f32], add: bool) {
        let rows = input.len() / self.inputs;
        rows_in_parallel(output, self.outputs, |row| {
            if add {
                row.iter_mut().zip(&self.bias).for_each(|(x, b)| *x += b);
            } else {
                row.copy_from_slice(&self.bias);
            }
        });
        let weight = match &self.weights {
            Weights::Panels(panels) => return panels.add_product(input, output),
            Weights::Rows(weight) => weight,
        };
        let threads = rayon::current_num_threads();
        let parallelism = if threads > 1 && rows >= ROWS_PER_TASK {
            Parallelism::Rayon(threads)
        } else {
            Parallelism::None
        };
        product(
            Operand::strided(output, self.outputs, 1),
            Operand::strided(input, self.inputs, 1),
            Operand::strided(weight, self.outputs, 1),
            (rows, self.inputs, self.outputs),
            1.0,
            true,
            parallelism,
        );
    }
}

/// A matrix inside a slice: element `(i, j)` at `i·row_step + j·column_step`.
struct Operand<S> {
    data: S,
    row_step: usize,
    column_step: usize,
}

impl<S> Operand<S> {
    fn strided(data: S, row_step: usize, column_step: usize) -> Operand<S> {
        Operand {
            data,
            row_step,
            column_step,
        }
    }

    /// Whether an `rows × columns` matrix at these steps lies inside `len` elements.
    fn fits(&self, len: usize, rows: usize, columns: usize) -> bool {
        rows == 0 || columns == 0 || (rows - 1) * self.row_step + (columns - 1) * self.column_step < len
    }
}

/// `out = scale · (left · right)`, or with `add`, `out += scale · (left · right)`,
/// for `left` of `m × k` and `right` of `k × n`.
fn product(
    out: Operand<&mut [f32]>,
    left: Operand<&[f32]>,
    right: Operand<&[f32]>,
    (m, k, n): (usize, usize, usize),
    scale: f32,
    add: bool,
    parallelism: Parallelism,
) {
    // gemm takes raw pointers: each matrix is checked to lie inside its slice.
    assert!(
        out.fits(out.data.len(), m, n) && left.fits(left.data.len(), m, k) && right.fits(right.data.len(), k, n),
        "a matrix product's operands must lie inside their buffers"
    );
    // SAFETY: every element gemm reads or writes lies inside the slices (checked
    // above); `out` is borrowed mutably, so nothing else reads it meanwhile.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.data.as_mut_ptr(),
            out.column_step as isize,
            out.row_step as isize,
            add,
            left.data.as_ptr(),
            left.column_step as isize,
            left.row_step as isize,
            right.data.as_ptr(),
            right.column_step as isize,
            right.row_step as isize,
            1.0,
            scale,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// Runs `each` on every `width`-long row of `matrix`, rows shared among the threads.
fn rows_in_parallel(matrix: &mut [f32], width: usize, each: impl Fn(&mut [f32]) + Sync) {
    matrix
        .par_chunks_mut(width * ROWS_PER_TASK)
        .for_each(|rows| rows.chunks_exact_mut(width).for_each(&each));
}

/// A row of attention scores as probabilities.
fn softmax(row: &mut [f32]) {
    let most = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut total = 0.0;
    for x in row.iter_mut() {
        *x = (*x - most).exp();
        total += *x;
    }
    row.iter_mut().for_each(|x| *x /= total);
}

/// Applies the feed-forward layer's activation to every element, in place.
fn activate(matrix: &mut [f32], activation: HiddenAct) {
    match activation {
        HiddenAct::Gelu => each_element(matrix, gelu),
        HiddenAct::GeluApproximate => each_element(matrix, gelu_tanh),
        HiddenAct::Relu => each_element(matrix, |x| x.max(0.0)),
    }
}

/// `function` of every element, in place; a plain loop per chunk, with the
/// function known here (not called through a pointer), so that the
/// compiler can vectorise it.
fn each_element(matrix: &mut [f32], function: impl Fn(f32) -> f32 + Sync) {
    matrix
        .par_chunks_mut(ELEMENTS_PER_TASK)
        .for_each(|chunk| chunk.iter_mut().for_each(|x| *x = function(*x)));
}

/// GELU as BERT defines it, with the exact error function: `x·Φ(x)`.
#[inline]
fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// GELU's tanh approximation, for models configured with it (`gelu_new`).
fn gelu_tanh(x: f32) -> f32 {
    let inner = 0.797_884_6 * (x + 0.044_715 * x * x * x);
    0.5 * x * (1.0 + inner.tanh())
}

/// The error function in single precision, within 4e-7 of the exact value:
/// `x·P(x²)/Q(x²)` on [-4, 4] (fitted for thematic by iterated weighted least
/// squares against the exact function), ±1 beyond, where erf rounds to ±1 in
/// single precision. Only multiplications, additions and one division, so the
/// compiler runs it on several values at once, unlike libm's `erff`.
#[inline]
fn erf(x: f32) -> f32 {
    const P: [f32; 6] = [
        std::f32::consts::FRAC_2_SQRT_PI,
        0.196_249_36,
        0.053_467_53,
        0.004_003_658_5,
        0.000_288_041_2,
        1.974_824_2e-6,
    ];
    const Q: [f32; 6] = [
        1.0,
        0.507_252_6,
        0.116_476_59,
        0.015_444_453,
        0.001_216_361_7,
        3.748_078e-5,
    ];
    let x = x.clamp(-4.0, 4.0);
    let t = x * x;
    let p = P.iter().rev().fold(0.0, |sum, c| sum * t + c);
    let q = Q.iter().rev().fold(0.0, |sum, c| sum * t + c);
    (x * p / q).clamp(-1.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_is_within_four_ten_millionths_of_the_exact_function() {
        // Published values (Abramowitz and Stegun's table 7.1, to 10 places).
        let published = [
            (0.1, 0.112_462_916_0),
            (0.5, 0.520_499_877_8),
            (1.0, 0.842_700_792_9),
            (2.0, 0.995_322_265),
        ];
        for (x, erf_x) in published {
            assert!(
                (f64::from(erf(x)) - erf_x).abs() < 4e-7,
                "erf({x}) = {}, not {erf_x}",
                erf(x)
            );
        }
        // Everywhere, against candle's double-precision error function (the one its BERT runs).
        for step in -60_000..=60_000 {
            let x = step as f32 * 1e-4;
            let exact = candle_core::cpu::erf::erf_f64(f64::from(x));
            assert!(
                (f64::from(erf(x)) - exact).abs() < 4e-7,
                "erf({x}) = {}, not {exact}",
                erf(x)
            );
        }
        assert_eq!((erf(f32::INFINITY), erf(f32::NEG_INFINITY)), (1.0, -1.0));
    }

    #[test]
    fn a_product_at_any_steps_is_the_plain_one() {
        // left 2×3, right 3×2 given transposed (column steps), out added to.
        let left = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let right_transposed = [1.0, 0.0, 1.0, 0.0, 1.0, 1.0];
        let mut out = [10.0, 10.0, 10.0, 10.0];
        product(
            Operand::strided(&mut out[..], 2, 1),
            Operand::strided(&left[..], 3, 1),
            Operand::strided(&right_transposed[..], 1, 3),
            (2, 3, 2),
            2.0,
            true,
            Parallelism::None,
        );
        // left · right = [[4, 5], [10, 11]].
        assert_eq!(out, [18.0, 20.0, 30.0, 32.0]);
    }

    #[test]
    fn softmax_rows_sum_to_one_and_keep_their_order() {
        let mut row = [1.0, 3.0, 2.0, 0.0];
        softmax(&mut row);
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(row[1] > row[2] && row[2] > row[0] && row[0] > row[3]);
        let mut large = [1000.0, 1000.0];
        softmax(&mut large);
        assert_eq!(large, [0.5, 0.5], "no overflow");
    }
}
