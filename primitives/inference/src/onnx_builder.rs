//! Tiny ONNX models built in code (protobuf by hand), for tests and benchmarks that must not
//! depend on files: one unary operator over a `[1, width]` float tensor.

use alloc::vec::Vec;

fn varint(out: &mut Vec<u8>, mut value: u64) {
	while value >= 0x80 {
		out.push((value as u8) | 0x80);
		value >>= 7;
	}
	out.push(value as u8);
}

fn field_varint(out: &mut Vec<u8>, field: u32, value: u64) {
	varint(out, (field as u64) << 3);
	varint(out, value);
}

fn field_bytes(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
	varint(out, ((field as u64) << 3) | 2);
	varint(out, bytes.len() as u64);
	out.extend_from_slice(bytes);
}

/// `ValueInfoProto` of a float tensor `[1, width]` named `name`.
fn float_value_info(name: &str, width: u32) -> Vec<u8> {
	let mut shape = Vec::new();
	for dim in [1u64, width as u64] {
		let mut dimension = Vec::new();
		field_varint(&mut dimension, 1, dim);
		field_bytes(&mut shape, 1, &dimension);
	}
	let mut tensor_type = Vec::new();
	field_varint(&mut tensor_type, 1, 1); // elem_type FLOAT
	field_bytes(&mut tensor_type, 2, &shape);
	let mut type_proto = Vec::new();
	field_bytes(&mut type_proto, 1, &tensor_type);
	let mut value_info = Vec::new();
	field_bytes(&mut value_info, 1, name.as_bytes());
	field_bytes(&mut value_info, 2, &type_proto);
	value_info
}

/// A model computing `y = op_type(x)` for `x: f32[1, width]`, with `padding` bytes of doc
/// string (to reach a given file size without changing the work).
pub fn unary_model(op_type: &str, width: u32, padding: usize) -> Vec<u8> {
	let mut node = Vec::new();
	field_bytes(&mut node, 1, b"x");
	field_bytes(&mut node, 2, b"y");
	field_bytes(&mut node, 4, op_type.as_bytes());
	let mut graph = Vec::new();
	field_bytes(&mut graph, 1, &node);
	field_bytes(&mut graph, 2, b"unary");
	field_bytes(&mut graph, 11, &float_value_info("x", width));
	field_bytes(&mut graph, 12, &float_value_info("y", width));
	let mut opset = Vec::new();
	field_bytes(&mut opset, 1, b"");
	field_varint(&mut opset, 2, 13);
	let mut model = Vec::new();
	field_varint(&mut model, 1, 7); // ir_version
	field_bytes(&mut model, 6, &alloc::vec![b' '; padding]);
	field_bytes(&mut model, 7, &graph);
	field_bytes(&mut model, 8, &opset);
	model
}

/// The input spec of [`unary_model`].
pub fn unary_model_input(width: u32) -> crate::TensorSpec {
	crate::TensorSpec::new(crate::DType::F32, &[1, width]).expect("rank 2")
}
