//! The dense layers' matrix products with AVX-512, where the CPU has it.
//!
//! gemm, which the rest of the forward pass uses, runs its AVX-512 kernels
//! only when built with a nightly compiler; on a stable one it stops at
//! AVX2, half the width of the registers the machines we run on have. A dense
//! layer's weights never change once loaded, so they are laid out once, at
//! load, in panels of [`PANEL`] columns (each row of a panel one after the
//! other), and the product reads a panel's row with two loads. Each output
//! element is its bias (or what the row held) plus the products of its row
//! and column added one after the other in the order of the inputs, whatever
//! the rows around it: a text embeds the same alone as among others.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::{__m512, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_set1_ps, _mm512_storeu_ps};

use rayon::prelude::*;

/// The columns of one panel: two registers of sixteen floats.
pub(crate) const PANEL: usize = 32;
/// Output rows one call of the kernel computes (two registers each, 24 of
/// the 32 registers, the rest for the panel's row and the broadcast input).
const BLOCK_ROWS: usize = 12;
/// Rows one thread takes at a time.
const ROWS_PER_TASK: usize = 8 * BLOCK_ROWS;

/// A dense layer's weights (`inputs × outputs`) laid out in panels, when
/// this CPU and this layer's width allow it.
pub(crate) struct Panels {
    panels: Vec<f32>,
    inputs: usize,
    outputs: usize,
}

impl Panels {
    /// `weight` (`inputs × outputs`, row-major) in panels; `None` where the
    /// CPU lacks AVX-512 or the outputs are not whole panels.
    pub(crate) fn new(weight: &[f32], inputs: usize, outputs: usize) -> Option<Panels> {
        let whole_panels = outputs > 0 && outputs.is_multiple_of(PANEL);
        if !available() || inputs == 0 || !whole_panels || weight.len() != inputs * outputs {
            return None;
        }
        let mut panels = Vec::with_capacity(weight.len());
        for first in (0..outputs).step_by(PANEL) {
            for row in weight.chunks_exact(outputs) {
                panels.extend_from_slice(&row[first..first + PANEL]);
            }
        }
        Some(Panels {
            panels,
            inputs,
            outputs,
        })
    }

    /// `output += input · weight`, for `input` of whole rows of `inputs`.
    pub(crate) fn add_product(&self, input: &[f32], output: &mut [f32]) {
        let rows = input.len() / self.inputs;
        assert!(
            input.len() == rows * self.inputs && output.len() == rows * self.outputs,
            "a product's rows must be whole and match"
        );
        output
            .par_chunks_mut(ROWS_PER_TASK * self.outputs)
            .zip(input.par_chunks(ROWS_PER_TASK * self.inputs))
            .for_each(|(output, input)| self.add_rows(input, output));
    }

    /// [`Panels::add_product`] for a few rows, on one thread.
    fn add_rows(&self, input: &[f32], output: &mut [f32]) {
        let panel_size = self.inputs * PANEL;
        for (index, panel) in self.panels.chunks_exact(panel_size).enumerate() {
            let rows = output
                .chunks_mut(BLOCK_ROWS * self.outputs)
                .zip(input.chunks(BLOCK_ROWS * self.inputs));
            for (output, input) in rows {
                let block = Block {
                    output: &mut output[index * PANEL..],
                    output_step: self.outputs,
                    input,
                    input_step: self.inputs,
                    panel,
                };
                block.add();
            }
        }
    }
}

/// Whether this CPU runs the panels' kernel.
pub(crate) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Up to [`BLOCK_ROWS`] rows of input times one panel, added to the
/// matching [`PANEL`] columns of their output rows.
struct Block<'a> {
    /// From the block's first output element on; each row `output_step` further.
    output: &'a mut [f32],
    output_step: usize,
    input: &'a [f32],
    input_step: usize,
    panel: &'a [f32],
}

impl Block<'_> {
    fn add(self) {
        let rows = self.input.len() / self.input_step;
        assert!(
            rows <= BLOCK_ROWS
                && self.panel.len() == self.input_step * PANEL
                && (rows == 0 || self.output.len() >= (rows - 1) * self.output_step + PANEL),
            "a block's operands must lie inside their slices"
        );
        macro_rules! rows {
            ($($count:literal)*) => {
                match rows {
                    $($count => self.add_rows::<$count>(),)*
                    _ => {}
                }
            };
        }
        rows!(1 2 3 4 5 6 7 8 9 10 11 12);
    }

    fn add_rows<const ROWS: usize>(self) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Panels` exists only where the CPU has AVX-512 (`available`),
        // and `add` checked that the `ROWS` rows lie inside the slices.
        unsafe {
            add_block::<ROWS>(
                self.output.as_mut_ptr(),
                self.output_step,
                self.input.as_ptr(),
                self.input_step,
                self.panel.as_ptr(),
            )
        }
    }
}

/// The kernel: `ROWS` rows of `inputs` (= `input_step`) inputs times a panel
/// of `inputs × PANEL`, added to `ROWS` rows of `PANEL` outputs, every sum
/// kept in a register until the end.
///
/// # Safety
/// The CPU has AVX-512F; `output` holds `ROWS` rows of `PANEL` floats
/// `output_step` apart, `input` `ROWS` rows of `input_step`, `panel`
/// `input_step · PANEL` floats.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn add_block<const ROWS: usize>(
    output: *mut f32,
    output_step: usize,
    input: *const f32,
    input_step: usize,
    panel: *const f32,
) {
    // SAFETY (for every access below): inside the extents the caller vouches for.
    unsafe {
        let mut sums: [[__m512; 2]; ROWS] = [[_mm512_set1_ps(0.0); 2]; ROWS];
        for (row, sum) in sums.iter_mut().enumerate() {
            let at = output.add(row * output_step);
            *sum = [_mm512_loadu_ps(at), _mm512_loadu_ps(at.add(16))];
        }
        for k in 0..input_step {
            let weights = panel.add(k * PANEL);
            let (left, right) = (_mm512_loadu_ps(weights), _mm512_loadu_ps(weights.add(16)));
            for (row, sum) in sums.iter_mut().enumerate() {
                let x = _mm512_set1_ps(*input.add(row * input_step + k));
                sum[0] = _mm512_fmadd_ps(x, left, sum[0]);
                sum[1] = _mm512_fmadd_ps(x, right, sum[1]);
            }
        }
        for (row, sum) in sums.iter().enumerate() {
            let at = output.add(row * output_step);
            _mm512_storeu_ps(at, sum[0]);
            _mm512_storeu_ps(at.add(16), sum[1]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_product_in_panels_is_the_plain_one_wherever_the_rows_fall() {
        let (inputs, outputs) = (5, 2 * PANEL);
        let weight: Vec<f32> = (0..inputs * outputs).map(|i| ((i * 7) % 11) as f32 - 5.0).collect();
        assert!(
            Panels::new(&weight[..inputs * 10], inputs, 10).is_none(),
            "not whole panels"
        );
        let Some(panels) = Panels::new(&weight, inputs, outputs) else {
            // This CPU has no AVX-512: the forward pass uses gemm's kernels alone.
            assert!(!available(), "whole panels are laid out wherever AVX-512 is");
            return;
        };
        // More rows than one task takes, and not a whole number of blocks.
        let rows = ROWS_PER_TASK + BLOCK_ROWS + 5;
        let input: Vec<f32> = (0..rows * inputs).map(|i| ((i * 3) % 7) as f32 - 3.0).collect();
        let mut output = vec![1.0; rows * outputs];
        panels.add_product(&input, &mut output);
        for row in 0..rows {
            for column in 0..outputs {
                let expected = 1.0
                    + (0..inputs)
                        .map(|k| input[row * inputs + k] * weight[k * outputs + column])
                        .sum::<f32>();
                assert_eq!(output[row * outputs + column], expected, "row {row}, column {column}");
            }
        }
    }
}
