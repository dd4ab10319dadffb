//! ONNX `Attention` (opsets 23 and 24): scaled dot-product attention of a query over keys and
//! values, with an optional mask, a key/value cache (`past_key`, `past_value` in, `present_key`,
//! `present_value` out), causal masking aligned to the cache, grouped-query heads, a soft cap on
//! the scores, a count of real (unpadded) keys per batch (`nonpad_kv_seqlen`) and the scores
//! themselves as a fourth output.
//!
//! tract registers its `Attention` only with its transformers feature, which the guest leaves
//! out, and that one refuses soft caps, score outputs and padded key counts and aligns a causal
//! mask to the start of a cache instead of its end. This op follows the ONNX reference
//! (`onnx.reference.ops.op_attention`) expression by expression, in a fixed order: a score is
//! the sum over the head's dimensions, in order, of `(q·s)·(k·s)` with `s = √scale` rounded to
//! f32; a row's softmax subtracts its maximum (a row whose mask hides every key gives zeros),
//! sums in key order and divides; an output element sums probability times value in key order.
//! Everything is f32 but the softmax, which `softmax_precision = DOUBLE` computes in f64.
//! Sliding windows (opset 25) are not implemented: such a model is refused.

use tract_onnx::{model::ParsingContext, pb::NodeProto, tract_hir::internal::*};

use super::{input_slots, output_slots};
use crate::expansion::{Expanded, Rules};

/// What the optional fourth output, `qk_matmul_output`, holds (`qk_matmul_output_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scores {
	/// Mode 0: the scaled products of queries and keys (before any soft cap), as the ONNX text
	/// and onnxruntime define it (the Python reference gives them capped).
	Products,
	/// Mode 1: those, soft-capped if `softcap` is set.
	Capped,
	/// Mode 2: those plus the mask's bias.
	WithBias,
	/// Mode 3: the probabilities after the softmax.
	Probabilities,
}

/// The `Attention` op: inputs Q, K, V and the optional ones at their positions; outputs Y and
/// the optional ones that are wired, in ONNX's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attention {
	q_num_heads: Option<usize>,
	kv_num_heads: Option<usize>,
	is_causal: bool,
	/// `scale` as bits, if given (else 1/√head_size).
	scale: Option<u32>,
	/// `softcap` as bits; a cap ≤ 0 is none.
	softcap: u32,
	softmax_f64: bool,
	scores: Scores,
	/// Positions among the node's inputs of `attn_mask`, `past_key`, `past_value` and
	/// `nonpad_kv_seqlen`.
	mask: Option<usize>,
	past: Option<(usize, usize)>,
	nonpad: Option<usize>,
	/// Whether `present_key`, `present_value` and `qk_matmul_output` are wired.
	present_key: bool,
	present_value: bool,
	qk_output: bool,
}

/// Builds the op for an ONNX `Attention` node.
pub fn attention(_ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
	let inputs = input_slots(node, 3, 7, "Attention takes Q, K, V and at most four optional inputs")?;
	let outputs = output_slots(node, 1, 4, "Attention gives Y and at most three optional outputs")?;
	let past = match (inputs[4], inputs[5]) {
		(Some(key), Some(value)) => Some((key, value)),
		(None, None) => None,
		_ => bail!("past_key and past_value come together"),
	};
	if past.is_some() && inputs[6].is_some() {
		bail!("nonpad_kv_seqlen cannot be combined with a past cache")
	}
	let heads = |name: &str| -> TractResult<Option<usize>> {
		node.get_attr_opt::<i64>(name)?
			.map(|heads| usize::try_from(heads).ok().filter(|heads| *heads > 0).context("heads must be positive"))
			.transpose()
	};
	let scores = match node.get_attr_opt::<i64>("qk_matmul_output_mode")?.unwrap_or(0) {
		0 => Scores::Products,
		1 => Scores::Capped,
		2 => Scores::WithBias,
		3 => Scores::Probabilities,
		other => bail!("qk_matmul_output_mode {other} is not defined"),
	};
	let softmax_f64 = match node.get_attr_opt::<i64>("softmax_precision")? {
		// TensorProto.FLOAT and DOUBLE.
		None | Some(1) => false,
		Some(11) => true,
		Some(other) => bail!("softmax_precision {other} is not implemented"),
	};
	for window in ["left_window_size", "right_window_size"] {
		if node.get_attr_opt::<i64>(window)?.is_some_and(|size| size != -1) {
			bail!("sliding-window attention ({window}) is not implemented")
		}
	}
	let op = Attention {
		q_num_heads: heads("q_num_heads")?,
		kv_num_heads: heads("kv_num_heads")?,
		is_causal: node.get_attr_opt::<i64>("is_causal")?.unwrap_or(0) != 0,
		scale: node.get_attr_opt::<f32>("scale")?.map(f32::to_bits),
		softcap: node.get_attr_opt::<f32>("softcap")?.unwrap_or(0.0).to_bits(),
		softmax_f64,
		scores,
		mask: inputs[3],
		past,
		nonpad: inputs[6],
		present_key: outputs[1].is_some(),
		present_value: outputs[2].is_some(),
		qk_output: outputs[3].is_some(),
	};
	Ok((expand(Expanded(op)), vec![]))
}

/// The sizes of one evaluation, checked against each other.
#[derive(Clone, Copy, Debug)]
struct Dims {
	/// Whether Q, K and V (and Y) are [batch, sequence, heads × head_size] rather than
	/// [batch, heads, sequence, head_size].
	packed: bool,
	batch: usize,
	q_heads: usize,
	kv_heads: usize,
	q_seq: usize,
	kv_seq: usize,
	past_seq: usize,
	head: usize,
	v_head: usize,
}

impl Dims {
	/// Keys in all: the cache's and the new ones ([`Attention::dims`] checked the sum).
	fn total(&self) -> usize {
		self.past_seq + self.kv_seq
	}
}

impl Attention {
	fn input_count(&self) -> usize {
		3 + usize::from(self.mask.is_some()) + 2 * usize::from(self.past.is_some()) + usize::from(self.nonpad.is_some())
	}

	fn output_count(&self) -> usize {
		1 + usize::from(self.present_key) + usize::from(self.present_value) + usize::from(self.qk_output)
	}

	/// The sizes for inputs of `shapes` (in the node's order), or why they do not fit.
	fn dims(&self, shapes: &[&[usize]]) -> TractResult<Dims> {
		let (q, k, v) = (shapes[0], shapes[1], shapes[2]);
		if q.len() != k.len() || q.len() != v.len() {
			bail!("Q, K and V have ranks {}, {} and {}", q.len(), k.len(), v.len())
		}
		let mut dims = match q.len() {
			3 => {
				let (Some(q_heads), Some(kv_heads)) = (self.q_num_heads, self.kv_num_heads) else {
					bail!("Q, K and V of rank 3 need q_num_heads and kv_num_heads")
				};
				if q[2] % q_heads != 0 || k[2] % kv_heads != 0 || v[2] % kv_heads != 0 {
					bail!("hidden sizes {}, {}, {} do not split into heads", q[2], k[2], v[2])
				}
				if q[2] / q_heads != k[2] / kv_heads || k[1] != v[1] {
					bail!("Q {q:?}, K {k:?} and V {v:?} do not fit")
				}
				Dims {
					packed: true,
					batch: q[0],
					q_heads,
					kv_heads,
					q_seq: q[1],
					kv_seq: k[1],
					past_seq: 0,
					head: q[2] / q_heads,
					v_head: v[2] / kv_heads,
				}
			},
			4 => {
				if q[3] != k[3] || k[1] != v[1] || k[2] != v[2] {
					bail!("Q {q:?}, K {k:?} and V {v:?} do not fit")
				}
				if self.q_num_heads.is_some_and(|heads| heads != q[1])
					|| self.kv_num_heads.is_some_and(|heads| heads != k[1])
				{
					bail!("q_num_heads or kv_num_heads differ from Q's or K's heads")
				}
				Dims {
					packed: false,
					batch: q[0],
					q_heads: q[1],
					kv_heads: k[1],
					q_seq: q[2],
					kv_seq: k[2],
					past_seq: 0,
					head: q[3],
					v_head: v[3],
				}
			},
			rank => bail!("Q, K and V have rank {rank}, not 3 or 4"),
		};
		if k[0] != dims.batch || v[0] != dims.batch {
			bail!("Q, K and V have different batches")
		}
		if dims.kv_heads == 0 || dims.q_heads % dims.kv_heads != 0 {
			bail!("{} query heads do not share {} key and value heads", dims.q_heads, dims.kv_heads)
		}
		if let Some((key, value)) = self.past {
			let (past_key, past_value) = (shapes[key], shapes[value]);
			dims.past_seq = past_key.get(2).copied().unwrap_or(0);
			let expected_key = [dims.batch, dims.kv_heads, dims.past_seq, dims.head];
			let expected_value = [dims.batch, dims.kv_heads, dims.past_seq, dims.v_head];
			if past_key != expected_key || past_value != expected_value {
				bail!("past_key {past_key:?} and past_value {past_value:?} do not fit")
			}
		}
		if let Some(mask) = self.mask {
			let mask = shapes[mask];
			let target = [dims.batch, dims.q_heads, dims.q_seq, dims.total()];
			let fits = matches!(mask.len(), 1..=4)
				&& mask.last().is_some_and(|last| *last <= dims.total())
				&& mask.iter().rev().skip(1).zip(target.iter().rev().skip(1)).all(|(m, t)| *m == 1 || m == t);
			if !fits {
				bail!("attn_mask {mask:?} does not broadcast to {target:?}")
			}
		}
		if let Some(nonpad) = self.nonpad {
			if shapes[nonpad] != [dims.batch] {
				bail!("nonpad_kv_seqlen {:?} is not one count per batch", shapes[nonpad])
			}
		}
		// Every output, cache and score row must be addressable (usize is 32 bits in wasm).
		dims.past_seq.checked_add(dims.kv_seq).context("Attention's key count overflows")?;
		let overflows = |sizes: &[usize]| sizes.iter().try_fold(1usize, |size, dim| size.checked_mul(*dim)).is_none();
		let (batch, total) = (dims.batch, dims.total());
		if overflows(&[batch, dims.q_heads, dims.q_seq, total])
			|| overflows(&[batch, dims.q_heads, dims.q_seq, dims.v_head])
			|| overflows(&[batch, dims.kv_heads, total, dims.head.max(dims.v_head)])
			|| overflows(&[dims.q_heads, dims.v_head])
		{
			bail!("Attention's sizes overflow")
		}
		Ok(dims)
	}

	/// The outputs' shapes, in the order they are wired.
	fn output_shapes(&self, dims: &Dims) -> Vec<TVec<usize>> {
		let Dims { batch, q_heads, kv_heads, q_seq, head, v_head, .. } = *dims;
		let total = dims.total();
		let mut shapes = vec![if dims.packed {
			tvec![batch, q_seq, q_heads * v_head]
		} else {
			tvec![batch, q_heads, q_seq, v_head]
		}];
		if self.present_key {
			shapes.push(tvec![batch, kv_heads, total, head]);
		}
		if self.present_value {
			shapes.push(tvec![batch, kv_heads, total, v_head]);
		}
		if self.qk_output {
			shapes.push(tvec![batch, q_heads, q_seq, total]);
		}
		shapes
	}

	/// `√scale` as the reference rounds it: computed in f64, then f32.
	fn scale_root(&self, dims: &Dims) -> f32 {
		let scale = match self.scale {
			Some(bits) => f64::from(f32::from_bits(bits)),
			None => 1.0 / (dims.head as f64).sqrt(),
		};
		scale.sqrt() as f32
	}

	fn eval_f32(&self, inputs: &[TValue]) -> TractResult<TVec<TValue>> {
		let shapes: Vec<&[usize]> = inputs.iter().map(|input| input.shape()).collect();
		let dims = self.dims(&shapes)?;
		let Dims { batch, q_heads, kv_heads, q_seq, kv_seq, past_seq, head, v_head, packed } = dims;
		let total = dims.total();
		let floats = |index: usize| -> TractResult<&[f32]> { inputs[index].try_as_plain_ram()?.as_slice::<f32>() };
		let (q, k, v) = (floats(0)?, floats(1)?, floats(2)?);
		// Element `d` of token `s` of head `h` of batch `b`, for either layout.
		let at = |data: &[f32], heads: usize, seq: usize, size: usize, b: usize, h: usize, s: usize, d: usize| {
			if packed {
				data[((b * seq + s) * heads + h) * size + d]
			} else {
				data[((b * heads + h) * seq + s) * size + d]
			}
		};
		// The cache after this step: [batch, kv_heads, past + new, size], past first.
		let present = |new: &[f32], past: Option<&[f32]>, size: usize| {
			let mut out = Vec::with_capacity(batch * kv_heads * total * size);
			for b in 0..batch {
				for h in 0..kv_heads {
					if let Some(past) = past {
						let start = (b * kv_heads + h) * past_seq * size;
						out.extend_from_slice(&past[start..start + past_seq * size]);
					}
					for s in 0..kv_seq {
						out.extend((0..size).map(|d| at(new, kv_heads, kv_seq, size, b, h, s, d)));
					}
				}
			}
			out
		};
		let (past_key, past_value) = match self.past {
			Some((key, value)) => (Some(floats(key)?), Some(floats(value)?)),
			None => (None, None),
		};
		let keys = present(k, past_key, head);
		let values = present(v, past_value, v_head);

		let root = self.scale_root(&dims);
		let scaled_keys: Vec<f32> = keys.iter().map(|k| k * root).collect();
		let softcap = f32::from_bits(self.softcap);
		let mask = self.mask.map(|index| MaskView::of(&inputs[index], total)).transpose()?;
		let nonpad: Option<Vec<i64>> = self
			.nonpad
			.map(|index| -> TractResult<Vec<i64>> {
				let counts = crate::convert::without_dims(&inputs[index])?;
				Ok(counts.cast_to::<i64>()?.try_as_plain_ram()?.as_slice::<i64>()?.to_vec())
			})
			.transpose()?;

		let mut y = vec![0f32; batch * q_heads * q_seq * v_head];
		let mut qk = if self.qk_output { vec![0f32; batch * q_heads * q_seq * total] } else { vec![] };
		let group = q_heads / kv_heads;
		// One query row's scratch, if there is any row.
		let rows = batch * q_heads * q_seq;
		let scratch = |len: usize| if rows == 0 { vec![] } else { vec![0f32; len] };
		let (mut query, mut logits, mut bias, mut probabilities) =
			(scratch(head), scratch(total), scratch(total), scratch(total));
		for b in 0..batch {
			// Keys a query at in-block index i may see under is_causal: j ≤ i + offset.
			let offset = match &nonpad {
				Some(counts) => counts[b].saturating_sub(q_seq as i64),
				None => past_seq as i64,
			};
			for h in 0..q_heads {
				let kh = h / group;
				for i in 0..q_seq {
					for (d, value) in query.iter_mut().enumerate() {
						*value = at(q, q_heads, q_seq, head, b, h, i, d) * root;
					}
					for j in 0..total {
						let key = &scaled_keys[((b * kv_heads + kh) * total + j) * head..][..head];
						let mut score = query.iter().zip(key).fold(0f32, |sum, (q, k)| sum + q * k);
						if self.qk_output && self.scores == Scores::Products {
							qk[(((b * q_heads + h) * q_seq) + i) * total + j] = score;
						}
						if softcap > 0.0 {
							score = (score / softcap).tanh() * softcap;
						}
						logits[j] = score;
						let masked = mask.as_ref().map(|mask| mask.bias(b, h, i, j));
						let mut value = if self.is_causal {
							let causal =
								if j as i64 <= (i as i64).saturating_add(offset) { 0.0 } else { f32::NEG_INFINITY };
							masked.unwrap_or(0.0) + causal
						} else {
							0.0 + masked.unwrap_or(0.0)
						};
						if let Some(counts) = &nonpad {
							value += if (j as i64) < counts[b] { 0.0 } else { f32::NEG_INFINITY };
						}
						bias[j] = value;
					}
					let row = (((b * q_heads + h) * q_seq) + i) * total;
					if self.qk_output && self.scores == Scores::Capped {
						qk[row..row + total].copy_from_slice(&logits);
					}
					for (logit, bias) in logits.iter_mut().zip(&bias) {
						*logit += bias;
					}
					if self.qk_output && self.scores == Scores::WithBias {
						qk[row..row + total].copy_from_slice(&logits);
					}
					// A row whose bias hides every key attends to nothing.
					if bias.iter().all(|b| *b == f32::NEG_INFINITY) {
						probabilities.fill(0.0);
					} else if self.softmax_f64 {
						softmax_f64(&logits, &mut probabilities);
					} else {
						softmax_f32(&logits, &mut probabilities);
					}
					if self.qk_output && self.scores == Scores::Probabilities {
						qk[row..row + total].copy_from_slice(&probabilities);
					}
					for e in 0..v_head {
						let mut sum = 0f32;
						for (j, p) in probabilities.iter().enumerate() {
							sum += p * values[((b * kv_heads + kh) * total + j) * v_head + e];
						}
						let index = if packed {
							((b * q_seq + i) * q_heads + h) * v_head + e
						} else {
							(((b * q_heads + h) * q_seq) + i) * v_head + e
						};
						y[index] = sum;
					}
				}
			}
		}

		let shapes = self.output_shapes(&dims);
		let mut outputs = tvec![Tensor::from_shape(&shapes[0], &y)?.into_tvalue()];
		let mut next = 1;
		for (wired, data) in [(self.present_key, &keys), (self.present_value, &values), (self.qk_output, &qk)] {
			if wired {
				outputs.push(Tensor::from_shape(&shapes[next], data)?.into_tvalue());
				next += 1;
			}
		}
		Ok(outputs)
	}
}

/// The largest of `values`, NaN if any is NaN (as numpy's `max`).
fn max_of<T: PartialOrd + Copy>(values: &[T], lowest: T) -> T {
	let mut max = lowest;
	for value in values {
		if value.partial_cmp(value).is_none() {
			return *value;
		}
		if *value > max {
			max = *value;
		}
	}
	max
}

/// The reference's softmax of one row: exp(x − max) over their sum, in key order; a row whose
/// maximum is −∞ subtracts 0, and a zero sum divides by 1.
fn softmax_f32(logits: &[f32], out: &mut [f32]) {
	let max = max_of(logits, f32::NEG_INFINITY);
	let max = if max == f32::NEG_INFINITY { 0.0 } else { max };
	let mut sum = 0f32;
	for (o, x) in out.iter_mut().zip(logits) {
		*o = (x - max).exp();
		sum += *o;
	}
	let sum = if sum == 0.0 { 1.0 } else { sum };
	out.iter_mut().for_each(|o| *o /= sum);
}

/// [`softmax_f32`] computed in f64 (`softmax_precision = DOUBLE`), rounded to f32.
fn softmax_f64(logits: &[f32], out: &mut [f32]) {
	let wide: Vec<f64> = logits.iter().map(|x| f64::from(*x)).collect();
	let max = max_of(&wide, f64::NEG_INFINITY);
	let max = if max == f64::NEG_INFINITY { 0.0 } else { max };
	let exps: Vec<f64> = wide.iter().map(|x| (x - max).exp()).collect();
	let sum = exps.iter().fold(0f64, |sum, e| sum + e);
	let sum = if sum == 0.0 { 1.0 } else { sum };
	for (o, e) in out.iter_mut().zip(exps) {
		*o = (e / sum) as f32;
	}
}

/// `attn_mask` as an additive bias, broadcast (right-aligned) to [batch, heads, q, total]
/// and padded on its last axis with −∞ (a boolean mask: false hides a key, true adds 0).
struct MaskView<'a> {
	shape: TVec<usize>,
	values: MaskValues<'a>,
}

enum MaskValues<'a> {
	Bool(&'a [bool]),
	Float(&'a [f32]),
}

impl<'a> MaskView<'a> {
	fn of(mask: &'a Tensor, total: usize) -> TractResult<Self> {
		let plain = mask.try_as_plain_ram()?;
		let values = match mask.datum_type() {
			DatumType::Bool => MaskValues::Bool(plain.as_slice::<bool>()?),
			DatumType::F32 => MaskValues::Float(plain.as_slice::<f32>()?),
			other => bail!("attn_mask of {other:?} is not implemented"),
		};
		if mask.shape().last().is_none_or(|last| *last > total) {
			bail!("attn_mask {:?} is longer than the {total} keys", mask.shape())
		}
		Ok(Self { shape: mask.shape().into(), values })
	}

	fn bias(&self, b: usize, h: usize, i: usize, j: usize) -> f32 {
		let rank = self.shape.len();
		let last = self.shape[rank - 1];
		if j >= last {
			return f32::NEG_INFINITY;
		}
		let coordinates = [b, h, i, j];
		let mut index = 0;
		for (axis, size) in self.shape.iter().enumerate() {
			let coordinate = coordinates[4 - rank + axis];
			index = index * size + if *size == 1 { 0 } else { coordinate };
		}
		match self.values {
			MaskValues::Bool(values) => {
				if values[index] {
					0.0
				} else {
					f32::NEG_INFINITY
				}
			},
			MaskValues::Float(values) => values[index],
		}
	}
}

impl Rules for Attention {
	fn arity(&self) -> (usize, usize) {
		(self.input_count(), self.output_count())
	}

	fn rules<'r, 'p: 'r, 's: 'r>(
		&'s self,
		s: &mut Solver<'r>,
		inputs: &'p [TensorProxy],
		outputs: &'p [TensorProxy],
	) -> InferenceResult {
		for input in &inputs[..3] {
			s.equals(&input.datum_type, f32::datum_type())?;
		}
		for output in outputs {
			s.equals(&output.datum_type, f32::datum_type())?;
		}
		s.given_all(inputs.iter().map(|input| &input.shape), move |s, shapes| {
			let shapes = shapes
				.iter()
				.map(|shape| shape.iter().map(|d| Ok(d.to_usize()?)).collect::<TractResult<Vec<usize>>>())
				.collect::<TractResult<Vec<_>>>()?;
			let shapes: Vec<&[usize]> = shapes.iter().map(|shape| &shape[..]).collect();
			let dims = self.dims(&shapes)?;
			for (output, shape) in outputs.iter().zip(self.output_shapes(&dims)) {
				s.equals(&output.shape, shape.iter().map(|d| d.to_dim()).collect::<TVec<_>>())?;
			}
			Ok(())
		})
	}
}

eval_op!(Attention, |_op| "Attention", |op, inputs| op.eval_f32(inputs));

impl TypedOp for Attention {
	as_op!();

	fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
		let op = self;
		let floats = [Some(0), Some(1), Some(2), op.past.map(|p| p.0), op.past.map(|p| p.1)];
		for index in floats.into_iter().flatten() {
			if inputs[index].datum_type != f32::datum_type() {
				bail!("Attention is implemented for f32, got {:?}", inputs[index].datum_type)
			}
		}
		if let Some(mask) = op.mask {
			if !matches!(inputs[mask].datum_type, DatumType::Bool | DatumType::F32) {
				bail!("attn_mask of {:?} is not implemented", inputs[mask].datum_type)
			}
		}
		if let Some(nonpad) = op.nonpad {
			if !matches!(inputs[nonpad].datum_type, DatumType::I64 | DatumType::TDim) {
				bail!("nonpad_kv_seqlen of {:?} is not int64", inputs[nonpad].datum_type)
			}
		}
		let shapes = inputs
			.iter()
			.map(|fact| fact.shape.as_concrete().context("Attention needs known shapes"))
			.collect::<TractResult<Vec<_>>>()?;
		let dims = op.dims(&shapes)?;
		Ok(op.output_shapes(&dims).into_iter().map(|shape| f32::fact(&shape)).collect())
	}
}
