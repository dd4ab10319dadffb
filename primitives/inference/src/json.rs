//! Tensors as JSON, for the `infer` command, tests and scripts:
//! `{"inputs": [{"dtype": "f32", "shape": [1, 3], "data": [1.0, 2.0, 3.0]}]}`.

use crate::{DType, Tensor};
use alloc::{
	format,
	string::{String, ToString},
	vec::Vec,
};

pub fn dtype_name(dtype: DType) -> &'static str {
	match dtype {
		DType::F32 => "f32",
		DType::I64 => "i64",
		DType::I32 => "i32",
		DType::I8 => "i8",
		DType::U8 => "u8",
		DType::Bool => "bool",
	}
}

fn dtype_of(name: &str) -> Option<DType> {
	Some(match name {
		"f32" => DType::F32,
		"i64" => DType::I64,
		"i32" => DType::I32,
		"i8" => DType::I8,
		"u8" => DType::U8,
		"bool" => DType::Bool,
		_ => return None,
	})
}

/// The elements of a tensor as JSON numbers.
pub fn values(tensor: &Tensor) -> Vec<serde_json::Value> {
	let size = tensor.dtype.size();
	tensor
		.data
		.chunks_exact(size)
		.map(|c| match tensor.dtype {
			DType::F32 => serde_json::json!(f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
			DType::I64 => serde_json::json!(i64::from_le_bytes(c.try_into().expect("8 bytes"))),
			DType::I32 => serde_json::json!(i32::from_le_bytes([c[0], c[1], c[2], c[3]])),
			DType::I8 => serde_json::json!(c[0] as i8),
			DType::U8 => serde_json::json!(c[0]),
			DType::Bool => serde_json::json!(c[0] != 0),
		})
		.collect()
}

pub fn tensor_to_json(tensor: &Tensor) -> serde_json::Value {
	serde_json::json!({ "dtype": dtype_name(tensor.dtype), "shape": tensor.shape, "data": values(tensor) })
}

pub fn describe(tensor: &Tensor) -> String {
	let all = values(tensor);
	let shown: Vec<String> = all.iter().take(8).map(|v| v.to_string()).collect();
	let more = if all.len() > 8 { format!(", … {} more", all.len() - 8) } else { String::new() };
	format!("{}{:?} = [{}{more}]", dtype_name(tensor.dtype), tensor.shape, shown.join(", "))
}

/// Parses `{"inputs": [{"dtype", "shape", "data"}, …]}` into tensors.
pub fn parse_inputs(json: &str) -> Result<Vec<Tensor>, String> {
	let value: serde_json::Value =
		serde_json::from_str(json).map_err(|e| format!("the input file is not JSON: {e}"))?;
	let inputs = value.get("inputs").and_then(|v| v.as_array()).ok_or("the input file needs an \"inputs\" array")?;
	inputs.iter().enumerate().map(|(i, v)| parse_tensor(v).map_err(|e| format!("input {i}: {e}"))).collect()
}

pub fn parse_tensor(value: &serde_json::Value) -> Result<Tensor, String> {
	let dtype_name = value.get("dtype").and_then(|v| v.as_str()).unwrap_or("f32");
	let dtype = dtype_of(dtype_name).ok_or_else(|| format!("unknown dtype {dtype_name:?}"))?;
	let shape = value
		.get("shape")
		.and_then(|v| v.as_array())
		.ok_or("missing \"shape\"")?
		.iter()
		.map(|d| d.as_u64().and_then(|d| u32::try_from(d).ok()).ok_or("shape entries are non-negative integers"))
		.collect::<Result<Vec<u32>, _>>()?;
	let data = value.get("data").and_then(|v| v.as_array()).ok_or("missing \"data\"")?;
	let mut bytes = Vec::with_capacity(data.len() * dtype.size());
	for element in data {
		let not_a = |kind: &str| format!("{element} is not {kind}");
		match dtype {
			// JSON has no NaN or infinities: they are written as these strings.
			DType::F32 => bytes.extend(
				match element.as_str() {
					Some("NaN") => f32::NAN,
					Some("inf") => f32::INFINITY,
					Some("-inf") => f32::NEG_INFINITY,
					_ => element.as_f64().ok_or_else(|| not_a("a number, \"NaN\", \"inf\" or \"-inf\""))? as f32,
				}
				.to_le_bytes(),
			),
			DType::I64 => bytes.extend(element.as_i64().ok_or_else(|| not_a("an integer"))?.to_le_bytes()),
			DType::I32 => bytes.extend(
				i32::try_from(element.as_i64().ok_or_else(|| not_a("an integer"))?)
					.map_err(|_| not_a("an i32"))?
					.to_le_bytes(),
			),
			DType::I8 => bytes
				.push(i8::try_from(element.as_i64().ok_or_else(|| not_a("an integer"))?).map_err(|_| not_a("an i8"))?
					as u8),
			DType::U8 => bytes
				.push(u8::try_from(element.as_u64().ok_or_else(|| not_a("an integer"))?).map_err(|_| not_a("a u8"))?),
			DType::Bool => bytes.push(element.as_bool().ok_or_else(|| not_a("a boolean"))? as u8),
		}
	}
	let tensor = Tensor { dtype, shape, data: bytes };
	tensor.check_well_formed().map_err(|_| "the number of values does not match the shape".to_string())?;
	Ok(tensor)
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn inputs_parse_from_json() {
		let tensors = parse_inputs(
			r#"{"inputs": [{"dtype": "f32", "shape": [1, 2], "data": [1.5, -2]},
			               {"dtype": "i64", "shape": [2], "data": [3, -4]}]}"#,
		)
		.unwrap();
		assert_eq!(tensors[0], Tensor::from_f32(&[1, 2], &[1.5, -2.0]));
		assert_eq!(tensors[1].data, [3i64.to_le_bytes(), (-4i64).to_le_bytes()].concat());
	}

	#[test]
	fn special_float_values_are_written_as_strings() {
		let tensors =
			parse_inputs(r#"{"inputs": [{"dtype": "f32", "shape": [4], "data": ["NaN", "inf", "-inf", 1]}]}"#).unwrap();
		let values = tensors[0].to_f32().unwrap();
		assert!(values[0].is_nan());
		assert_eq!(values[1..], [f32::INFINITY, f32::NEG_INFINITY, 1.0]);
		assert!(parse_inputs(r#"{"inputs": [{"dtype": "f32", "shape": [1], "data": ["nan"]}]}"#)
			.unwrap_err()
			.contains("not a number"));
	}

	#[test]
	fn malformed_inputs_are_explained() {
		assert!(parse_inputs("[]").unwrap_err().contains("\"inputs\""));
		assert!(parse_inputs(r#"{"inputs": [{"dtype": "f16", "shape": [1], "data": [1]}]}"#)
			.unwrap_err()
			.contains("unknown dtype"));
		assert!(parse_inputs(r#"{"inputs": [{"shape": [2], "data": [1]}]}"#)
			.unwrap_err()
			.contains("does not match the shape"));
		assert!(parse_inputs(r#"{"inputs": [{"dtype": "u8", "shape": [1], "data": [300]}]}"#)
			.unwrap_err()
			.contains("not a u8"));
	}
}
