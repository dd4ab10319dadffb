//! `RNN`, `GRU` and `LSTM` as tract builds them, with what tract leaves out: a layer of
//! `direction = "reverse"` (tract ran it forward) runs as tract's forward layer over the sequence
//! reversed, its `Y` reversed back; and what tract would silently ignore is refused: activations
//! other than the defaults, `clip`, LSTM's `input_forget`, weights of another number of
//! directions than `direction` says.

use tract_onnx::{
	model::ParsingContext,
	ops::rec::{
		common::{CommonRec, WireBody},
		gru::GRU,
		lstm::LSTM,
		rnn::RNN,
	},
	pb::NodeProto,
	tract_hir::{internal::*, ops},
};

#[derive(Clone, Copy)]
enum Kind {
	Rnn,
	Gru,
	Lstm,
}

impl Kind {
	/// The activations tract computes, for one direction.
	fn activations(self) -> &'static [&'static str] {
		match self {
			Self::Rnn => &["Tanh"],
			Self::Gru => &["Sigmoid", "Tanh"],
			Self::Lstm => &["Sigmoid", "Tanh", "Tanh"],
		}
	}

	/// The cell tract builds for this kind (as `tract_onnx::ops::rec::{rnn, gru, lstm}` do).
	fn body(self, node: &NodeProto) -> Box<dyn WireBody> {
		match self {
			Self::Rnn => Box::new(RNN { fore: Box::new(ops::math::tanh()), back: Box::new(ops::math::tanh()) }),
			Self::Gru => Box::new(GRU {
				f: Box::new(ops::nn::sigmoid()),
				g: Box::new(ops::math::tanh()),
				linear_before_reset: node.get_attr("linear_before_reset").unwrap_or(false),
			}),
			Self::Lstm => Box::new(LSTM {
				f: Box::new(ops::nn::sigmoid()),
				g: Box::new(ops::math::tanh()),
				h: Box::new(ops::math::tanh()),
			}),
		}
	}
}

/// Builds the op for an ONNX `RNN` node.
pub fn rnn(ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
	build(ctx, node, Kind::Rnn)
}

/// Builds the op for an ONNX `GRU` node.
pub fn gru(ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
	build(ctx, node, Kind::Gru)
}

/// Builds the op for an ONNX `LSTM` node.
pub fn lstm(ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
	build(ctx, node, Kind::Lstm)
}

fn build(_ctx: &ParsingContext, node: &NodeProto, kind: Kind) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
	let direction = node.get_attr_opt::<&str>("direction")?.unwrap_or("forward");
	let directions = match direction {
		"forward" | "reverse" => 1,
		"bidirectional" => 2,
		other => bail!("unknown direction {other}"),
	};
	if let Some(activations) = node.get_attr_opt_tvec::<&str>("activations")? {
		let defaults = kind.activations().repeat(directions);
		if activations.len() != defaults.len()
			|| activations.iter().zip(&defaults).any(|(given, default)| !given.eq_ignore_ascii_case(default))
		{
			bail!("activations {activations:?} are not implemented (only {defaults:?})")
		}
	}
	if node.get_attr_opt::<f32>("clip")?.is_some() {
		bail!("a recurrent layer's clip is not implemented")
	}
	if node.get_attr_opt::<i64>("input_forget")?.unwrap_or(0) != 0 {
		bail!("LSTM's input_forget is not implemented")
	}
	let layer = CommonRec::from_node_and_options(node, 3, 0, kind.body(node))?;
	Ok((expand(Recurrent { layer, directions, reverse: direction == "reverse" }), vec![]))
}

/// tract's layer, with as many directions of weights as `direction` says (tract would run a
/// second direction of weights whatever it says); one of `direction = "reverse"` runs as the
/// forward layer over the sequence reversed, its `Y` reversed back (`Y_h` and `Y_c` are its
/// last states either way).
#[derive(Debug, Clone)]
struct Recurrent {
	layer: CommonRec,
	directions: usize,
	reverse: bool,
}

impl Expansion for Recurrent {
	fn name(&self) -> StaticName {
		Expansion::name(&self.layer)
	}

	fn nboutputs(&self) -> TractResult<usize> {
		self.layer.nboutputs()
	}

	fn rules<'r, 'p: 'r, 's: 'r>(
		&'s self,
		s: &mut Solver<'r>,
		inputs: &'p [TensorProxy],
		outputs: &'p [TensorProxy],
	) -> InferenceResult {
		s.equals(&inputs[1].shape[0], self.directions.to_dim())?;
		self.layer.rules(s, inputs, outputs)
	}

	fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
		if model.outlet_fact(inputs[1])?.shape[0] != self.directions.to_dim() {
			bail!("weights of another number of directions than {}", self.directions)
		}
		if !self.reverse {
			return self.layer.wire(prefix, model, inputs);
		}
		// The sequence axis of X and Y alike: [seq, …] or, batch first, [batch, seq, …].
		let sequence = ReverseAxis(usize::from(self.layer.batch_first));
		let mut inputs: TVec<OutletId> = inputs.into();
		inputs[0] = model.wire_node(format!("{prefix}.reverse_x"), sequence.clone(), &[inputs[0]])?[0];
		let mut outputs = self.layer.wire(prefix, model, &inputs)?;
		if let Some(y) = self.layer.optional_y_output {
			outputs[y] = model.wire_node(format!("{prefix}.reverse_y"), sequence, &[outputs[y]])?[0];
		}
		Ok(outputs)
	}
}

/// A tensor with one axis reversed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ReverseAxis(usize);

impl ReverseAxis {
	fn eval_one(&self, input: &Tensor) -> TractResult<Tensor> {
		let shape = input.shape();
		if self.0 >= shape.len() || !input.datum_type().is_copy() {
			bail!("cannot reverse axis {} of {:?} {shape:?}", self.0, input.datum_type())
		}
		let (outer, len) = (shape[..self.0].iter().product::<usize>(), shape[self.0]);
		let row = shape[self.0 + 1..].iter().product::<usize>() * input.datum_type().size_of();
		let source = input.try_as_plain_ram()?.as_bytes();
		let mut reversed = Vec::with_capacity(source.len());
		for o in 0..outer {
			for k in (0..len).rev() {
				let from = (o * len + k) * row;
				reversed.extend_from_slice(&source[from..from + row]);
			}
		}
		// The same type and shape as the input, its bytes moved by whole elements.
		let output = unsafe { Tensor::from_raw_dt(input.datum_type(), shape, &reversed)? };
		Ok(output)
	}
}

one_input_op!(ReverseAxis, "ReverseAxis");

impl TypedOp for ReverseAxis {
	as_op!();

	fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
		if self.0 >= inputs[0].rank() {
			bail!("cannot reverse axis {} of a rank {} tensor", self.0, inputs[0].rank())
		}
		Ok(tvec!(inputs[0].without_value()))
	}
}
