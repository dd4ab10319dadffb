//! Reading a feed value out of an HTTP answer: a JSON document, a path to a number in it, and
//! the number as a fixed-point integer.
//!
//! Paths are dot-separated keys with optional array indices: `price`, `bitcoin.usd`,
//! `data.rates[0].value`, `[2]`. The value may be a JSON number or a string holding a decimal
//! number (`"64123.45"`, as many price APIs send). Conversion is exact: digits beyond
//! `decimals` are cut (toward zero), never rounded through a float.

use alloc::vec::Vec;
use lite_json::{JsonValue, NumberValue};

/// Deepest nesting of arrays and objects accepted (the parser recurses).
pub const MAX_DEPTH: usize = 32;

/// Why no value came out of a document.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ValueError {
	/// The answer is not UTF-8.
	NotUtf8,
	/// The answer nests deeper than [`MAX_DEPTH`].
	TooDeep,
	/// A number in the answer has more digits than the JSON parser reads without overflow
	/// (20 or more, or an exponent of 10 or more), wherever it is.
	NumberTooLong,
	/// The answer is not JSON.
	NotJson,
	/// The path is not of the form `key.key[index]…`.
	InvalidPath,
	/// Nothing in the document at the path.
	NotFound,
	/// The value at the path is not a number nor a string holding one.
	NotANumber,
	/// The number does not fit a feed value with the feed's decimals.
	OutOfRange,
}

/// One step of a path.
#[derive(Clone, PartialEq, Eq, Debug)]
enum Step<'a> {
	Key(&'a str),
	Index(usize),
}

fn parse_path(path: &str) -> Result<Vec<Step<'_>>, ValueError> {
	let mut steps = Vec::new();
	for part in path.split('.') {
		let (key, mut rest) = match part.find('[') {
			Some(at) => (&part[..at], &part[at..]),
			None => (part, ""),
		};
		if !key.is_empty() {
			steps.push(Step::Key(key));
		} else if rest.is_empty() {
			return Err(ValueError::InvalidPath);
		}
		while !rest.is_empty() {
			let close = rest.find(']').ok_or(ValueError::InvalidPath)?;
			let index = rest[1..close].parse::<usize>().map_err(|_| ValueError::InvalidPath)?;
			steps.push(Step::Index(index));
			rest = &rest[close + 1..];
			if !rest.is_empty() && !rest.starts_with('[') {
				return Err(ValueError::InvalidPath);
			}
		}
	}
	Ok(steps)
}

/// Digits of a number's integer or fraction part, and of its exponent, that the parser
/// (lite-json: `u64` and `i32`, which wrap silently in release builds) reads exactly.
const MAX_NUMBER_DIGITS: usize = 19;
const MAX_EXPONENT_DIGITS: usize = 9;

/// Checks what the parser cannot: the nesting depth of `text` and the length of its numbers
/// (outside strings; numbers in strings are read by [`parse_decimal`], which checks them).
fn check_shape(text: &[u8]) -> Result<(), ValueError> {
	let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
	let (mut digits, mut in_exponent) = (0usize, false);
	for &byte in text {
		if in_string {
			match byte {
				_ if escaped => escaped = false,
				b'\\' => escaped = true,
				b'"' => in_string = false,
				_ => {},
			}
			continue;
		}
		if byte.is_ascii_digit() {
			digits += 1;
			let limit = if in_exponent { MAX_EXPONENT_DIGITS } else { MAX_NUMBER_DIGITS };
			if digits > limit {
				return Err(ValueError::NumberTooLong);
			}
			continue;
		}
		match byte {
			b'e' | b'E' => in_exponent = digits > 0,
			// A sign right after `e` keeps the exponent going.
			b'+' | b'-' if in_exponent && digits == 0 => {},
			_ => in_exponent = false,
		}
		digits = 0;
		match byte {
			b'"' => in_string = true,
			b'[' | b'{' => {
				depth += 1;
				if depth > MAX_DEPTH {
					return Err(ValueError::TooDeep);
				}
			},
			b']' | b'}' => depth = depth.saturating_sub(1),
			_ => {},
		}
	}
	Ok(())
}

/// The number at `path` in the JSON document `body`, in units of 10^-`decimals`.
pub fn extract(body: &[u8], path: &str, decimals: u8) -> Result<i128, ValueError> {
	let text = core::str::from_utf8(body).map_err(|_| ValueError::NotUtf8)?;
	check_shape(body)?;
	let steps = parse_path(path)?;
	let document = lite_json::parse_json(text).map_err(|_| ValueError::NotJson)?;
	let mut at = &document;
	for step in &steps {
		at = match (step, at) {
			(Step::Key(key), JsonValue::Object(fields)) => fields
				.iter()
				.find(|(name, _)| name.iter().copied().eq(key.chars()))
				.map(|(_, value)| value)
				.ok_or(ValueError::NotFound)?,
			(Step::Index(index), JsonValue::Array(items)) => items.get(*index).ok_or(ValueError::NotFound)?,
			_ => return Err(ValueError::NotFound),
		};
	}
	match at {
		JsonValue::Number(number) => from_json_number(number, decimals),
		JsonValue::String(chars) => {
			let text: alloc::string::String = chars.iter().collect();
			parse_decimal(text.trim(), decimals)
		},
		_ => Err(ValueError::NotANumber),
	}
}

fn from_json_number(number: &NumberValue, decimals: u8) -> Result<i128, ValueError> {
	// lite-json keeps the fraction as an integer and its digit count (leading zeros included).
	let mut digits = alloc::format!("{}", number.integer).into_bytes();
	if number.fraction_length > 0 {
		let fraction = alloc::format!("{:0width$}", number.fraction, width = number.fraction_length as usize);
		digits.extend_from_slice(fraction.as_bytes());
	}
	scale(number.negative, &digits, number.fraction_length as i64, number.exponent as i64, decimals)
}

/// A decimal number as text (`-12.5`, `3e-2`, `+7`) in units of 10^-`decimals`.
pub fn parse_decimal(text: &str, decimals: u8) -> Result<i128, ValueError> {
	let (negative, text) = match text.as_bytes().first() {
		Some(b'-') => (true, &text[1..]),
		Some(b'+') => (false, &text[1..]),
		_ => (false, text),
	};
	let (mantissa, exponent) = match text.find(['e', 'E']) {
		Some(at) => (&text[..at], text[at + 1..].parse::<i64>().map_err(|_| ValueError::NotANumber)?),
		None => (text, 0),
	};
	let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
	let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
	if whole.is_empty() && fraction.is_empty() || !all_digits(whole) || !all_digits(fraction) {
		return Err(ValueError::NotANumber);
	}
	let mut digits = Vec::with_capacity(whole.len() + fraction.len());
	digits.extend_from_slice(whole.as_bytes());
	digits.extend_from_slice(fraction.as_bytes());
	scale(negative, &digits, fraction.len() as i64, exponent, decimals)
}

/// `±digits × 10^(exponent − fraction_digits + decimals)`, cut toward zero.
fn scale(negative: bool, digits: &[u8], fraction_digits: i64, exponent: i64, decimals: u8) -> Result<i128, ValueError> {
	let shift = exponent.saturating_sub(fraction_digits).saturating_add(decimals as i64);
	// Digits that shift below units are dropped; the rest make the integer.
	let keep = if shift < 0 { digits.len().saturating_sub(shift.unsigned_abs() as usize) } else { digits.len() };
	let mut value: i128 = 0;
	for &digit in &digits[..keep] {
		value = value
			.checked_mul(10)
			.and_then(|v| v.checked_add(i128::from(digit - b'0')))
			.ok_or(ValueError::OutOfRange)?;
	}
	if shift > 0 {
		let factor = 10i128.checked_pow(u32::try_from(shift).map_err(|_| ValueError::OutOfRange)?);
		// Zero stays zero however large the exponent.
		value = match factor {
			Some(factor) => value.checked_mul(factor).ok_or(ValueError::OutOfRange)?,
			None if value == 0 => 0,
			None => return Err(ValueError::OutOfRange),
		};
	}
	Ok(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn numbers_and_numeric_strings_are_read_exactly_at_the_feed_decimals() {
		let body = br#"{"bitcoin": {"usd": 64123.456}, "rates": [{"value": "0.0725"}, {"value": -3}], "tiny": 1e-9}"#;
		assert_eq!(extract(body, "bitcoin.usd", 2), Ok(6_412_345));
		assert_eq!(extract(body, "bitcoin.usd", 3), Ok(64_123_456));
		assert_eq!(extract(body, "bitcoin.usd", 6), Ok(64_123_456_000));
		assert_eq!(extract(body, "rates[0].value", 4), Ok(725));
		assert_eq!(extract(body, "rates[1].value", 2), Ok(-300));
		assert_eq!(extract(body, "tiny", 6), Ok(0));
		assert_eq!(extract(body, "tiny", 12), Ok(1_000));
		assert_eq!(extract(b"[1.5, 2.25]", "[1]", 2), Ok(225));
		assert_eq!(extract(br#"{"p": "1.2e3"}"#, "p", 0), Ok(1_200));
		assert_eq!(extract(br#"{"p": 0.05}"#, "p", 2), Ok(5));
	}

	#[test]
	fn bad_documents_paths_and_values_are_refused_with_the_reason() {
		let body = br#"{"a": {"b": [1, 2]}, "s": "abc", "n": null, "big": 1e40}"#;
		assert_eq!(extract(body, "a.c", 0), Err(ValueError::NotFound));
		assert_eq!(extract(body, "a.b[5]", 0), Err(ValueError::NotFound));
		assert_eq!(extract(body, "a[0]", 0), Err(ValueError::NotFound));
		assert_eq!(extract(body, "a", 0), Err(ValueError::NotANumber));
		assert_eq!(extract(body, "s", 0), Err(ValueError::NotANumber));
		assert_eq!(extract(body, "n", 0), Err(ValueError::NotANumber));
		assert_eq!(extract(body, "big", 0), Err(ValueError::OutOfRange));
		assert_eq!(extract(body, "a..b", 0), Err(ValueError::InvalidPath));
		assert_eq!(extract(body, "a.b[x]", 0), Err(ValueError::InvalidPath));
		assert_eq!(extract(body, "a.b[0", 0), Err(ValueError::InvalidPath));
		assert_eq!(extract(b"<html>502 Bad Gateway</html>", "a", 0), Err(ValueError::NotJson));
		assert_eq!(extract(b"{\"a\": 1", "a", 0), Err(ValueError::NotJson));
		assert_eq!(extract(&[0xff, 0xfe], "a", 0), Err(ValueError::NotUtf8));
		let deep = [&[b'['; 100][..], &[b']'; 100][..]].concat();
		assert_eq!(extract(&deep, "[0]", 0), Err(ValueError::TooDeep));
		// Brackets inside strings are not nesting.
		assert_eq!(extract(br#"{"s": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", "v": 1}"#, "v", 0), Ok(1));
	}

	#[test]
	fn numbers_the_parser_would_wrap_are_refused_not_misread() {
		// 20 digits overflow lite-json's u64 (silently, in the runtime's release build).
		assert_eq!(extract(br#"{"p": 18446744073709551617}"#, "p", 0), Err(ValueError::NumberTooLong));
		assert_eq!(extract(br#"{"p": 0.12345678901234567890}"#, "p", 2), Err(ValueError::NumberTooLong));
		assert_eq!(extract(br#"{"p": 1e4294967296}"#, "p", 2), Err(ValueError::NumberTooLong));
		assert_eq!(extract(br#"{"p": 1, "other": -123456789012345678901}"#, "p", 2), Err(ValueError::NumberTooLong));
		// 19 digits, a 9-digit exponent, and long numbers inside strings are fine.
		assert_eq!(extract(br#"{"p": 1234567890123456789}"#, "p", 0), Ok(1_234_567_890_123_456_789));
		assert_eq!(extract(br#"{"p": 0.1234567890123456789}"#, "p", 2), Ok(12));
		assert_eq!(extract(br#"{"p": 5E-000000001}"#, "p", 1), Ok(5));
		assert_eq!(
			extract(br#"{"p": "123456789012345678901234.5", "q": 1}"#, "p", 1),
			Ok(1_234_567_890_123_456_789_012_345)
		);
	}

	#[test]
	fn decimal_text_is_parsed_without_floats() {
		assert_eq!(parse_decimal("-12.5", 1), Ok(-125));
		assert_eq!(parse_decimal("+7", 3), Ok(7_000));
		assert_eq!(parse_decimal("3e-2", 2), Ok(3));
		assert_eq!(parse_decimal(".5", 1), Ok(5));
		assert_eq!(parse_decimal("1.999", 2), Ok(199));
		assert_eq!(parse_decimal("170141183460469231731687303715884105727", 0), Ok(i128::MAX));
		assert_eq!(parse_decimal("170141183460469231731687303715884105728", 0), Err(ValueError::OutOfRange));
		for bad in ["", ".", "-", "1.2.3", "1e", "abc", "0x10", "1 000"] {
			assert_eq!(parse_decimal(bad, 2), Err(ValueError::NotANumber), "{bad:?}");
		}
	}
}
