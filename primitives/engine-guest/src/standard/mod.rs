//! Operators of the standard domain (`ai.onnx`) that tract lacks, registers only with features
//! the guest leaves out, or computes otherwise than the ONNX reference (recurrent layers run in
//! reverse), each computed as the reference computes it, in a fixed order of operations: the
//! same bits on every node.

mod affine_grid;
mod attention;
mod batch_norm;
mod bit_cast;
mod center_crop_pad;
mod col2im;
mod cum_prod;
mod deform_conv;
mod det;
mod loss;
mod lp_pool;
mod max_unpool;
mod recurrent;
mod tensor_scatter;
mod tf_idf;
mod upsample;
mod wrap_pad;

use tract_onnx::{
	model::{optional_inputs, optional_outputs, OnnxOpRegister, ParsingContext},
	pb::NodeProto,
	tract_hir::internal::*,
};

/// How tract's ONNX parser builds an op from a node.
type Builder = fn(&ParsingContext, &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)>;

/// tract's own builders of the operators this module replaces only in part.
const KEPT_FROM_TRACT: &[&str] = &["BatchNormalization", "Pad"];

static TRACT_BUILDERS: std::sync::OnceLock<Vec<(&'static str, Builder)>> = std::sync::OnceLock::new();

/// tract's own builder of `op` (one of [`KEPT_FROM_TRACT`]), for the nodes this module leaves
/// to it.
pub fn tract_builder(op: &str) -> Option<Builder> {
	TRACT_BUILDERS.get()?.iter().find(|(name, _)| *name == op).map(|(_, builder)| *builder)
}

/// Registers the operators of this module (tract registers `Attention` only with its
/// transformers feature, and differently; its `BatchNormalization` stays for constant
/// statistics in inference mode, its `Pad` for every mode but `wrap`).
pub fn register(register: &mut OnnxOpRegister) {
	let _ = TRACT_BUILDERS.set(
		KEPT_FROM_TRACT.iter().filter_map(|&op| register.0.get(op).map(|builder| (op, *builder))).collect(),
	);
	register.insert("AffineGrid", affine_grid::affine_grid);
	register.insert("Attention", attention::attention);
	register.insert("BatchNormalization", batch_norm::batch_normalization);
	register.insert("BitCast", bit_cast::bit_cast);
	register.insert("CenterCropPad", center_crop_pad::center_crop_pad);
	register.insert("Col2Im", col2im::col2im);
	register.insert("DeformConv", deform_conv::deform_conv);
	register.insert("Det", det::det);
	register.insert("GRU", recurrent::gru);
	register.insert("LSTM", recurrent::lstm);
	register.insert("RNN", recurrent::rnn);
	register.insert("CumProd", cum_prod::cum_prod);
	register.insert("LpPool", lp_pool::lp_pool);
	register.insert("MaxUnpool", max_unpool::max_unpool);
	register.insert("NegativeLogLikelihoodLoss", loss::negative_log_likelihood);
	register.insert("Pad", wrap_pad::pad);
	register.insert("SoftmaxCrossEntropyLoss", loss::softmax_cross_entropy);
	register.insert("TensorScatter", tensor_scatter::tensor_scatter);
	register.insert("TfIdfVectorizer", tf_idf::tf_idf);
	register.insert("Upsample", upsample::upsample);
}

/// Where each of a node's `slots` inputs is among the ones it gives (tract's `optional_inputs`),
/// the first `required` given: `what` says what the op takes, for the refusal.
pub fn input_slots(node: &NodeProto, required: usize, slots: usize, what: &str) -> TractResult<Vec<Option<usize>>> {
	positions(node.input.len(), optional_inputs(node), required, slots, what)
}

/// [`input_slots`] of a node's outputs (tract's `optional_outputs`).
pub fn output_slots(node: &NodeProto, required: usize, slots: usize, what: &str) -> TractResult<Vec<Option<usize>>> {
	positions(node.output.len(), optional_outputs(node), required, slots, what)
}

fn positions(
	listed: usize,
	positions: impl Iterator<Item = Option<usize>>,
	required: usize,
	slots: usize,
	what: &str,
) -> TractResult<Vec<Option<usize>>> {
	let positions: Vec<Option<usize>> = positions.take(slots).collect();
	if listed > slots || positions[..required].iter().any(Option::is_none) {
		bail!("{what}")
	}
	Ok(positions)
}

/// The shapes of `inputs`, each of which must be f32 with a known shape: how an op implemented
/// for f32 only (`what`) reads its inputs' facts to type its outputs.
pub fn f32_shapes<'a>(inputs: &[&'a TypedFact], what: &str) -> TractResult<Vec<&'a [usize]>> {
	inputs
		.iter()
		.map(|input| {
			if input.datum_type != f32::datum_type() {
				bail!("{what} is implemented for f32, got {:?}", input.datum_type)
			}
			input.shape.as_concrete().with_context(|| format!("{what} needs known shapes"))
		})
		.collect()
}

/// The number of elements of a tensor of `shape`, or a refusal naming `what` if it overflows:
/// for ops whose output shapes come from a model's constants.
pub fn checked_count(shape: &[usize], what: &str) -> TractResult<usize> {
	shape
		.iter()
		.try_fold(1usize, |count, dim| count.checked_mul(*dim))
		.with_context(|| format!("{what}: the output's size overflows"))
}

/// The sizes of an input shape tract has inferred, each of them known: how the rules of an op
/// whose output shape follows from its input's read it (`what` names the op).
pub fn known_dims(shape: &[TDim], what: &str) -> TractResult<Vec<usize>> {
	shape.iter().map(|d| d.to_usize().map_err(|_| format_err!("{what} needs a known input shape"))).collect()
}

/// `dims` as an inferred shape.
pub fn inferred_shape(dims: &[usize]) -> TVec<TDim> {
	dims.iter().map(|d| d.to_dim()).collect()
}

/// The value of `input` when an op whose output shape it decides is wired (`what` names the
/// op and the input): a constant of the model, an initializer or an input pinned with
/// `veriml-node infer --pin`.
pub fn constant_input(model: &TypedModel, input: OutletId, what: &str) -> TractResult<Arc<Tensor>> {
	model.outlet_fact(input)?.konst.clone().with_context(|| {
		format!("{what} must be a constant of the model (pin it with veriml-node infer --pin)")
	})
}
