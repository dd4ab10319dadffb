//! Inputs pinned into a model: a graph input whose value decides a shape (a Reshape's target,
//! a reduction's axes, Slice's starts, TopK's k, Resize's sizes, Pad's pads…) becomes an
//! initializer of that value, so the engine can type the model with fixed shapes.
//!
//! The chain's engine prepares a model once, at registration, for fixed input shapes: its
//! outputs' shapes and its fuel per run are part of the model record. A model whose output
//! shapes depend on the *values* of an input cannot be prepared that way (tract refuses it,
//! `ModelPreparationFailed`); pinning that input fixes the value the model is registered for,
//! and requests give the other inputs. `veriml-node infer --pin` writes the pinned file.
//!
//! The pinned file is the model as the engine reads it (tract's ONNX protobuf messages),
//! re-encoded: what those messages do not describe (the types of sequence or map values)
//! is left out, as the engine never reads it.

use prost::Message;
use tract_onnx::pb;
use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::tensor_shape_proto::dimension::Value as Dim;
use tract_onnx::pb::type_proto::Value as Type;
use veriml_inference_primitives::{DType, EngineError, Tensor};

/// ONNX's element type of a dtype.
fn onnx_type(dtype: DType) -> DataType {
	match dtype {
		DType::F32 => DataType::Float,
		DType::I64 => DataType::Int64,
		DType::I32 => DataType::Int32,
		DType::I8 => DataType::Int8,
		DType::U8 => DataType::Uint8,
		DType::Bool => DataType::Bool,
	}
}

/// Whether `value` fits the type the model declares for an input: the same element type and
/// rank where declared, the same size on every dimension the model fixes.
fn fits_declared(declared: Option<&pb::TypeProto>, value: &Tensor) -> bool {
	let Some(Type::TensorType(tensor)) = declared.and_then(|t| t.value.as_ref()) else {
		// No tensor type declared: the engine types the input from the value alone.
		return declared.is_none_or(|t| t.value.is_none());
	};
	if tensor.elem_type != DataType::Undefined as i32 && tensor.elem_type != onnx_type(value.dtype) as i32 {
		return false;
	}
	let Some(shape) = &tensor.shape else { return true };
	shape.dim.len() == value.shape.len()
		&& shape.dim.iter().zip(&value.shape).all(|(dim, given)| match &dim.value {
			Some(Dim::DimValue(fixed)) => *fixed == i64::from(*given),
			_ => true,
		})
}

/// `model` with the inputs given in `values` pinned: `values` has one entry per input the
/// engine takes (the graph's inputs that are not initializers, in order), `Some(value)` for
/// each input to become an initializer of `value`, `None` for each to stay an input.
///
/// Refuses a file that is no ONNX model (`MalformedModel`), another number of entries than
/// inputs or a value that does not fit the input's declared type (`InputMismatch`), and a
/// malformed value (`MalformedTensor`).
pub fn pin_inputs(model: &[u8], values: Vec<Option<Tensor>>) -> Result<Vec<u8>, EngineError> {
	let mut proto = pb::ModelProto::decode(model).map_err(|_| EngineError::MalformedModel)?;
	let graph = proto.graph.as_mut().ok_or(EngineError::MalformedModel)?;
	let initialized: std::collections::HashSet<String> =
		graph.initializer.iter().map(|tensor| tensor.name.clone()).collect();
	let inputs: Vec<usize> =
		(0..graph.input.len()).filter(|&slot| !initialized.contains(&graph.input[slot].name)).collect();
	if values.len() != inputs.len() {
		return Err(EngineError::InputMismatch);
	}
	let mut pinned = vec![false; graph.input.len()];
	for (slot, value) in inputs.into_iter().zip(values) {
		let Some(value) = value else { continue };
		value.check_well_formed()?;
		let input = &graph.input[slot];
		if !fits_declared(input.r#type.as_ref(), &value) {
			return Err(EngineError::InputMismatch);
		}
		graph.initializer.push(pb::TensorProto {
			name: input.name.clone(),
			dims: value.shape.iter().map(|d| i64::from(*d)).collect(),
			data_type: onnx_type(value.dtype) as i32,
			raw_data: value.data,
			..Default::default()
		});
		pinned[slot] = true;
	}
	let mut slot = 0;
	graph.input.retain(|_| {
		slot += 1;
		!pinned[slot - 1]
	});
	Ok(proto.encode_to_vec())
}
