//! `TensorScatter` (opset 24): a key/value cache with an update written into it along the
//! sequence axis, at each batch's write index (`linear`) or around the cache's end
//! (`circular`), as decoders update their caches. The output has the cache's shape and type;
//! an index outside the cache fails the run.

use tract_onnx::{model::ParsingContext, pb::NodeProto, tract_hir::internal::*};

use super::input_slots;
use crate::expansion::{Expanded, Rules};

/// `TensorScatter` with its attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorScatter {
	/// `axis` as given (negative from the end).
	axis: i64,
	circular: bool,
	/// Whether `write_indices` is given (else every batch writes at 0).
	indexed: bool,
}

/// Builds the op for an ONNX `TensorScatter` node.
pub fn tensor_scatter(_ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
	let inputs = input_slots(node, 2, 3, "TensorScatter takes a cache, an update and optional write indices")?;
	let circular = match node.get_attr_opt::<&str>("mode")?.unwrap_or("linear") {
		"linear" => false,
		"circular" => true,
		other => bail!("unknown mode {other}"),
	};
	let axis = node.get_attr_opt::<i64>("axis")?.unwrap_or(-2);
	Ok((expand(Expanded(TensorScatter { axis, circular, indexed: inputs[2].is_some() })), vec![]))
}

impl TensorScatter {
	/// The axis, checked against the cache's and the update's shapes.
	fn axis(&self, cache: &[usize], update: &[usize]) -> TractResult<usize> {
		let rank = cache.len() as i64;
		let axis = usize::try_from(if self.axis < 0 { self.axis + rank } else { self.axis })
			.ok()
			.filter(|axis| *axis >= 1 && *axis < cache.len())
			.context("TensorScatter's axis is out of range")?;
		let fits = update.len() == cache.len()
			&& (0..cache.len()).all(|i| if i == axis { update[i] <= cache[i] } else { update[i] == cache[i] });
		if !fits {
			bail!("an update {update:?} does not fit a cache {cache:?} on axis {axis}")
		}
		Ok(axis)
	}

	fn eval_inputs(&self, inputs: &[TValue]) -> TractResult<TVec<TValue>> {
		let (cache, update) = (&inputs[0], &inputs[1]);
		if cache.datum_type() != update.datum_type() || !cache.datum_type().is_copy() {
			bail!("a cache of {:?} and an update of {:?}", cache.datum_type(), update.datum_type())
		}
		let axis = self.axis(cache.shape(), update.shape())?;
		let batch = cache.shape()[0];
		let indices = if self.indexed {
			let indices = crate::convert::without_dims(&inputs[2])?;
			let indices = indices.cast_to::<i64>()?.try_as_plain_ram()?.as_slice::<i64>()?.to_vec();
			if indices.len() != batch {
				bail!("{} write indices for a batch of {batch}", indices.len())
			}
			indices
		} else {
			vec![0; batch]
		};
		let (max_len, len) = (cache.shape()[axis], update.shape()[axis]);
		let outer: usize = cache.shape()[..axis].iter().product();
		let row = cache.shape()[axis + 1..].iter().product::<usize>() * cache.datum_type().size_of();
		let mut present = cache.clone().into_tensor();
		let source = update.try_as_plain_ram()?.as_bytes();
		let mut plain = present.try_as_plain_ram_mut()?;
		let target = plain.as_bytes_mut();
		for prefix in 0..outer {
			// The batch is the first axis: every prefix of `outer / batch` prefixes shares it.
			let start = indices[prefix / (outer / batch.max(1)).max(1)];
			for s in 0..len {
				let mut at = start.checked_add(s as i64).context("a write index overflows")?;
				if self.circular {
					at = at.rem_euclid(max_len.max(1) as i64);
				}
				let at = usize::try_from(at)
					.ok()
					.filter(|at| *at < max_len)
					.context("a write index is outside the cache")?;
				let (from, to) = (((prefix * len) + s) * row, ((prefix * max_len) + at) * row);
				target[to..to + row].copy_from_slice(&source[from..from + row]);
			}
		}
		drop(plain);
		Ok(tvec!(present.into_tvalue()))
	}
}

impl Rules for TensorScatter {
	fn arity(&self) -> (usize, usize) {
		(2 + usize::from(self.indexed), 1)
	}

	fn rules<'r, 'p: 'r, 's: 'r>(
		&'s self,
		s: &mut Solver<'r>,
		inputs: &'p [TensorProxy],
		outputs: &'p [TensorProxy],
	) -> InferenceResult {
		s.equals(&inputs[0].datum_type, &outputs[0].datum_type)?;
		s.equals(&inputs[0].shape, &outputs[0].shape)
	}
}

eval_op!(TensorScatter, |_op| "TensorScatter", |op, inputs| op.eval_inputs(inputs));

impl TypedOp for TensorScatter {
	as_op!();

	fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
		let (cache, update) = (inputs[0], inputs[1]);
		if let (Some(cache_shape), Some(update_shape)) = (cache.shape.as_concrete(), update.shape.as_concrete()) {
			self.axis(cache_shape, update_shape)?;
		}
		if cache.datum_type != update.datum_type {
			bail!("a cache of {:?} and an update of {:?}", cache.datum_type, update.datum_type)
		}
		Ok(tvec!(cache.datum_type.fact(cache.shape.clone())))
	}
}
