//! Tensors as the chain and the engine exchange them: dtype, shape, little-endian bytes.

use crate::EngineError;
use alloc::vec::Vec;
use bounded_collections::{BoundedVec, ConstU32};
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;

/// Most dimensions a tensor may have.
pub const MAX_RANK: u32 = 8;

/// Element type of a tensor.
#[derive(Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen)]
pub enum DType {
	/// 32-bit IEEE 754 float.
	F32,
	/// 64-bit signed integer.
	I64,
	/// 32-bit signed integer.
	I32,
	/// 8-bit signed integer.
	I8,
	/// 8-bit unsigned integer.
	U8,
	/// Boolean, one byte, 0 or 1.
	Bool,
}

impl DType {
	/// Bytes per element.
	pub const fn size(self) -> usize {
		match self {
			DType::F32 | DType::I32 => 4,
			DType::I64 => 8,
			DType::I8 | DType::U8 | DType::Bool => 1,
		}
	}
}

/// Shape of a tensor: its dimensions, outermost first.
pub type Shape = BoundedVec<u32, ConstU32<MAX_RANK>>;

/// The type of a tensor a model takes or returns: dtype and fixed shape.
#[derive(Encode, Decode, DecodeWithMemTracking, Clone, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen)]
pub struct TensorSpec {
	/// Element type.
	pub dtype: DType,
	/// Dimensions; every one fixed.
	pub shape: Shape,
}

impl TensorSpec {
	/// A spec from a dtype and dimensions; `None` if there are more than [`MAX_RANK`] of them.
	pub fn new(dtype: DType, dims: &[u32]) -> Option<Self> {
		Some(Self { dtype, shape: BoundedVec::try_from(dims.to_vec()).ok()? })
	}

	/// Number of elements, or `None` if it overflows.
	pub fn element_count(&self) -> Option<usize> {
		element_count(&self.shape)
	}

	/// Bytes of a tensor of this spec, or `None` if it overflows.
	pub fn byte_len(&self) -> Option<usize> {
		self.element_count()?.checked_mul(self.dtype.size())
	}
}

fn element_count(dims: &[u32]) -> Option<usize> {
	dims.iter().try_fold(1usize, |acc, d| acc.checked_mul(*d as usize))
}

/// A tensor: dtype, shape and its elements as little-endian bytes, row-major.
#[derive(Encode, Decode, DecodeWithMemTracking, Clone, PartialEq, Eq, Debug, TypeInfo)]
pub struct Tensor {
	/// Element type.
	pub dtype: DType,
	/// Dimensions, outermost first.
	pub shape: Vec<u32>,
	/// Elements, little-endian, row-major.
	pub data: Vec<u8>,
}

impl Tensor {
	/// An all-zero tensor of the given spec; `None` if its size overflows.
	pub fn zeros(spec: &TensorSpec) -> Option<Self> {
		Some(Self { dtype: spec.dtype, shape: spec.shape.to_vec(), data: alloc::vec![0u8; spec.byte_len()?] })
	}

	/// A float tensor from values.
	pub fn from_f32(shape: &[u32], values: &[f32]) -> Self {
		Self { dtype: DType::F32, shape: shape.to_vec(), data: values.iter().flat_map(|v| v.to_le_bytes()).collect() }
	}

	/// The elements of a float tensor; `None` for other dtypes or a malformed tensor.
	pub fn to_f32(&self) -> Option<Vec<f32>> {
		if self.dtype != DType::F32 || self.data.len() % 4 != 0 {
			return None;
		}
		Some(self.data.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
	}

	/// Checks that the byte length matches dtype and shape, and the rank is at most
	/// [`MAX_RANK`].
	pub fn check_well_formed(&self) -> Result<(), EngineError> {
		if self.shape.len() > MAX_RANK as usize {
			return Err(EngineError::MalformedTensor);
		}
		let expected = element_count(&self.shape)
			.and_then(|n| n.checked_mul(self.dtype.size()))
			.ok_or(EngineError::MalformedTensor)?;
		if expected != self.data.len() {
			return Err(EngineError::MalformedTensor);
		}
		if self.dtype == DType::Bool && self.data.iter().any(|b| *b > 1) {
			return Err(EngineError::MalformedTensor);
		}
		Ok(())
	}

	/// Whether this tensor has the dtype and shape of `spec`.
	pub fn matches(&self, spec: &TensorSpec) -> bool {
		self.dtype == spec.dtype && self.shape[..] == spec.shape[..]
	}

	/// The spec of this tensor; `None` if its rank exceeds [`MAX_RANK`].
	pub fn spec(&self) -> Option<TensorSpec> {
		TensorSpec::new(self.dtype, &self.shape)
	}

	/// Puts an output into canonical form: `-0.0` becomes `+0.0`; NaN is refused, since its
	/// payload bits differ between engines and it has no meaningful value to agree on.
	pub fn canonicalize(&mut self) -> Result<(), EngineError> {
		self.check_well_formed()?;
		if self.dtype == DType::F32 {
			for chunk in self.data.chunks_exact_mut(4) {
				let value = f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
				if value.is_nan() {
					return Err(EngineError::NanInOutput);
				}
				if value == 0.0 {
					chunk.copy_from_slice(&0f32.to_le_bytes());
				}
			}
		}
		Ok(())
	}
}

/// Checks inputs against a model's declared specs: same count, each well formed with the
/// spec's dtype and shape.
pub fn check_inputs(inputs: &[Tensor], specs: &[TensorSpec]) -> Result<(), EngineError> {
	if inputs.len() != specs.len() {
		return Err(EngineError::InputMismatch);
	}
	for (input, spec) in inputs.iter().zip(specs) {
		input.check_well_formed()?;
		if !input.matches(spec) {
			return Err(EngineError::InputMismatch);
		}
	}
	Ok(())
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::{input_hash, model_hash, result_hash, ENGINE_VERSION};

	#[test]
	fn canonical_form_turns_negative_zero_positive_and_refuses_nan() {
		let mut t = Tensor::from_f32(&[3], &[-0.0, 1.5, 0.0]);
		t.canonicalize().unwrap();
		assert_eq!(t.data, Tensor::from_f32(&[3], &[0.0, 1.5, 0.0]).data);

		let mut nan = Tensor::from_f32(&[2], &[1.0, f32::NAN]);
		assert_eq!(nan.canonicalize(), Err(EngineError::NanInOutput));
		let mut infinite = Tensor::from_f32(&[1], &[f32::INFINITY]);
		assert_eq!(infinite.canonicalize(), Ok(()));
	}

	#[test]
	fn malformed_tensors_are_refused() {
		let short = Tensor { dtype: DType::F32, shape: vec![2, 2], data: vec![0; 15] };
		assert_eq!(short.check_well_formed(), Err(EngineError::MalformedTensor));
		let overflow = Tensor { dtype: DType::F32, shape: vec![u32::MAX, u32::MAX, u32::MAX], data: vec![] };
		assert_eq!(overflow.check_well_formed(), Err(EngineError::MalformedTensor));
		let bad_bool = Tensor { dtype: DType::Bool, shape: vec![1], data: vec![2] };
		assert_eq!(bad_bool.check_well_formed(), Err(EngineError::MalformedTensor));
		let deep = Tensor { dtype: DType::U8, shape: vec![1; 9], data: vec![0] };
		assert_eq!(deep.check_well_formed(), Err(EngineError::MalformedTensor));
	}

	#[test]
	fn inputs_are_checked_against_specs() {
		let spec = TensorSpec::new(DType::F32, &[1, 2]).unwrap();
		let good = Tensor::from_f32(&[1, 2], &[1.0, 2.0]);
		assert_eq!(check_inputs(core::slice::from_ref(&good), core::slice::from_ref(&spec)), Ok(()));
		let wrong_shape = Tensor::from_f32(&[2, 1], &[1.0, 2.0]);
		assert_eq!(check_inputs(&[wrong_shape], core::slice::from_ref(&spec)), Err(EngineError::InputMismatch));
		assert_eq!(check_inputs(&[], core::slice::from_ref(&spec)), Err(EngineError::InputMismatch));
		let wrong_dtype = Tensor { dtype: DType::I32, shape: vec![1, 2], data: vec![0; 8] };
		assert_eq!(check_inputs(&[wrong_dtype], &[spec]), Err(EngineError::InputMismatch));
	}

	const PINNED_RESULT_HASH: &str = "0xf631fc0b9488f5fff919c23c3aa253dc8f16debaf4388ffdf3a715a788e61ffa";

	#[test]
	fn result_hash_covers_every_part() {
		let model = model_hash(b"model");
		let inputs = [Tensor::from_f32(&[1], &[1.0])];
		let outputs = [Tensor::from_f32(&[1], &[2.0])];
		let h = result_hash(ENGINE_VERSION, &model, &input_hash(&inputs), &outputs);
		assert_ne!(h, result_hash(ENGINE_VERSION + 1, &model, &input_hash(&inputs), &outputs));
		assert_ne!(h, result_hash(ENGINE_VERSION, &model_hash(b"other"), &input_hash(&inputs), &outputs));
		let other_inputs = [Tensor::from_f32(&[1], &[1.5])];
		assert_ne!(h, result_hash(ENGINE_VERSION, &model, &input_hash(&other_inputs), &outputs));
		let other_outputs = [Tensor::from_f32(&[1], &[2.5])];
		assert_ne!(h, result_hash(ENGINE_VERSION, &model, &input_hash(&inputs), &other_outputs));
		// Pinned (at engine version 1): the encoding of a result hash is a consensus value and
		// must never drift.
		let at_version_1 = result_hash(1, &model, &input_hash(&inputs), &outputs);
		assert_eq!(format!("{at_version_1:?}"), PINNED_RESULT_HASH);
	}
}
