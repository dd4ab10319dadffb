//! `BatchNormalization` whose statistics are no constants of the model (tract folds constant
//! ones into a multiplication and an addition, and refuses the others), and its training mode
//! (opsets 14 and 15: the batch's own statistics, and the running ones handed back). As the
//! ONNX reference computes it, channel by channel of [N, C, D1, …]: in f32,
//! `scale·(x − mean) / √(var + ε) + bias`; in training mode the batch's mean and (population)
//! variance over every axis but the channels', summed in f64 in index order and rounded once,
//! and `running = running·momentum + batch·(1 − momentum)`.

use std::collections::HashSet;
use tract_onnx::{model::ParsingContext, pb::NodeProto, tract_hir::internal::*};

use super::{f32_shapes, output_slots, tract_builder};
use crate::expansion::{Expanded, Rules};

/// `BatchNormalization` with its attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchNorm {
	/// ε, as f32 bits.
	epsilon: u32,
	/// The momentum of the running statistics (f32 bits), in training mode.
	training: Option<u32>,
	/// Which of the running mean and variance the node hands back (training mode only).
	running: [bool; 2],
}

/// Whether each of `names` is a constant of the model's main graph: an initializer, or the
/// output of a node without subgraphs whose inputs are all constants (a `Constant`, the
/// `ConstantOfShape` of a constant shape, a `Cast` or `Identity` of one, …), which tract folds
/// into a constant while typing. Walked without recursion, each node once.
fn are_constants(ctx: &ParsingContext, names: &[String]) -> bool {
	let Some(graph) = ctx.model.graph.as_ref() else { return false };
	let initializers: HashSet<&str> = graph.initializer.iter().map(|tensor| tensor.name.as_str()).collect();
	let producers: HashMap<&str, &NodeProto> =
		graph.node.iter().flat_map(|node| node.output.iter().map(move |output| (output.as_str(), node))).collect();
	let mut constant: HashMap<&str, bool> = HashMap::new();
	// Names whose producer's inputs are being walked.
	let mut visiting: HashSet<&str> = HashSet::new();
	let mut stack: Vec<&str> = names.iter().map(String::as_str).collect();
	while let Some(&name) = stack.last() {
		if constant.contains_key(name) {
			stack.pop();
			continue;
		}
		if initializers.contains(name) {
			constant.insert(name, true);
			stack.pop();
			continue;
		}
		let Some(node) = producers.get(name) else {
			// A graph input (or a name from outside the main graph).
			constant.insert(name, false);
			stack.pop();
			continue;
		};
		let with_subgraph =
			node.attribute.iter().any(|attribute| attribute.g.is_some() || !attribute.graphs.is_empty());
		let inputs: Vec<&str> = node.input.iter().map(String::as_str).filter(|input| !input.is_empty()).collect();
		let pending: Vec<&str> = inputs.iter().copied().filter(|input| !constant.contains_key(input)).collect();
		if with_subgraph || inputs.iter().any(|input| constant.get(input) == Some(&false)) {
			constant.insert(name, false);
			stack.pop();
		} else if pending.is_empty() {
			constant.insert(name, true);
			stack.pop();
		} else if pending.iter().any(|input| visiting.contains(input)) {
			// A cycle: no constant (tract refuses the graph anyway).
			constant.insert(name, false);
			stack.pop();
		} else {
			visiting.insert(name);
			stack.extend(pending);
		}
	}
	names.iter().all(|name| constant.get(name.as_str()) == Some(&true))
}

/// Builds the op for an ONNX `BatchNormalization` node: tract's where the statistics are
/// constants and the mode is inference, this module's otherwise.
pub fn batch_normalization(ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
	let training_mode = node.get_attr_opt::<i64>("training_mode")?.unwrap_or(0) != 0;
	let outputs =
		output_slots(node, 1, 3, "BatchNormalization gives an output and, in training mode, two running statistics")?;
	if ctx.onnx_operator_set_version < 14 && node.output.len() > 1 {
		bail!("BatchNormalization's training outputs before opset 14 are not implemented")
	}
	if outputs[1..].iter().any(Option::is_some) && !training_mode {
		bail!("BatchNormalization gives running statistics only in training mode")
	}
	let constants = node.input.len() == 5 && are_constants(ctx, &node.input[1..]);
	if !training_mode && constants {
		if let Some(tract) = tract_builder("BatchNormalization") {
			return tract(ctx, node);
		}
	}
	let epsilon = node.get_attr_opt::<f32>("epsilon")?.unwrap_or(1e-5);
	let momentum = node.get_attr_opt::<f32>("momentum")?.unwrap_or(0.9);
	if node.input.len() != 5 || node.input.iter().any(|name| name.is_empty()) {
		bail!("BatchNormalization takes X, scale, B, mean and var")
	}
	Ok((
		expand(Expanded(BatchNorm {
			epsilon: epsilon.to_bits(),
			training: training_mode.then_some(momentum.to_bits()),
			running: [outputs[1].is_some(), outputs[2].is_some()],
		})),
		vec![],
	))
}

impl BatchNorm {
	/// How many outputs the node has: the output and the running statistics it hands back.
	fn outputs(&self) -> usize {
		1 + self.running.iter().filter(|wanted| **wanted).count()
	}

	/// Checks the shapes: X of rank ≥ 2, every parameter [C].
	fn channels(x: &[usize], parameters: &[&[usize]]) -> TractResult<usize> {
		let channels = *x.get(1).context("BatchNormalization takes X of rank 2 or more")?;
		if parameters.iter().any(|shape| *shape != [channels]) {
			bail!("BatchNormalization's parameters are [{channels}], got {parameters:?}")
		}
		Ok(channels)
	}

	fn eval_inputs(&self, inputs: &[TValue]) -> TractResult<TVec<TValue>> {
		let shapes: Vec<&[usize]> = inputs[1..].iter().map(|input| input.shape()).collect();
		let x_shape = inputs[0].shape();
		let channels = Self::channels(x_shape, &shapes)?;
		let floats = |i: usize| -> TractResult<&[f32]> { inputs[i].try_as_plain_ram()?.as_slice::<f32>() };
		let (x, scale, bias, mean, var) = (floats(0)?, floats(1)?, floats(2)?, floats(3)?, floats(4)?);
		let inner: usize = x_shape[2..].iter().product();
		let batch = x_shape[0];
		// Element `k` of channel `c` in image `n`.
		let at = |n: usize, c: usize, k: usize| (n * channels + c) * inner + k;
		let (mut batch_mean, mut batch_var) = (mean.to_vec(), var.to_vec());
		if self.training.is_some() {
			let count = (batch * inner) as f64;
			for c in 0..channels {
				let mut sum = 0f64;
				for n in 0..batch {
					for k in 0..inner {
						sum += f64::from(x[at(n, c, k)]);
					}
				}
				let average = sum / count;
				let mut squares = 0f64;
				for n in 0..batch {
					for k in 0..inner {
						let deviation = f64::from(x[at(n, c, k)]) - average;
						squares += deviation * deviation;
					}
				}
				batch_mean[c] = average as f32;
				batch_var[c] = (squares / count) as f32;
			}
		}
		let mut y = vec![0f32; x.len()];
		let epsilon = f32::from_bits(self.epsilon);
		for c in 0..channels {
			let root = (batch_var[c] + epsilon).sqrt();
			for n in 0..batch {
				for k in 0..inner {
					y[at(n, c, k)] = scale[c] * (x[at(n, c, k)] - batch_mean[c]) / root + bias[c];
				}
			}
		}
		let mut outputs = tvec!(Tensor::from_shape(x_shape, &y)?.into_tvalue());
		if let Some(momentum) = self.training.map(f32::from_bits) {
			let keep = (1.0 - f64::from(momentum)) as f32;
			let running = |old: &[f32], new: &[f32]| -> Vec<f32> {
				old.iter().zip(new).map(|(old, new)| old * momentum + new * keep).collect()
			};
			for ((old, new), wanted) in [(mean, &batch_mean), (var, &batch_var)].into_iter().zip(self.running) {
				if wanted {
					outputs.push(Tensor::from_shape(&[channels], &running(old, new))?.into_tvalue());
				}
			}
		}
		Ok(outputs)
	}
}

impl Rules for BatchNorm {
	fn arity(&self) -> (usize, usize) {
		(5, self.outputs())
	}

	fn rules<'r, 'p: 'r, 's: 'r>(
		&'s self,
		s: &mut Solver<'r>,
		inputs: &'p [TensorProxy],
		outputs: &'p [TensorProxy],
	) -> InferenceResult {
		for input in inputs {
			s.equals(&input.datum_type, f32::datum_type())?;
		}
		s.equals(&inputs[0].shape, &outputs[0].shape)?;
		for output in outputs {
			s.equals(&output.datum_type, f32::datum_type())?;
		}
		for output in &outputs[1..] {
			s.equals(&output.shape, &inputs[1].shape)?;
		}
		Ok(())
	}
}

eval_op!(BatchNorm, |_op| "BatchNormalization", |op, inputs| op.eval_inputs(inputs));

impl TypedOp for BatchNorm {
	as_op!();

	fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
		let shapes = f32_shapes(inputs, "BatchNormalization")?;
		let channels = Self::channels(shapes[0], &shapes[1..])?;
		let mut facts = tvec!(f32::fact(shapes[0]));
		for _ in 1..self.outputs() {
			facts.push(f32::fact([channels]));
		}
		Ok(facts)
	}
}
