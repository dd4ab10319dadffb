//! The tokenizer.json reader against Hugging Face's `tokenizers` on the tokenizers the test-model
//! stage trains (`generative/tokenizers`: GPT-2's split, with and without a prefix space, Llama
//! 3's split with `ignore_merges`, digits split one by one, Qwen 2's NFC normalizer and split,
//! Llama 2's SentencePiece BPE with byte fallback, Metaspace with an unknown token), on texts
//! with spaces, contractions, digits, scripts whose marks are no letters, emoji, characters NFC
//! composes, added tokens matched in the text as it is and in normalized text: the same ids,
//! and the ids decoded to the same text.

mod common;

use veriml_engine::tokenizer::Tokenizer;

#[test]
fn encodes_and_decodes_as_hugging_faces_tokenizers_does() {
	let folder = common::models_dir().join("generative").join("tokenizers");
	let cases: serde_json::Value =
		serde_json::from_str(&std::fs::read_to_string(folder.join("cases.json")).unwrap()).unwrap();
	let mut tokenizers = std::collections::BTreeMap::new();
	let mut merged = 0;
	// Cases whose post-processor puts special tokens around the text (Llama 2's and 3's BOS).
	let mut with_bos = 0;
	let cases = cases.as_array().unwrap();
	for case in cases {
		let name = case["tokenizer"].as_str().unwrap();
		let tokenizer = tokenizers.entry(name).or_insert_with(|| {
			let json = std::fs::read_to_string(folder.join(format!("{name}.json"))).unwrap();
			Tokenizer::from_json(&json).unwrap_or_else(|e| panic!("{name}: {e}"))
		});
		let text = case["text"].as_str().unwrap();
		let expected: Vec<u32> = case["ids"].as_array().unwrap().iter().map(|id| id.as_u64().unwrap() as u32).collect();
		let ids = tokenizer.encode(text);
		assert_eq!(ids, expected, "{name} encodes {text:?}");
		let with_special: Vec<u32> =
			case["with_special_tokens"].as_array().unwrap().iter().map(|id| id.as_u64().unwrap() as u32).collect();
		assert_eq!(tokenizer.encode_with_special_tokens(text), with_special, "{name} encodes {text:?} as a prompt");
		with_bos += usize::from(with_special.len() > ids.len());
		let decoded = tokenizer.decode(&ids).unwrap();
		assert_eq!(String::from_utf8_lossy(&decoded), case["decoded"].as_str().unwrap(), "{name} decodes {text:?}");
		// Streamed a token at a time, the same text, in pieces that are whole characters.
		let mut stream = tokenizer.stream();
		let mut streamed = Vec::new();
		for id in &ids {
			let piece = stream.push(*id).unwrap();
			if std::str::from_utf8(&decoded).is_ok() {
				assert!(std::str::from_utf8(&piece).is_ok(), "{name} streams {piece:?} of {text:?}");
			}
			streamed.extend(piece);
		}
		streamed.extend(stream.finish());
		assert_eq!(streamed, decoded, "{name} streams {text:?}");
		// The cases exercise the merges: most texts take fewer tokens than bytes.
		merged += usize::from(ids.len() < text.len());
	}
	assert_eq!(tokenizers.len(), 7);
	assert_eq!(with_bos, 3 * 45, "llama2_style, llama3_style and metaspace_style put tokens around a prompt");
	assert!(cases.len() >= 7 * 30 && merged > cases.len() / 2, "{merged} of {} cases merged", cases.len());
}

#[test]
fn long_runs_of_spaces_and_newlines_round_trip() {
	// A prompt is anyone's text: runs of 100,000 spaces, newlines or digits are split and
	// merged (in a heap: tens of milliseconds, not the minutes of a quadratic merge loop), and
	// decode to the text again.
	let folder = common::models_dir().join("generative").join("tokenizers");
	for name in ["gpt2_style", "llama3_style", "digits_style", "qwen2_style", "llama2_style", "metaspace_style"] {
		let tokenizer =
			Tokenizer::from_json(&std::fs::read_to_string(folder.join(format!("{name}.json"))).unwrap()).unwrap();
		for text in [format!("a{}b", " ".repeat(100_000)), format!("a{}b", "\n ".repeat(50_000)), "9".repeat(100_000)] {
			let ids = tokenizer.encode(&text);
			assert_eq!(tokenizer.decode(&ids).unwrap(), text.as_bytes(), "{name}");
		}
	}
}

#[test]
fn many_added_tokens_are_found_in_one_pass() {
	// Llama 3 brings 256 added tokens; a tokenizer may bring thousands, and a prompt is anyone's
	// text. 4,000 added tokens sharing a long prefix, and 100,000 bytes of near misses of it
	// with one hit at the end: matched in one pass over the text (an automaton), not one
	// comparison with each token at each place (4 * 10^8 comparisons of 20-odd bytes).
	let folder = common::models_dir().join("generative").join("tokenizers");
	let mut json: serde_json::Value =
		serde_json::from_str(&std::fs::read_to_string(folder.join("gpt2_style.json")).unwrap()).unwrap();
	let first = 100_000;
	let added = json["added_tokens"].as_array_mut().unwrap();
	for n in 0..4_000u32 {
		added.push(serde_json::json!({
			"id": first + n, "content": format!("<|reserved_token_{n}|>"), "single_word": false,
			"lstrip": false, "rstrip": false, "normalized": false, "special": true,
		}));
	}
	let tokenizer = Tokenizer::from_json(&json.to_string()).unwrap();
	let near_miss = "<|reserved_token_|>";
	let text = format!("{}<|reserved_token_3999|>", near_miss.repeat(100_000 / near_miss.len()));
	let ids = tokenizer.encode(&text);
	assert_eq!(ids.last(), Some(&(first + 3_999)));
	// The special token is left out of decoded text; the near misses are text.
	assert_eq!(tokenizer.decode(&ids).unwrap(), near_miss.repeat(100_000 / near_miss.len()).as_bytes());
}
