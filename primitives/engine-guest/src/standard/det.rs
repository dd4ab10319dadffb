//! `Det` (opsets 11, 22): the determinant of each square matrix in the last two axes of
//! [*, M, M] f32, by LU decomposition with partial pivoting in f64 (the pivot of a column is the
//! first row of largest magnitude below the diagonal; a zero pivot makes the determinant 0),
//! rounded to f32 once: a fixed order of operations, the same bits on every node.

use tract_onnx::{model::ParsingContext, pb::NodeProto, tract_hir::internal::*};

use super::f32_shapes;
use crate::expansion::{Expanded, Rules};

/// `Det`; it has no attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Det;

/// Builds the op for an ONNX `Det` node.
pub fn det(_ctx: &ParsingContext, _node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
	Ok((expand(Expanded(Det)), vec![]))
}

/// The output's shape for an input of `shape`: the batch axes.
fn batch_shape<D: Clone>(shape: &[D], square: impl Fn(&D, &D) -> bool) -> TractResult<TVec<D>> {
	let rank = shape.len();
	if rank < 2 || !square(&shape[rank - 2], &shape[rank - 1]) {
		bail!("Det takes square matrices in the last two axes")
	}
	Ok(shape[..rank - 2].into())
}

/// The determinant of the row-major `m`×`m` matrix `a`, which it overwrites with its LU factors.
fn determinant(a: &mut [f64], m: usize) -> f64 {
	let mut det = 1f64;
	for k in 0..m {
		let mut pivot = k;
		for row in k + 1..m {
			if a[row * m + k].abs() > a[pivot * m + k].abs() {
				pivot = row;
			}
		}
		if a[pivot * m + k] == 0.0 {
			return 0.0;
		}
		if pivot != k {
			for column in 0..m {
				a.swap(k * m + column, pivot * m + column);
			}
			det = -det;
		}
		let diagonal = a[k * m + k];
		det *= diagonal;
		for row in k + 1..m {
			let factor = a[row * m + k] / diagonal;
			for column in k + 1..m {
				a[row * m + column] -= factor * a[k * m + column];
			}
		}
	}
	det
}

impl Det {
	fn eval_one(&self, input: &Tensor) -> TractResult<Tensor> {
		let shape = input.shape();
		let output_shape = batch_shape(shape, |a, b| a == b)?;
		let m = shape[shape.len() - 1];
		let values = input.try_as_plain_ram()?.as_slice::<f32>()?;
		let mut matrix = vec![0f64; m * m];
		let count: usize = output_shape.iter().product();
		let mut output = Vec::with_capacity(count);
		for index in 0..count {
			let start = index * m * m;
			for (to, from) in matrix.iter_mut().zip(&values[start..start + m * m]) {
				*to = f64::from(*from);
			}
			output.push(determinant(&mut matrix, m) as f32);
		}
		Tensor::from_shape(&output_shape, &output)
	}
}

impl Rules for Det {
	fn arity(&self) -> (usize, usize) {
		(1, 1)
	}

	fn rules<'r, 'p: 'r, 's: 'r>(
		&'s self,
		s: &mut Solver<'r>,
		inputs: &'p [TensorProxy],
		outputs: &'p [TensorProxy],
	) -> InferenceResult {
		s.equals(&inputs[0].datum_type, f32::datum_type())?;
		s.equals(&outputs[0].datum_type, f32::datum_type())?;
		s.given(&inputs[0].shape, move |s, shape| {
			let output = batch_shape(&shape, |a, b| a == b)?;
			s.equals(&outputs[0].shape, output)
		})
	}
}

one_input_op!(Det, "Det");

impl TypedOp for Det {
	as_op!();

	fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
		let shapes = f32_shapes(inputs, "Det")?;
		Ok(tvec!(f32::fact(&batch_shape(shapes[0], |a, b| a == b)?)))
	}
}
