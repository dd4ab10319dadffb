//! Between veriml's tensors (dtype, shape, little-endian bytes) and tract's.

use tract_onnx::prelude::*;
use veriml_inference_primitives::{DType, EngineError, Tensor, TensorSpec};

fn datum_type(dtype: DType) -> DatumType {
	match dtype {
		DType::F32 => DatumType::F32,
		DType::I64 => DatumType::I64,
		DType::I32 => DatumType::I32,
		DType::I8 => DatumType::I8,
		DType::U8 => DatumType::U8,
		DType::Bool => DatumType::Bool,
	}
}

fn dtype(datum_type: DatumType) -> Option<DType> {
	Some(match datum_type {
		DatumType::F32 => DType::F32,
		// tract types integers it can compute while typing (a constant's labels picked by an
		// ArgMax, then cast to int64) as symbolic dimensions; their values are int64s.
		DatumType::I64 | DatumType::TDim => DType::I64,
		DatumType::I32 => DType::I32,
		DatumType::I8 => DType::I8,
		DatumType::U8 => DType::U8,
		DatumType::Bool => DType::Bool,
		_ => return None,
	})
}

/// tract's input fact for a spec.
pub fn fact_of(spec: &TensorSpec) -> TypedFact {
	let dims: Vec<usize> = spec.shape.iter().map(|d| *d as usize).collect();
	datum_type(spec.dtype).fact(&dims)
}

/// Whether `spec` fits what the model declares for an input: the same dtype and rank where
/// declared, and the same size on every dimension the model fixes. Symbolic dimensions (a batch
/// size `N`) and undeclared ones take the spec's value.
pub fn fits_declared(declared: &InferenceFact, spec: &TensorSpec) -> bool {
	use tract_onnx::tract_hir::infer::Factoid;
	if declared.datum_type.concretize().is_some_and(|declared| declared != datum_type(spec.dtype)) {
		return false
	}
	let shape = &declared.shape;
	let rank = shape.dims().count();
	let rank_fits = if shape.is_open() { rank <= spec.shape.len() } else { rank == spec.shape.len() };
	rank_fits &&
		shape.dims().zip(spec.shape.iter()).all(|(dim, given)| {
			dim.concretize().and_then(|d| d.as_i64()).is_none_or(|fixed| fixed == i64::from(*given))
		})
}

/// The spec of a typed output fact: a supported dtype and a fully known shape.
pub fn spec_of(fact: &TypedFact) -> Result<TensorSpec, EngineError> {
	let dtype = dtype(fact.datum_type).ok_or(EngineError::UnsupportedOperator)?;
	let dims = fact.shape.as_concrete().ok_or(EngineError::ModelPreparationFailed)?;
	let dims = dims
		.iter()
		.map(|d| u32::try_from(*d).map_err(|_| EngineError::OutputTooLarge))
		.collect::<Result<Vec<_>, _>>()?;
	TensorSpec::new(dtype, &dims).ok_or(EngineError::ModelPreparationFailed)
}

/// A tract tensor of a well-formed veriml tensor (little-endian bytes: wasm is little-endian).
pub fn to_tract(tensor: &Tensor) -> Result<tract_onnx::prelude::Tensor, EngineError> {
	tensor.check_well_formed()?;
	let shape: Vec<usize> = tensor.shape.iter().map(|d| *d as usize).collect();
	unsafe { tract_onnx::prelude::Tensor::from_raw_dt(datum_type(tensor.dtype), &shape, &tensor.data) }
		.map_err(|_| EngineError::MalformedTensor)
}

/// The type of the values a tensor of `datum_type` holds: a dimension tract computed while
/// typing is an int64 once it is a number (a symbol is no value); other types are themselves.
pub fn value_type(datum_type: DatumType) -> DatumType {
	if datum_type == DatumType::TDim {
		DatumType::I64
	} else {
		datum_type
	}
}

/// `input` with its values in their [`value_type`]: integers tract typed as symbolic dimensions
/// (an int64 input it could compute while typing) as the int64s they are.
pub fn without_dims(
	input: &tract_onnx::prelude::Tensor,
) -> TractResult<std::borrow::Cow<'_, tract_onnx::prelude::Tensor>> {
	input.cast_to_dt(value_type(input.datum_type()))
}

/// A veriml tensor of a tract output, in canonical form.
pub fn from_tract(value: &tract_onnx::prelude::Tensor) -> Result<Tensor, EngineError> {
	let dtype = dtype(value.datum_type()).ok_or(EngineError::UnsupportedOperator)?;
	let shape = value
		.shape()
		.iter()
		.map(|d| u32::try_from(*d).map_err(|_| EngineError::OutputTooLarge))
		.collect::<Result<Vec<_>, _>>()?;
	let value = without_dims(value).map_err(|_| EngineError::ExecutionFailed)?;
	let plain = value.try_as_plain_ram().map_err(|_| EngineError::ExecutionFailed)?;
	let mut tensor = Tensor { dtype, shape, data: plain.as_bytes().to_vec() };
	tensor.canonicalize()?;
	Ok(tensor)
}
