//! `SVMRegressor` and `SVMClassifier` (ai.onnx.ml 1): what scikit-learn's `SVR`, `SVC` and
//! `NuSVC`/`NuSVR` export (libsvm's dual form), and linear models in liblinear's form.
//!
//! As onnxruntime computes them: inputs as f32; kernels LINEAR, POLY, RBF, SIGMOID with
//! `kernel_params` (gamma, coef0, degree); a classifier's one-against-one decisions summed in
//! f64 from f32 products, labelled by votes; probabilities by pairwise coupling (Platt's
//! sigmoid, then `multiclass_probability`'s fixed 100 rounds at most); the binary cases' score
//! columns as onnxruntime writes them. Sums run in index order, so every node gets the same bits.

use tract_onnx::{model::ParsingContext, pb::NodeProto, tract_hir::internal::*};

use super::{
	batch_of, input_rows, input_values, logistic, probit, transform_row, Expanded, PostTransform, Signature, Signed,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KernelType {
	Linear,
	Poly,
	Rbf,
	Sigmoid,
}

/// A kernel with its parameters.
#[derive(Clone, Copy, Debug)]
struct Kernel {
	kind: KernelType,
	gamma: f32,
	coef0: f32,
	degree: f32,
}

impl Kernel {
	/// liblinear's form: a dot product.
	const LINEAR: Self = Self { kind: KernelType::Linear, gamma: 0.0, coef0: 0.0, degree: 0.0 };

	fn parse(node: &NodeProto) -> TractResult<Self> {
		let kind = match node.get_attr_opt::<&str>("kernel_type")?.unwrap_or("LINEAR") {
			"LINEAR" => KernelType::Linear,
			"POLY" => KernelType::Poly,
			"RBF" => KernelType::Rbf,
			"SIGMOID" => KernelType::Sigmoid,
			other => bail!("unknown kernel_type {other}"),
		};
		let params = node.get_attr_opt_vec::<f32>("kernel_params")?.unwrap_or_default();
		let param = |i: usize| params.get(i).copied().unwrap_or(0.0);
		node.expect_attr("kernel_params", params.is_empty() || params.len() == 3, "gamma, coef0 and degree")?;
		Ok(Self { kind, gamma: param(0), coef0: param(1), degree: param(2) })
	}

	/// The kernel of `x` and `v`; `constant` is added to a linear kernel's dot product.
	fn apply(&self, x: &[f32], v: &[f32], constant: f32) -> f32 {
		let Self { gamma, coef0, degree, .. } = *self;
		let dot = || x.iter().zip(v).fold(0f32, |sum, (a, b)| sum + a * b);
		match self.kind {
			KernelType::Linear => dot() + constant,
			KernelType::Poly => {
				let base = gamma * dot() + coef0;
				if degree == 2.0 {
					base * base
				} else if degree == 3.0 {
					base * base * base
				} else {
					base.powf(degree)
				}
			},
			KernelType::Sigmoid => (gamma * dot() + coef0).tanh(),
			KernelType::Rbf => {
				let squares = x.iter().zip(v).fold(0f32, |sum, (a, b)| {
					let d = a - b;
					sum + d * d
				});
				(-gamma * squares).exp()
			},
		}
	}
}

fn floats(node: &NodeProto, name: &str) -> TractResult<Vec<f32>> {
	Ok(node.get_attr_opt_vec::<f32>(name)?.unwrap_or_default())
}

/// The input as f32 rows, as onnxruntime converts it.
fn input_f32(input: &Tensor, features: usize) -> TractResult<(Vec<f32>, usize)> {
	let (rows, given) = input_rows(input)?;
	if given != features {
		bail!("the model takes {features} features, the input has {given}")
	}
	let values = input_values(input, false)?.into_iter().map(|v| v as f32).collect();
	Ok((values, rows))
}

fn check_features_of(input: &TypedFact, features: usize) -> TractResult<TDim> {
	let batch = batch_of(input)?;
	if let Ok(given) = input.shape[input.rank() - 1].to_usize() {
		if given != features {
			bail!("the model takes {features} features, the input has {given}")
		}
	}
	Ok(batch)
}

/// A count of an attribute as a `usize`, refused where it does not fit.
fn count(value: i64, what: &str) -> TractResult<usize> {
	usize::try_from(value).map_err(|_| format_err!("{what} {value} is out of range"))
}

/// A model's parameters, read once when it is loaded.
#[derive(Debug)]
struct Params {
	kernel: Kernel,
	/// Support vectors, [vectors × features] (of each class in turn); none in liblinear's form.
	support_vectors: Vec<f32>,
	coefficients: Vec<f32>,
	rho: Vec<f32>,
	prob_a: Vec<f32>,
	prob_b: Vec<f32>,
	features: usize,
}

/// `SVMRegressor`: [N, F] (or [F]) → [N, 1] f32.
#[derive(Debug, Clone)]
pub struct SvmRegressor {
	params: Arc<Params>,
	one_class: bool,
}

/// Builds the op for an ONNX `SVMRegressor` node.
pub fn regressor(_ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
	let vectors = count(node.get_attr_opt("n_supports")?.unwrap_or(0), "n_supports")?;
	let support_vectors = floats(node, "support_vectors")?;
	let coefficients = floats(node, "coefficients")?;
	let rho = floats(node, "rho")?;
	node.expect_attr("rho", !rho.is_empty(), "a value")?;
	node.expect_attr("coefficients", !coefficients.is_empty(), "values")?;
	let (kernel, features) = if vectors > 0 {
		node.expect_attr(
			"support_vectors",
			support_vectors.len() % vectors == 0 && !support_vectors.is_empty(),
			|| format!("{vectors} vectors of one length, got {} values", support_vectors.len()),
		)?;
		node.expect_attr("coefficients", coefficients.len() == vectors, "one per support vector")?;
		(Kernel::parse(node)?, support_vectors.len() / vectors)
	} else {
		(Kernel::LINEAR, coefficients.len())
	};
	let post_transform = PostTransform::parse(node)?;
	node.expect_attr("post_transform", post_transform == PostTransform::None, "NONE")?;
	let params = Params {
		kernel,
		support_vectors: if vectors > 0 { support_vectors } else { vec![] },
		coefficients,
		rho,
		prob_a: vec![],
		prob_b: vec![],
		features,
	};
	let one_class = node.get_attr_opt::<i64>("one_class")?.unwrap_or(0) != 0;
	Ok((expand(Expanded(SvmRegressor { params: Arc::new(params), one_class })), vec![]))
}

impl Signed for SvmRegressor {
	fn signature(&self) -> Signature {
		Signature::Scores { columns: 1 }
	}
}

impl SvmRegressor {
	fn eval_one(&self, input: &Tensor) -> TractResult<Tensor> {
		let Params { kernel, support_vectors, coefficients, rho, features, .. } = &*self.params;
		let (x, rows) = input_f32(input, *features)?;
		let output: Vec<f32> = x
			.chunks_exact(*features)
			.take(rows)
			.map(|x| {
				let value = if support_vectors.is_empty() {
					kernel.apply(x, coefficients, rho[0])
				} else {
					let sum = support_vectors
						.chunks_exact(*features)
						.zip(coefficients)
						.fold(0f32, |sum, (v, c)| sum + kernel.apply(x, v, 0.0) * c);
					sum + rho[0]
				};
				match (self.one_class, value > 0.0) {
					(false, _) => value,
					(true, true) => 1.0,
					(true, false) => -1.0,
				}
			})
			.collect();
		Tensor::from_shape(&[rows, 1], &output)
	}
}

impl PartialEq for SvmRegressor {
	fn eq(&self, other: &Self) -> bool {
		Arc::ptr_eq(&self.params, &other.params) && self.one_class == other.one_class
	}
}
impl Eq for SvmRegressor {}

one_input_op!(SvmRegressor, "SVMRegressor");

impl TypedOp for SvmRegressor {
	as_op!();

	fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
		let batch = check_features_of(inputs[0], self.params.features)?;
		Ok(tvec!(f32::fact(&[batch, 1.to_dim()])))
	}
}

/// `SVMClassifier`: [N, F] (or [F]) → labels [N] i64 and scores [N, columns] f32.
#[derive(Debug, Clone)]
pub struct SvmClassifier {
	params: Arc<Params>,
	labels: Vec<i64>,
	/// Support vectors per class, and where each class's start; none in liblinear's form.
	vectors_per_class: Vec<usize>,
	starts: Vec<usize>,
	post_transform: PostTransform,
	weights_positive: bool,
}

/// Builds the op for an ONNX `SVMClassifier` node (integer class labels).
pub fn classifier(_ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
	if node.get_attr_opt_tvec::<&str>("classlabels_strings")?.is_some() {
		bail!("string class labels: the engine's outputs are numbers (relabel the classes as integers)")
	}
	let labels = node.get_attr_slice::<i64>("classlabels_ints")?.to_vec();
	let classes = labels.len();
	node.expect_attr("classlabels_ints", classes >= 2, "two classes or more")?;
	// The pairwise probabilities are a classes × classes matrix.
	classes.checked_mul(classes).ok_or_else(|| format_err!("{classes} classes are more than can be paired"))?;
	let pairs = classes * (classes - 1) / 2;
	let vectors_per_class = node
		.get_attr_opt_slice::<i64>("vectors_per_class")?
		.unwrap_or(&[])
		.iter()
		.map(|&n| count(n, "vectors_per_class holds"))
		.collect::<TractResult<Vec<_>>>()?;
	let vectors = vectors_per_class
		.iter()
		.try_fold(0usize, |sum, n| sum.checked_add(*n))
		.ok_or_else(|| format_err!("vectors_per_class adds up to more than a count holds"))?;
	let support_vectors = floats(node, "support_vectors")?;
	let coefficients = floats(node, "coefficients")?;
	let rho = floats(node, "rho")?;
	let (prob_a, prob_b) = (floats(node, "prob_a")?, floats(node, "prob_b")?);
	node.expect_attr("prob_b", prob_a.len() == prob_b.len(), "as many values as prob_a")?;
	node.expect_attr("prob_a", prob_a.is_empty() || prob_a.len() >= pairs, "one per pair of classes")?;
	let (kernel, features) = if vectors > 0 {
		node.expect_attr("vectors_per_class", vectors_per_class.len() == classes, "one count per class")?;
		node.expect_attr(
			"support_vectors",
			support_vectors.len() % vectors == 0 && !support_vectors.is_empty(),
			|| format!("{vectors} vectors of one length, got {} values", support_vectors.len()),
		)?;
		node.expect_attr(
			"coefficients",
			(classes - 1).checked_mul(vectors) == Some(coefficients.len()),
			"(classes - 1) per vector",
		)?;
		node.expect_attr("rho", rho.len() >= pairs, "one per pair of classes")?;
		(Kernel::parse(node)?, support_vectors.len() / vectors)
	} else {
		node.expect_attr(
			"coefficients",
			!coefficients.is_empty() && coefficients.len() % classes == 0,
			"one row per class",
		)?;
		node.expect_attr("rho", !rho.is_empty(), "a value")?;
		node.expect_attr("prob_a", prob_a.is_empty(), "none in liblinear's form")?;
		(Kernel::LINEAR, coefficients.len() / classes)
	};
	let vectors_per_class = if vectors > 0 { vectors_per_class } else { vec![] };
	let starts = vectors_per_class
		.iter()
		.scan(0, |start, n| {
			let this = *start;
			*start += n;
			Some(this)
		})
		.collect();
	let op = SvmClassifier {
		labels,
		vectors_per_class,
		starts,
		weights_positive: coefficients.iter().all(|c| *c >= 0.0),
		post_transform: PostTransform::parse(node)?,
		params: Arc::new(Params {
			kernel,
			support_vectors: if vectors > 0 { support_vectors } else { vec![] },
			coefficients,
			rho,
			prob_a,
			prob_b,
			features,
		}),
	};
	Ok((expand(Expanded(op)), vec![]))
}

impl Signed for SvmClassifier {
	fn signature(&self) -> Signature {
		Signature::LabelsAndScores { columns: self.columns() }
	}
}

/// libsvm's pairwise coupling of probabilities (`r`, classes × classes) into one per class,
/// in onnxruntime's f32 arithmetic and order.
fn multiclass_probability(classes: usize, r: &[f32], p: &mut [f32]) {
	let mut q = vec![0f32; classes * classes];
	let mut qp = vec![0f32; classes];
	let eps = 0.005f32 / classes as f32;
	for i in 0..classes {
		p[i] = 1.0 / classes as f32;
		for j in 0..i {
			q[i * classes + i] += r[j * classes + i] * r[j * classes + i];
			q[i * classes + j] = q[j * classes + i];
		}
		for j in i + 1..classes {
			q[i * classes + i] += r[j * classes + i] * r[j * classes + i];
			q[i * classes + j] = -r[j * classes + i] * r[i * classes + j];
		}
	}
	for _ in 0..100 {
		let mut pqp = 0f32;
		for i in 0..classes {
			qp[i] = 0.0;
			for j in 0..classes {
				qp[i] += q[i * classes + j] * p[j];
			}
			pqp += p[i] * qp[i];
		}
		let max_error = qp.iter().fold(0f32, |max, v| {
			let error = (v - pqp).abs();
			if error > max {
				error
			} else {
				max
			}
		});
		if max_error < eps {
			break;
		}
		for i in 0..classes {
			let diff = (-qp[i] + pqp) / q[i * classes + i];
			p[i] += diff;
			pqp = (pqp + diff * (diff * q[i * classes + i] + 2.0 * qp[i])) / (1.0 + diff) / (1.0 + diff);
			for j in 0..classes {
				qp[j] = (qp[j] + diff * q[i * classes + j]) / (1.0 + diff);
				p[j] /= 1.0 + diff;
			}
		}
	}
}

/// The index of the first largest value.
fn first_max<T: PartialOrd + Copy>(values: &[T]) -> usize {
	let mut best = 0;
	for (i, v) in values.iter().enumerate() {
		if *v > values[best] {
			best = i;
		}
	}
	best
}

impl SvmClassifier {
	fn classes(&self) -> usize {
		self.labels.len()
	}

	fn pairs(&self) -> usize {
		self.classes() * (self.classes() - 1) / 2
	}

	/// Score columns per row: one per class, except libsvm's form without probabilities,
	/// one per pair of classes (two for two classes).
	fn columns(&self) -> usize {
		if !self.params.support_vectors.is_empty() && self.params.prob_a.is_empty() {
			if self.classes() > 2 {
				self.pairs()
			} else {
				2
			}
		} else {
			self.classes()
		}
	}

	/// One row's label and scores.
	fn row(&self, x: &[f32], out: &mut [f32]) -> i64 {
		let Params { kernel, support_vectors, coefficients, rho, prob_a, prob_b, features } = &*self.params;
		let classes = self.classes();
		if support_vectors.is_empty() {
			// liblinear: one linear score per class, the first rho added to each.
			for (o, class) in out.iter_mut().zip(coefficients.chunks_exact(*features)) {
				*o = kernel.apply(x, class, rho[0]);
			}
			let best = first_max(out);
			let label = self.label_of_two(out[best], best);
			transform_row(self.post_transform, out);
			return label;
		}
		let vectors = support_vectors.len() / features;
		let kernels: Vec<f32> = support_vectors.chunks_exact(*features).map(|v| kernel.apply(x, v, 0.0)).collect();
		let mut votes = vec![0u32; classes];
		let mut pair_scores = Vec::with_capacity(self.pairs());
		for i in 0..classes - 1 {
			for j in i + 1..classes {
				let mut sum = 0f64;
				let (i_start, j_start) = (self.starts[i], self.starts[j]);
				for m in 0..self.vectors_per_class[i] {
					sum += f64::from(coefficients[(j - 1) * vectors + i_start + m] * kernels[i_start + m]);
				}
				for m in 0..self.vectors_per_class[j] {
					sum += f64::from(coefficients[i * vectors + j_start + m] * kernels[j_start + m]);
				}
				sum += f64::from(rho[pair_scores.len()]);
				pair_scores.push(sum as f32);
				votes[if sum > 0.0 { i } else { j }] += 1;
			}
		}
		let best = first_max(&votes);
		if !prob_a.is_empty() {
			let mut pairwise = vec![0f32; classes * classes];
			let mut index = 0;
			for i in 0..classes - 1 {
				for j in i + 1..classes {
					let p = 1.0 - logistic(pair_scores[index] * prob_a[index] + prob_b[index]);
					let p = p.max(1.0e-7).min(1.0 - 1.0e-7);
					pairwise[i * classes + j] = p;
					pairwise[j * classes + i] = 1.0 - p;
					index += 1;
				}
			}
			multiclass_probability(classes, &pairwise, out);
			transform_row(self.post_transform, out);
			return self.labels[best];
		}
		let label = self.label_of_two(0.0, best);
		if classes > 2 {
			out.copy_from_slice(&pair_scores);
			transform_row(self.post_transform, out);
		} else {
			// One decision for two classes: onnxruntime writes it with its opposite.
			let score = pair_scores[0];
			match self.post_transform {
				PostTransform::Probit => (out[0], out[1]) = (probit(score), 0.0),
				PostTransform::None => (out[0], out[1]) = (-score, score),
				_ => (out[0], out[1]) = (1.0 - score, score),
			}
		}
		label
	}

	/// onnxruntime's `ChooseClass` without probabilities: with two classes, a large enough
	/// score picks the second class; otherwise the class found best.
	fn label_of_two(&self, max_weight: f32, best: usize) -> i64 {
		let second = if self.weights_positive { max_weight >= 0.5 } else { max_weight > 0.0 };
		if self.classes() == 2 && second {
			return self.labels[1];
		}
		self.labels[best]
	}

	fn eval_one(&self, input: &Tensor) -> TractResult<(Tensor, Tensor)> {
		let features = self.params.features;
		let (x, rows) = input_f32(input, features)?;
		let columns = self.columns();
		let mut labels = Vec::with_capacity(rows);
		let mut scores = vec![0f32; rows * columns];
		for (x, out) in x.chunks_exact(features).zip(scores.chunks_exact_mut(columns)) {
			labels.push(self.row(x, out));
		}
		Ok((Tensor::from_shape(&[rows], &labels)?, Tensor::from_shape(&[rows, columns], &scores)?))
	}
}

impl PartialEq for SvmClassifier {
	fn eq(&self, other: &Self) -> bool {
		Arc::ptr_eq(&self.params, &other.params)
	}
}
impl Eq for SvmClassifier {}

one_input_op!(SvmClassifier, "SVMClassifier");

impl TypedOp for SvmClassifier {
	as_op!();

	fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
		let batch = check_features_of(inputs[0], self.params.features)?;
		Ok(tvec!(i64::fact(&[batch.clone()]), f32::fact(&[batch, self.columns().to_dim()])))
	}
}
