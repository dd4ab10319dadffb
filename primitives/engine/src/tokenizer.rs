//! A decoder's tokenizer as Hugging Face's `tokenizers` writes it (`tokenizer.json`), for the
//! byte-level models it reads exactly: a BPE model over GPT-2's byte-level alphabet without
//! merges (each byte one token), with added tokens (`<|endoftext|>`…). Encoding and decoding
//! are integer work on bytes: the same on every machine. Tokenizers with merges, normalizers
//! or other models are refused by name (not yet read).

use serde_json::Value;
use std::collections::BTreeMap;
use veriml_inference_primitives::generation::TokenId;

/// A tokenizer read from `tokenizer.json`.
#[derive(Clone, Debug)]
pub struct Tokenizer {
	/// The token of each byte.
	byte_tokens: [TokenId; 256],
	/// Each token's bytes (`None`: an added token, never decoded to text).
	token_bytes: BTreeMap<TokenId, Option<u8>>,
	/// Added tokens' contents and ids, longest first (matched in text before bytes).
	added: Vec<(String, TokenId, bool)>,
	/// Whether the pre-tokenizer puts a space before text that does not start with one.
	add_prefix_space: bool,
}

/// GPT-2's byte-level alphabet: the character that stands for each byte in the vocabulary.
fn byte_level_alphabet() -> [char; 256] {
	let printable = |b: u32| (0x21..=0x7e).contains(&b) || (0xa1..=0xac).contains(&b) || (0xae..=0xff).contains(&b);
	let mut alphabet = ['\0'; 256];
	let mut extra = 0;
	for byte in 0..256u32 {
		alphabet[byte as usize] = if printable(byte) {
			char::from_u32(byte).expect("a Latin-1 character")
		} else {
			extra += 1;
			char::from_u32(255 + extra).expect("a Latin Extended character")
		};
	}
	alphabet
}

impl Tokenizer {
	/// Reads `tokenizer.json`; a named reason where it is not a tokenizer this reads exactly.
	pub fn from_json(json: &str) -> Result<Self, String> {
		let root: Value = serde_json::from_str(json).map_err(|e| format!("tokenizer.json: {e}"))?;
		let model = &root["model"];
		if model["type"] != "BPE" {
			return Err(format!("tokenizer model {}: only BPE is read", model["type"]));
		}
		if model["merges"].as_array().is_none_or(|merges| !merges.is_empty()) {
			return Err("a BPE tokenizer with merges: only byte-level BPE without merges is read yet".into());
		}
		if model["byte_fallback"] == true
			|| !model["continuing_subword_prefix"].is_null()
			|| !model["end_of_word_suffix"].is_null()
		{
			return Err("BPE byte fallback, subword prefixes and suffixes are not read".into());
		}
		if !root["normalizer"].is_null() {
			return Err(format!("normalizer {}: not read", root["normalizer"]["type"]));
		}
		let byte_level = |part: &Value| part.is_null() || part["type"] == "ByteLevel";
		if !byte_level(&root["pre_tokenizer"]) || !byte_level(&root["decoder"]) {
			return Err("the pre-tokenizer and decoder must be ByteLevel".into());
		}
		let add_prefix_space = root["pre_tokenizer"]["add_prefix_space"] == true;
		let vocab = model["vocab"].as_object().ok_or("the BPE model has no vocab")?;
		let id = |value: &Value| value.as_u64().and_then(|v| TokenId::try_from(v).ok());
		let alphabet = byte_level_alphabet();
		let mut byte_tokens = [0; 256];
		let mut token_bytes = BTreeMap::new();
		for (byte, character) in alphabet.iter().enumerate() {
			let token = vocab
				.get(&character.to_string())
				.and_then(id)
				.ok_or_else(|| format!("the vocab has no token for byte {byte:#04x} ({character:?})"))?;
			byte_tokens[byte] = token;
			if token_bytes.insert(token, Some(byte as u8)).is_some() {
				return Err(format!("token {token} stands for two bytes"));
			}
		}
		let mut added = Vec::new();
		for token in root["added_tokens"].as_array().into_iter().flatten() {
			let (Some(content), Some(token_id)) = (token["content"].as_str(), id(&token["id"])) else {
				return Err(format!("added token {token}: no content or id"));
			};
			if content.is_empty() {
				return Err("an added token is empty".into());
			}
			if token_bytes.get(&token_id).is_some_and(Option::is_some) {
				return Err(format!("added token {content:?} has the id of a byte ({token_id})"));
			}
			token_bytes.insert(token_id, None);
			added.push((content.to_string(), token_id, token["special"] == true));
		}
		for (text, token) in vocab {
			if id(token).is_none_or(|token| !token_bytes.contains_key(&token)) {
				return Err(format!("vocab entry {text:?} is neither a byte nor an added token"));
			}
		}
		added.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.1.cmp(&b.1)));
		Ok(Self { byte_tokens, token_bytes, added, add_prefix_space })
	}

	/// The tokens of `text`: added tokens where their content appears, each other byte its token.
	pub fn encode(&self, text: &str) -> Vec<TokenId> {
		let mut text = std::borrow::Cow::Borrowed(text);
		if self.add_prefix_space && !text.starts_with(' ') {
			text = format!(" {text}").into();
		}
		let bytes = text.as_bytes();
		let mut tokens = Vec::with_capacity(bytes.len());
		let mut at = 0;
		'bytes: while at < bytes.len() {
			for (content, token, _) in &self.added {
				if bytes[at..].starts_with(content.as_bytes()) {
					tokens.push(*token);
					at += content.len();
					continue 'bytes;
				}
			}
			tokens.push(self.byte_tokens[bytes[at] as usize]);
			at += 1;
		}
		tokens
	}

	/// The bytes of `tokens`, added tokens left out; `Err` with the first id not in the vocab.
	pub fn decode(&self, tokens: &[TokenId]) -> Result<Vec<u8>, TokenId> {
		let mut bytes = Vec::with_capacity(tokens.len());
		for token in tokens {
			match self.token_bytes.get(token) {
				Some(Some(byte)) => bytes.push(*byte),
				Some(None) => {},
				None => return Err(*token),
			}
		}
		Ok(bytes)
	}

	/// The special added tokens (`<|endoftext|>`…): where a generation stops by default.
	pub fn special_tokens(&self) -> Vec<TokenId> {
		let mut special: Vec<TokenId> =
			self.added.iter().filter(|(_, _, special)| *special).map(|(_, id, _)| *id).collect();
		special.sort_unstable();
		special
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	fn byte_level_json(merges: &str, added: &str) -> String {
		let alphabet = byte_level_alphabet();
		let vocab: Vec<String> = alphabet
			.iter()
			.enumerate()
			.map(|(byte, c)| format!("{}: {byte}", serde_json::to_string(&c.to_string()).unwrap()))
			.collect();
		format!(
			r#"{{"normalizer": null, "pre_tokenizer": {{"type": "ByteLevel", "add_prefix_space": false}},
			"decoder": {{"type": "ByteLevel"}}, "added_tokens": [{added}],
			"model": {{"type": "BPE", "vocab": {{{}, "<|endoftext|>": 256}}, "merges": [{merges}]}}}}"#,
			vocab.join(", ")
		)
	}

	const END: &str = r#"{"id": 256, "content": "<|endoftext|>", "special": true}"#;

	#[test]
	fn byte_level_text_round_trips_and_added_tokens_are_matched_whole() {
		let tokenizer = Tokenizer::from_json(&byte_level_json("", END)).unwrap();
		// GPT-2's alphabet puts space (0x20) at 0x120 and 'A' at itself; ids here are bytes.
		assert_eq!(tokenizer.encode("Añ <|endoftext|>!"), [0x41, 0xc3, 0xb1, 0x20, 256, 0x21]);
		assert_eq!(tokenizer.decode(&[0x41, 0xc3, 0xb1, 0x20, 256, 0x21]).unwrap(), "Añ !".as_bytes());
		assert_eq!(tokenizer.decode(&[0x41, 999]), Err(999));
		assert_eq!(tokenizer.special_tokens(), [256]);
	}

	#[test]
	fn tokenizers_this_does_not_read_exactly_are_refused_by_name() {
		let with_merges = Tokenizer::from_json(&byte_level_json(r#""Ġ t""#, END)).unwrap_err();
		assert!(with_merges.contains("merges"), "{with_merges}");
		let word_piece = Tokenizer::from_json(r#"{"model": {"type": "WordPiece", "vocab": {}}}"#).unwrap_err();
		assert!(word_piece.contains("WordPiece"), "{word_piece}");
		let missing = byte_level_json("", END).replace(r#""A": 65, "#, "");
		assert!(Tokenizer::from_json(&missing).unwrap_err().contains("byte 0x41"));
		let clash = Tokenizer::from_json(&byte_level_json("", r#"{"id": 65, "content": "<s>"}"#)).unwrap_err();
		assert!(clash.contains("id of a byte"), "{clash}");
	}
}
