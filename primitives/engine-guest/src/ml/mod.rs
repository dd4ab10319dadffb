//! Operators of the ONNX-ML domain (`ai.onnx.ml`) that tract lacks or implements differently
//! from onnxruntime, the reference the exporters (skl2onnx, onnxmltools) are tested against.
//!
//! Each is a typed op with a fixed order of operations: the same bits on every node. What an
//! operator computes follows onnxruntime's CPU kernels, where the ONNX text leaves a case open
//! (how a two-class ensemble with one score column is labelled, what a target no leaf voted for
//! holds): the outputs of a model are those its author checked against onnxruntime.

mod array_feature_extractor;
mod encoders;
mod preprocess;
mod scaler;
mod svm;
mod tree_ensemble;

use tract_onnx::{model::OnnxOpRegister, pb::NodeProto, tract_hir::internal::*};

/// Registers the operators of this module, in place of tract's where tract has one.
pub fn register(register: &mut OnnxOpRegister) {
	register.insert("TreeEnsembleRegressor", tree_ensemble::regressor);
	register.insert("TreeEnsembleClassifier", tree_ensemble::classifier);
	register.insert("TreeEnsemble", tree_ensemble::unified);
	register.insert("Scaler", scaler::scaler);
	register.insert("Imputer", preprocess::imputer);
	register.insert("Binarizer", preprocess::binarizer);
	register.insert("SVMRegressor", svm::regressor);
	register.insert("SVMClassifier", svm::classifier);
	register.insert("ArrayFeatureExtractor", array_feature_extractor::array_feature_extractor);
	register.insert("OneHotEncoder", encoders::one_hot_encoder);
	register.insert("LabelEncoder", encoders::label_encoder);
}

/// The rows of an input fact of rank 1 (one row) or 2 (a batch): the output's first dimension.
pub fn batch_of(input: &TypedFact) -> TractResult<TDim> {
	match input.rank() {
		1 => Ok(1.into()),
		2 => Ok(input.shape[0].clone()),
		rank => bail!("expected an input of rank 1 or 2, got rank {rank}"),
	}
}

/// The type rule of [`batch_of`]: output 0's first dimension is the input's row count.
fn batch_rule<'r, 'p: 'r>(
	s: &mut Solver<'r>,
	inputs: &'p [TensorProxy],
	outputs: &'p [TensorProxy],
) -> InferenceResult {
	s.given(&inputs[0].rank, move |s, rank| {
		if rank == 2 {
			s.equals(&outputs[0].shape[0], &inputs[0].shape[0])
		} else {
			s.equals(&outputs[0].shape[0], 1.to_dim())
		}
	})
}

/// The types and shapes of an op's outputs for its input, as tract's inference stage checks
/// them before it wires the typed op (every op of this module has one input).
#[derive(Clone, Copy, Debug)]
pub enum Signature {
	/// One output of the input's type and shape.
	SameAsInput,
	/// One f32 output of the input's shape.
	FloatsOfInputShape,
	/// One f32 output of the input's shape with one more axis of `len`.
	FloatsWithAxis { len: usize },
	/// One output of type `to` and the input's shape, for an input of type `from`.
	Mapped { from: DatumType, to: DatumType },
	/// One f32 output [rows, columns] (regressors).
	Scores { columns: usize },
	/// Labels, i64 [rows], and scores, f32 [rows, columns] (classifiers).
	LabelsAndScores { columns: usize },
}

impl Signature {
	fn outputs(&self) -> usize {
		match self {
			Self::LabelsAndScores { .. } => 2,
			_ => 1,
		}
	}
}

/// A typed op of this module: its output types and shapes for tract's inference stage, as one
/// [`Signature`] of its one input.
pub trait Signed: TypedOp + Clone {
	fn signature(&self) -> Signature;
}

pub use crate::expansion::Expanded;

impl<O: Signed> crate::expansion::Rules for O {
	fn arity(&self) -> (usize, usize) {
		(1, self.signature().outputs())
	}

	fn rules<'r, 'p: 'r, 's: 'r>(
		&'s self,
		s: &mut Solver<'r>,
		inputs: &'p [TensorProxy],
		outputs: &'p [TensorProxy],
	) -> InferenceResult {
		match self.signature() {
			Signature::SameAsInput => {
				s.equals(&inputs[0].datum_type, &outputs[0].datum_type)?;
				s.equals(&inputs[0].shape, &outputs[0].shape)
			},
			Signature::FloatsOfInputShape => {
				s.equals(&outputs[0].datum_type, f32::datum_type())?;
				s.equals(&inputs[0].shape, &outputs[0].shape)
			},
			Signature::FloatsWithAxis { len } => {
				s.equals(&outputs[0].datum_type, f32::datum_type())?;
				s.given(&inputs[0].shape, move |s, shape| {
					let mut shape: TVec<TDim> = shape.into_iter().collect();
					shape.push(len.to_dim());
					s.equals(&outputs[0].shape, shape)
				})
			},
			Signature::Mapped { from, to } => {
				s.equals(&inputs[0].datum_type, from)?;
				s.equals(&outputs[0].datum_type, to)?;
				s.equals(&inputs[0].shape, &outputs[0].shape)
			},
			Signature::Scores { columns } => {
				s.equals(&outputs[0].datum_type, f32::datum_type())?;
				s.equals(&outputs[0].rank, 2)?;
				s.equals(&outputs[0].shape[1], columns.to_dim())?;
				batch_rule(s, inputs, outputs)
			},
			Signature::LabelsAndScores { columns } => {
				s.equals(&outputs[0].datum_type, i64::datum_type())?;
				s.equals(&outputs[0].rank, 1)?;
				s.equals(&outputs[1].datum_type, f32::datum_type())?;
				s.equals(&outputs[1].rank, 2)?;
				s.equals(&outputs[1].shape[1], columns.to_dim())?;
				s.equals(&outputs[0].shape[0], &outputs[1].shape[0])?;
				batch_rule(s, inputs, outputs)
			},
		}
	}
}

/// How scores are transformed after aggregation (`post_transform`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PostTransform {
	None,
	Softmax,
	Logistic,
	SoftmaxZero,
	Probit,
}

impl PostTransform {
	fn parse(node: &NodeProto) -> TractResult<Self> {
		Ok(match node.get_attr_opt::<&str>("post_transform")?.unwrap_or("NONE") {
			"NONE" => Self::None,
			"SOFTMAX" => Self::Softmax,
			"LOGISTIC" => Self::Logistic,
			"SOFTMAX_ZERO" => Self::SoftmaxZero,
			"PROBIT" => Self::Probit,
			other => bail!("unknown post_transform {other}"),
		})
	}
}

/// onnxruntime's logistic function, symmetric around 0.
pub fn logistic(value: f32) -> f32 {
	let v = 1.0 / (1.0 + (-value.abs()).exp());
	if value < 0.0 {
		1.0 - v
	} else {
		v
	}
}

/// onnxruntime's approximation of the inverse error function, which its `PROBIT` uses.
fn erf_inv(x: f32) -> f32 {
	let sign = if x < 0.0 { -1.0f32 } else { 1.0 };
	let x = (1.0 - x) * (1.0 + x);
	let log = x.ln();
	let v = 2.0 / (std::f32::consts::PI * 0.147) + 0.5 * log;
	let v2 = 1.0 / 0.147f32 * log;
	let v3 = -v + (v * v - v2).sqrt();
	sign * v3.sqrt()
}

/// `PROBIT`: the quantile of the standard normal distribution.
pub fn probit(value: f32) -> f32 {
	std::f32::consts::SQRT_2 * erf_inv(2.0 * value - 1.0)
}

/// Softmax over `values` in place, in onnxruntime's order of operations.
pub fn softmax(values: &mut [f32]) {
	let max = values.iter().fold(-f32::MAX, |max, v| if *v > max { *v } else { max });
	let mut sum = 0f32;
	for v in values.iter_mut() {
		*v = (*v - max).exp();
		sum += *v;
	}
	for v in values.iter_mut() {
		*v /= sum;
	}
}

/// Softmax that leaves zeros (|v| ≤ 1e-7) at zero: onnxruntime's `SOFTMAX_ZERO`.
pub fn softmax_zero(values: &mut [f32]) {
	let max = values.iter().fold(-f32::MAX, |max, v| if *v > max { *v } else { max });
	let exp_neg_max = (-max).exp();
	let mut sum = 0f32;
	for v in values.iter_mut() {
		if *v > 0.000_000_1 || *v < -0.000_000_1 {
			*v = (*v - max).exp();
			sum += *v;
		} else {
			*v *= exp_neg_max;
		}
	}
	for v in values.iter_mut() {
		*v /= sum;
	}
}

/// Applies `transform` to the scores of one row (two or more of them), as onnxruntime does.
pub fn transform_row(transform: PostTransform, scores: &mut [f32]) {
	match transform {
		PostTransform::None => {},
		PostTransform::Logistic => scores.iter_mut().for_each(|v| *v = logistic(*v)),
		PostTransform::Probit => scores.iter_mut().for_each(|v| *v = probit(*v)),
		PostTransform::Softmax => softmax(scores),
		PostTransform::SoftmaxZero => softmax_zero(scores),
	}
}

/// A list attribute of floats, or its `_as_tensor` form of doubles: the values as f64, and
/// whether they were given as doubles (so sums run in f64, as in onnxruntime).
fn floats_or_doubles(
	ctx: &tract_onnx::model::ParsingContext,
	node: &NodeProto,
	name: &str,
) -> TractResult<Option<(Vec<f64>, bool)>> {
	let as_tensor = format!("{name}_as_tensor");
	if let Some(proto) = node.get_attr_opt::<&tract_onnx::pb::TensorProto>(&as_tensor)? {
		let tensor = ctx.load_tensor(proto)?;
		let doubles = tensor.cast_to::<f64>()?;
		let values = doubles.try_as_plain_ram()?.as_slice::<f64>()?.to_vec();
		return Ok(Some((values, tensor.datum_type() == f64::datum_type())));
	}
	Ok(node.get_attr_opt_vec::<f32>(name)?.map(|v| (v.into_iter().map(f64::from).collect(), false)))
}

/// (rows, features) of a rank-1 (one row) or rank-2 input.
pub fn input_rows(input: &Tensor) -> TractResult<(usize, usize)> {
	match input.rank() {
		1 => Ok((1, input.shape()[0])),
		2 => Ok((input.shape()[0], input.shape()[1])),
		rank => bail!("expected an input of rank 1 or 2, got rank {rank}"),
	}
}

/// The input's values as f64, each first rounded to f32 unless `doubles`: the value onnxruntime
/// compares with a threshold of that width (an integer converted to it directly).
pub fn input_values(input: &Tensor, doubles: bool) -> TractResult<Vec<f64>> {
	let input = crate::convert::without_dims(input)?;
	let plain = input.try_as_plain_ram()?;
	Ok(match (input.datum_type(), doubles) {
		(DatumType::F32, _) => plain.as_slice::<f32>()?.iter().map(|v| f64::from(*v)).collect(),
		(DatumType::F64, true) => plain.as_slice::<f64>()?.to_vec(),
		(DatumType::F64, false) => plain.as_slice::<f64>()?.iter().map(|v| f64::from(*v as f32)).collect(),
		(DatumType::I64, true) => plain.as_slice::<i64>()?.iter().map(|v| *v as f64).collect(),
		(DatumType::I64, false) => plain.as_slice::<i64>()?.iter().map(|v| f64::from(*v as f32)).collect(),
		(DatumType::I32, true) => plain.as_slice::<i32>()?.iter().map(|v| f64::from(*v)).collect(),
		(DatumType::I32, false) => plain.as_slice::<i32>()?.iter().map(|v| f64::from(*v as f32)).collect(),
		(other, _) => bail!("unsupported input type {other:?}"),
	})
}
