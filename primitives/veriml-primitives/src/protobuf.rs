//! Writing protocol buffers' wire format, the little that the chain writes itself: an item's
//! UnixFS file node (DAG-PB, [`crate::content::file_node`]) and the benchmarks' ONNX models.

use alloc::vec::Vec;

/// `value` as a base-128 varint.
pub fn put_varint(out: &mut Vec<u8>, mut value: u64) {
	while value >= 0x80 {
		out.push((value as u8) | 0x80);
		value >>= 7;
	}
	out.push(value as u8);
}

/// Field `field` of wire type 0 (varint): its key, then `value`.
pub fn put_varint_field(out: &mut Vec<u8>, field: u32, value: u64) {
	put_varint(out, u64::from(field) << 3);
	put_varint(out, value);
}

/// Field `field` of wire type 2 (length-delimited): its key, `bytes`' length, then `bytes`.
pub fn put_bytes_field(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
	put_varint(out, (u64::from(field) << 3) | 2);
	put_varint(out, bytes.len() as u64);
	out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn fields_as_the_wire_format_writes_them() {
		let mut out = Vec::new();
		put_varint_field(&mut out, 3, 300);
		put_bytes_field(&mut out, 2, b"ab");
		put_bytes_field(&mut out, 16, &[]);
		assert_eq!(out, [0x18, 0xac, 0x02, 0x12, 2, b'a', b'b', 0x82, 0x01, 0]);
	}
}
