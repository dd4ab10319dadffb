//! ONNX `NegativeLogLikelihoodLoss` and `SoftmaxCrossEntropyLoss` (opsets 12 and 13): the loss
//! of scores `x` [N, C, d1, …, dk] against class indices `target` [N, d1, …, dk], with optional
//! per-class weights, an ignored class index and a reduction (`none`, `sum`, `mean`), and
//! `SoftmaxCrossEntropyLoss`'s log-probabilities as an optional second output. tract has neither.
//!
//! As the ONNX reference computes them, in a fixed order: the log-softmax over the class axis
//! is `ln(exp(x − max) / Σ exp(x − max))`, summed in class order; an element's loss is
//! `weight[t] · −x[n, t, d]` (0 where `t` is the ignored index); `sum` adds the elements in
//! order and `mean` divides that by the sum of their weights (each 1 without `weight`, 0 where
//! ignored). A target outside `[0, C)` that is not the ignored index fails the run.

use tract_onnx::{model::ParsingContext, pb::NodeProto, tract_hir::internal::*};

use super::{input_slots, output_slots};
use crate::expansion::{Expanded, Rules};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reduction {
	None,
	Sum,
	Mean,
}

/// Either loss op; `softmax` tells which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loss {
	/// `SoftmaxCrossEntropyLoss` (log-softmax first) rather than `NegativeLogLikelihoodLoss`.
	softmax: bool,
	reduction: Reduction,
	ignore_index: Option<i64>,
	/// Whether the `weight` input and the `log_prob` output are wired.
	weighted: bool,
	log_prob: bool,
}

/// Builds the op for an ONNX `NegativeLogLikelihoodLoss` node.
pub fn negative_log_likelihood(
	_ctx: &ParsingContext,
	node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
	parse(node, false)
}

/// Builds the op for an ONNX `SoftmaxCrossEntropyLoss` node.
pub fn softmax_cross_entropy(
	_ctx: &ParsingContext,
	node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
	parse(node, true)
}

fn parse(node: &NodeProto, softmax: bool) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
	let inputs = input_slots(node, 2, 3, "a loss takes scores, a target and an optional weight")?;
	let outputs = output_slots(
		node,
		1,
		if softmax { 2 } else { 1 },
		"a loss gives the loss (and SoftmaxCrossEntropyLoss its log-probabilities)",
	)?;
	let reduction = match node.get_attr_opt::<&str>("reduction")?.unwrap_or("mean") {
		"none" => Reduction::None,
		"sum" => Reduction::Sum,
		"mean" => Reduction::Mean,
		other => bail!("unknown reduction {other}"),
	};
	let op = Loss {
		softmax,
		reduction,
		ignore_index: node.get_attr_opt::<i64>("ignore_index")?,
		weighted: inputs[2].is_some(),
		log_prob: outputs.get(1).is_some_and(Option::is_some),
	};
	Ok((expand(Expanded(op)), vec![]))
}

impl Loss {
	fn output_shapes(&self, x: &[TDim], target: &[TDim]) -> TractResult<TVec<TVec<TDim>>> {
		if x.len() < 2 || target.len() + 1 != x.len() || target[0] != x[0] || target[1..] != x[2..] {
			bail!("scores {x:?} and target {target:?} do not fit")
		}
		let loss = match self.reduction {
			Reduction::None => target.into(),
			Reduction::Sum | Reduction::Mean => tvec![],
		};
		let mut shapes = tvec![loss];
		if self.log_prob {
			shapes.push(x.into());
		}
		Ok(shapes)
	}

	fn eval_f32(&self, inputs: &[TValue]) -> TractResult<TVec<TValue>> {
		let (x, target) = (&inputs[0], crate::convert::without_dims(&inputs[1])?);
		self.output_shapes(
			&x.shape().iter().map(|d| d.to_dim()).collect::<TVec<_>>(),
			&target.shape().iter().map(|d| d.to_dim()).collect::<TVec<_>>(),
		)?;
		let (batch, classes) = (x.shape()[0], x.shape()[1]);
		let inner: usize = x.shape()[2..].iter().product();
		let scores = x.try_as_plain_ram()?.as_slice::<f32>()?;
		let target = target.cast_to::<i64>()?;
		let target = target.try_as_plain_ram()?.as_slice::<i64>()?;
		let weight = if self.weighted {
			let weight = inputs[2].try_as_plain_ram()?.as_slice::<f32>()?;
			if weight.len() != classes {
				bail!("{} weights for {classes} classes", weight.len())
			}
			Some(weight)
		} else {
			None
		};
		let log_prob = if self.softmax { Some(log_softmax(scores, batch, classes, inner)) } else { None };
		let inputs_of_loss = log_prob.as_deref().unwrap_or(scores);
		let mut losses = Vec::with_capacity(batch * inner);
		// The weights' sum in f64: as f32, a count of ones would stop growing at 2^24.
		let (mut total, mut weights) = (0f32, 0f64);
		for n in 0..batch {
			for d in 0..inner {
				let t = target[n * inner + d];
				let (loss, w) = if Some(t) == self.ignore_index {
					(0.0, 0.0)
				} else {
					let class = usize::try_from(t).ok().filter(|c| *c < classes).context("target out of range")?;
					let w = weight.map_or(1.0, |weight| weight[class]);
					(w * -inputs_of_loss[(n * classes + class) * inner + d], w)
				};
				losses.push(loss);
				total += loss;
				weights += f64::from(w);
			}
		}
		let loss = match self.reduction {
			Reduction::None => Tensor::from_shape(&inputs[1].shape(), &losses)?,
			Reduction::Sum => tensor0(total),
			Reduction::Mean => tensor0(total / weights as f32),
		};
		let mut outputs = tvec![loss.into_tvalue()];
		if self.log_prob {
			let log_prob = log_prob.context("log-probabilities of SoftmaxCrossEntropyLoss")?;
			outputs.push(Tensor::from_shape(x.shape(), &log_prob)?.into_tvalue());
		}
		Ok(outputs)
	}
}

/// `ln(exp(x − max) / Σ exp(x − max))` over the class axis of [batch, classes, inner] scores.
fn log_softmax(scores: &[f32], batch: usize, classes: usize, inner: usize) -> Vec<f32> {
	let mut out = vec![0f32; scores.len()];
	for n in 0..batch {
		for d in 0..inner {
			let at = |c: usize| (n * classes + c) * inner + d;
			let mut max = f32::NEG_INFINITY;
			for c in 0..classes {
				let value = scores[at(c)];
				if value.is_nan() || value > max {
					max = value;
					if value.is_nan() {
						break;
					}
				}
			}
			let mut sum = 0f32;
			for c in 0..classes {
				out[at(c)] = (scores[at(c)] - max).exp();
				sum += out[at(c)];
			}
			for c in 0..classes {
				out[at(c)] = (out[at(c)] / sum).ln();
			}
		}
	}
	out
}

impl Rules for Loss {
	fn arity(&self) -> (usize, usize) {
		(2 + usize::from(self.weighted), 1 + usize::from(self.log_prob))
	}

	fn rules<'r, 'p: 'r, 's: 'r>(
		&'s self,
		s: &mut Solver<'r>,
		inputs: &'p [TensorProxy],
		outputs: &'p [TensorProxy],
	) -> InferenceResult {
		s.equals(&inputs[0].datum_type, f32::datum_type())?;
		for output in outputs {
			s.equals(&output.datum_type, f32::datum_type())?;
		}
		s.given_2(&inputs[0].shape, &inputs[1].shape, move |s, x, target| {
			for (output, shape) in outputs.iter().zip(self.output_shapes(&x, &target)?) {
				s.equals(&output.shape, shape)?;
			}
			Ok(())
		})
	}
}

eval_op!(Loss, |op| if op.softmax { "SoftmaxCrossEntropyLoss" } else { "NegativeLogLikelihoodLoss" }, |op, inputs| {
	op.eval_f32(inputs)
});

impl TypedOp for Loss {
	as_op!();

	fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
		if inputs[0].datum_type != f32::datum_type() {
			bail!("the losses are implemented for f32 scores, got {:?}", inputs[0].datum_type)
		}
		if !matches!(inputs[1].datum_type, DatumType::I64 | DatumType::I32 | DatumType::TDim) {
			bail!("a loss's target is int64 or int32, got {:?}", inputs[1].datum_type)
		}
		if self.weighted && inputs[2].datum_type != f32::datum_type() {
			bail!("a loss's weight is f32 here, got {:?}", inputs[2].datum_type)
		}
		let shapes = self.output_shapes(&inputs[0].shape, &inputs[1].shape)?;
		Ok(shapes.into_iter().map(|shape| f32::fact(shape)).collect())
	}
}
