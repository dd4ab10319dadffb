//! A decoder's tokenizer as Hugging Face's `tokenizers` writes it (`tokenizer.json`), for the
//! byte-level BPE tokenizers of GPT-2's family and their descendants (Llama 3, SmolLM,
//! Qwen 2…): a BPE model with merges over GPT-2's byte-level alphabet, the normalizer `NFC`,
//! added tokens (`<|endoftext|>`…), pre-tokenizers `ByteLevel` (with or without GPT-2's
//! split), `Split` (a regex or a string, matches isolated), `Digits` and `Sequence`s of them
//! ending with `ByteLevel`, decoder `ByteLevel`. Encoding and
//! decoding give what `tokenizers` gives (`encode(text, add_special_tokens=False)`,
//! `decode(ids, skip_special_tokens=True)`), checked against it on the test-model stage's
//! tokenizers (`tests/tokenizer.rs`). Anything else (other normalizers, WordPiece, Unigram,
//! byte fallback, added tokens that strip spaces…) is refused by name, not approximated.
//!
//! The split patterns run with the `regex` crate (the version Cargo.lock pins, and its Unicode
//! tables: `tokenizers` runs them with Oniguruma, whose tables may class a character assigned
//! in a later Unicode version differently), which has no look-around: the one these
//! tokenizers use, `\s+(?!\S)|\s+` at the end of GPT-2's and Llama 3's patterns, is read as
//! what it matches (a run of white space, but its last character where more than one is
//! followed by other text); a pattern with other look-around is refused. Tokenization runs on
//! the node, off chain.

use aho_corasick::{AhoCorasick, MatchKind};
use regex::Regex;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use unicode_normalization::UnicodeNormalization;
use veriml_inference_primitives::generation::TokenId;

/// GPT-2's split, which `ByteLevel` applies with `use_regex` (as `tokenizers` writes it).
const GPT2_PATTERN: &str = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

/// The end of GPT-2's and Llama 3's split patterns: white space not followed by other text
/// (a look-ahead), else any white space.
const TRAILING_SPACE: &str = r"|\s+(?!\S)|\s+";

/// A split pattern: its matches and the text between them are pieces.
#[derive(Clone, Debug)]
struct SplitPattern {
	regex: Regex,
	/// Whether the pattern ended with [`TRAILING_SPACE`], read as its last alternative
	/// `(?P<space>\s+)`, whose match gives up its last character where it has more than one
	/// and text follows it (the text that follows is no white space, or the run would go on):
	/// that is what `\s+(?!\S)`, tried first, matches.
	trailing_space: bool,
}

impl SplitPattern {
	/// A split pattern compiled, or why not (look-around other than [`TRAILING_SPACE`]).
	fn new(pattern: &str) -> Result<Self, String> {
		let (pattern, trailing_space) = match pattern.strip_suffix(TRAILING_SPACE) {
			Some(rest) => (format!(r"{rest}|(?P<space>\s+)"), true),
			None => (pattern.to_string(), false),
		};
		let regex = Regex::new(&pattern).map_err(|e| format!("split pattern {pattern:?}: {e}"))?;
		Ok(Self { regex, trailing_space })
	}

	/// The places of `text`'s matches, in order.
	fn matches(&self, text: &str) -> Vec<(usize, usize)> {
		let mut found = Vec::new();
		let mut at = 0;
		while let Some(captures) = self.regex.captures_at(text, at) {
			let whole = captures.get(0).expect("a match has its group 0");
			let (start, mut end) = (whole.start(), whole.end());
			if self.trailing_space && captures.name("space").is_some() && end < text.len() {
				let last = text[start..end].chars().next_back().map_or(0, char::len_utf8);
				if end - start > last {
					end -= last;
				}
			}
			if start == end {
				// An empty match is no piece; look again one character on.
				match text[end..].chars().next() {
					Some(c) => at = end + c.len_utf8(),
					None => break,
				}
				continue;
			}
			found.push((start, end));
			at = end;
		}
		found
	}
}

/// One step of pre-tokenization: each piece of text in, its pieces out.
#[derive(Clone, Debug)]
enum PreTokenizer {
	/// Matches of the pattern and the text between them, each a piece (`Split` with behaviour
	/// `Isolated`; `ByteLevel`'s GPT-2 split).
	Split(SplitPattern),
	/// A space put before each piece that does not start with one (`ByteLevel`'s
	/// `add_prefix_space`).
	PrefixSpace,
	/// Each digit its own piece (`individual_digits`), or each run of digits one.
	Digits { individual: bool },
}

/// A token's entry in the vocabulary or among the added tokens.
#[derive(Clone, Debug)]
enum Entry {
	/// A vocabulary token: its text in the byte-level alphabet.
	Text(String),
	/// An added token's content; special ones are left out of decoded text.
	Added { content: String, special: bool },
}

/// A tokenizer read from `tokenizer.json`.
#[derive(Clone, Debug)]
pub struct Tokenizer {
	/// The vocabulary: a token's text in the byte-level alphabet, its id.
	vocab: HashMap<String, TokenId>,
	/// Each id's entry, added tokens over the vocabulary's.
	entries: BTreeMap<TokenId, Entry>,
	/// The merges: a pair of tokens, its rank (earlier merges first) and the merged token.
	merges: HashMap<(TokenId, TokenId), (u32, TokenId)>,
	/// A piece found whole in the vocabulary is that token, merges or not (`ignore_merges`).
	ignore_merges: bool,
	/// Added tokens matched in the text as it is, before anything else (those written
	/// `"normalized": false`: special tokens, as a rule).
	added: AddedTokens,
	/// Added tokens matched in each stretch of text between those, once normalized.
	added_normalized: AddedTokens,
	/// Whether each stretch of text between added tokens is put in Unicode's normalization
	/// form C (the `NFC` normalizer).
	nfc: bool,
	/// Pre-tokenization, in order.
	pre_tokenizers: Vec<PreTokenizer>,
	/// The character of each byte in GPT-2's byte-level alphabet, and back.
	alphabet: [char; 256],
	bytes: HashMap<char, u8>,
}

/// A set of added tokens, matched as `tokenizers` matches them: the longest at the leftmost
/// place, in one pass over the text whatever their number.
#[derive(Clone, Debug)]
struct AddedTokens {
	contents: AhoCorasick,
	/// Each content's token, in the order of `contents`' patterns.
	ids: Vec<TokenId>,
}

impl AddedTokens {
	/// Of two added tokens with the same content, the lower id is matched.
	fn new(mut added: Vec<(String, TokenId)>) -> Result<Self, String> {
		added.sort();
		added.dedup_by(|later, earlier| later.0 == earlier.0);
		let contents = AhoCorasick::builder()
			.match_kind(MatchKind::LeftmostLongest)
			.build(added.iter().map(|(content, _)| content))
			.map_err(|e| format!("added tokens: {e}"))?;
		Ok(Self { contents, ids: added.into_iter().map(|(_, id)| id).collect() })
	}

	/// Calls `each` with the stretches of `text` between added tokens and the added tokens, in
	/// order. Contents are whole UTF-8 strings, so every match starts and ends at a
	/// character's boundary.
	fn split(&self, text: &str, mut each: impl FnMut(Part<'_>)) {
		let mut at = 0;
		for found in self.contents.find_iter(text) {
			each(Part::Text(&text[at..found.start()]));
			each(Part::Added(self.ids[found.pattern().as_usize()]));
			at = found.end();
		}
		each(Part::Text(&text[at..]));
	}
}

/// A part of a text split at its added tokens.
enum Part<'a> {
	/// A stretch between added tokens (may be empty).
	Text(&'a str),
	Added(TokenId),
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

/// The pre-tokenizer steps of `tokenizer.json`'s `pre_tokenizer`. `ByteLevel` must be the last
/// of them: it maps each piece's bytes to the byte-level alphabet (which [`Tokenizer::merge`]
/// does last), so a tokenizer without it runs BPE on text as it is, and a step after it splits
/// mapped text (a space is `Ġ` there); both are refused.
fn pre_tokenizers(part: &Value) -> Result<Vec<PreTokenizer>, String> {
	let mut steps = Vec::new();
	let mut byte_level = false;
	pre_tokenizer(part, &mut steps, &mut byte_level)?;
	if !byte_level {
		return Err("a pre-tokenizer without ByteLevel: only byte-level BPE is read".into());
	}
	Ok(steps)
}

/// The pre-tokenizer steps of `part` (a `pre_tokenizer` object), appended to `steps`;
/// `byte_level` says whether a `ByteLevel` came before.
fn pre_tokenizer(part: &Value, steps: &mut Vec<PreTokenizer>, byte_level: &mut bool) -> Result<(), String> {
	if *byte_level {
		return Err(format!("pre-tokenizer {} after ByteLevel: not read", part["type"]));
	}
	match part["type"].as_str() {
		None if part.is_null() => {},
		Some("Sequence") => {
			for inner in part["pretokenizers"].as_array().ok_or("a Sequence pre-tokenizer without pretokenizers")? {
				pre_tokenizer(inner, steps, byte_level)?;
			}
		},
		Some("ByteLevel") => {
			*byte_level = true;
			if part["add_prefix_space"] == true {
				steps.push(PreTokenizer::PrefixSpace);
			}
			// `use_regex` is true unless written false (older files do not write it).
			if part["use_regex"] != false {
				steps.push(PreTokenizer::Split(SplitPattern::new(GPT2_PATTERN)?));
			}
		},
		Some("Split") => {
			if part["behavior"] != "Isolated" || part["invert"] == true {
				return Err(format!(
					"Split pre-tokenizer with behavior {} and invert {}: only Isolated, not inverted, is read",
					part["behavior"], part["invert"]
				));
			}
			let regex = match (part["pattern"]["Regex"].as_str(), part["pattern"]["String"].as_str()) {
				(Some(regex), _) => SplitPattern::new(regex)?,
				(None, Some(string)) => SplitPattern::new(&regex::escape(string))?,
				_ => return Err(format!("Split pre-tokenizer pattern {}: not read", part["pattern"])),
			};
			steps.push(PreTokenizer::Split(regex));
		},
		Some("Digits") => steps.push(PreTokenizer::Digits { individual: part["individual_digits"] == true }),
		_ => return Err(format!("pre-tokenizer {}: not read", part["type"])),
	}
	Ok(())
}

/// `text`'s pieces after `step`, empty ones left out.
fn split(step: &PreTokenizer, text: &str, pieces: &mut Vec<String>) {
	let mut cut = |from: usize, to: usize| {
		if from < to {
			pieces.push(text[from..to].to_string());
		}
	};
	match step {
		PreTokenizer::PrefixSpace => {
			if text.starts_with(' ') {
				pieces.push(text.to_string());
			} else {
				pieces.push(format!(" {text}"));
			}
		},
		PreTokenizer::Split(pattern) => {
			let mut at = 0;
			for (start, end) in pattern.matches(text) {
				cut(at, start);
				cut(start, end);
				at = end;
			}
			cut(at, text.len());
		},
		PreTokenizer::Digits { individual } => {
			let mut at = 0;
			let mut chars = text.char_indices().peekable();
			while let Some((start, c)) = chars.next() {
				if !c.is_numeric() {
					continue;
				}
				let mut end = start + c.len_utf8();
				if !individual {
					while let Some((next, d)) = chars.next_if(|(_, d)| d.is_numeric()) {
						end = next + d.len_utf8();
					}
				}
				cut(at, start);
				cut(start, end);
				at = end;
			}
			cut(at, text.len());
		},
	}
}

impl Tokenizer {
	/// Reads `tokenizer.json`; a named reason where it is not a tokenizer this reads exactly.
	pub fn from_json(json: &str) -> Result<Self, String> {
		let root: Value = serde_json::from_str(json).map_err(|e| format!("tokenizer.json: {e}"))?;
		let model = &root["model"];
		if model["type"] != "BPE" {
			return Err(format!("tokenizer model {}: only BPE is read", model["type"]));
		}
		if model["byte_fallback"] == true
			|| !model["dropout"].is_null()
			|| !model["continuing_subword_prefix"].is_null()
			|| !model["end_of_word_suffix"].is_null()
		{
			return Err("BPE byte fallback, dropout, subword prefixes and suffixes are not read".into());
		}
		let nfc = match root["normalizer"]["type"].as_str() {
			None if root["normalizer"].is_null() => false,
			Some("NFC") => true,
			_ => return Err(format!("normalizer {}: not read", root["normalizer"]["type"])),
		};
		if root["decoder"]["type"] != "ByteLevel" {
			return Err(format!("decoder {}: only ByteLevel is read", root["decoder"]["type"]));
		}
		let pre_tokenizers = pre_tokenizers(&root["pre_tokenizer"])?;

		let id = |value: &Value| value.as_u64().and_then(|v| TokenId::try_from(v).ok());
		let mut vocab = HashMap::new();
		let mut entries = BTreeMap::new();
		for (text, token) in model["vocab"].as_object().ok_or("the BPE model has no vocab")? {
			let token = id(token).ok_or_else(|| format!("vocab entry {text:?}: its id is not a token id"))?;
			if entries.insert(token, Entry::Text(text.clone())).is_some() {
				return Err(format!("token {token} has two entries in the vocab"));
			}
			vocab.insert(text.clone(), token);
		}
		let alphabet = byte_level_alphabet();
		for (byte, character) in alphabet.iter().enumerate() {
			if !vocab.contains_key(&character.to_string()) {
				return Err(format!("the vocab has no token for byte {byte:#04x} ({character:?})"));
			}
		}
		let byte_ids: Vec<TokenId> = alphabet.iter().map(|c| vocab[&c.to_string()]).collect();

		let mut merges = HashMap::new();
		for (rank, merge) in model["merges"].as_array().ok_or("the BPE model has no merges list")?.iter().enumerate() {
			// Written "left right" (older files) or ["left", "right"].
			let (left, right) = match merge {
				Value::String(pair) => pair.split_once(' ').ok_or_else(|| format!("merge {pair:?}: not two tokens"))?,
				Value::Array(pair) => match pair.as_slice() {
					[Value::String(left), Value::String(right)] => (left.as_str(), right.as_str()),
					_ => return Err(format!("merge {merge}: not two tokens")),
				},
				_ => return Err(format!("merge {merge}: not two tokens")),
			};
			let token = |text: &str| {
				vocab.get(text).copied().ok_or_else(|| format!("merge {merge}: {text:?} is not in the vocab"))
			};
			let pair = (token(left)?, token(right)?);
			let merged = token(&format!("{left}{right}"))?;
			merges.entry(pair).or_insert((rank as u32, merged));
		}

		let (mut added, mut added_normalized) = (Vec::new(), Vec::new());
		for token in root["added_tokens"].as_array().into_iter().flatten() {
			let (Some(content), Some(token_id)) = (token["content"].as_str(), id(&token["id"])) else {
				return Err(format!("added token {token}: no content or id"));
			};
			if content.is_empty() {
				return Err("an added token is empty".into());
			}
			for flag in ["single_word", "lstrip", "rstrip"] {
				if token[flag] == true {
					return Err(format!("added token {content:?} sets {flag}: not read"));
				}
			}
			if byte_ids.contains(&token_id) {
				return Err(format!("added token {content:?} has the id of a byte ({token_id})"));
			}
			let special = token["special"] == true;
			entries.insert(token_id, Entry::Added { content: content.to_string(), special });
			// Unwritten, `normalized` is what `tokenizers` gives a token made without it.
			let normalized = token["normalized"].as_bool().unwrap_or(!special);
			if normalized { &mut added_normalized } else { &mut added }.push((content.to_string(), token_id));
		}
		let bytes = alphabet.iter().enumerate().map(|(byte, c)| (*c, byte as u8)).collect();
		Ok(Self {
			vocab,
			entries,
			merges,
			ignore_merges: model["ignore_merges"] == true,
			added: AddedTokens::new(added)?,
			added_normalized: AddedTokens::new(added_normalized)?,
			nfc,
			pre_tokenizers,
			alphabet,
			bytes,
		})
	}

	/// The tokens of `text`: added tokens where their content appears (the longest at the
	/// leftmost place), each stretch of text between them pre-tokenized into pieces and each
	/// piece merged by BPE.
	pub fn encode(&self, text: &str) -> Vec<TokenId> {
		// As `tokenizers`' added vocabulary: the added tokens not normalized are found in the
		// text as it is, the others in each stretch between them once normalized.
		let mut tokens = Vec::new();
		self.added.split(text, |part| match part {
			Part::Added(token) => tokens.push(token),
			Part::Text(stretch) => {
				let normalized = if self.nfc { stretch.nfc().collect() } else { stretch.to_string() };
				self.added_normalized.split(&normalized, |part| match part {
					Part::Added(token) => tokens.push(token),
					Part::Text(stretch) => self.encode_stretch(stretch, &mut tokens),
				})
			},
		});
		tokens
	}

	/// The tokens of a stretch of normalized text without added tokens: pre-tokenized into
	/// pieces, each piece merged.
	fn encode_stretch(&self, text: &str, tokens: &mut Vec<TokenId>) {
		if text.is_empty() {
			return;
		}
		let mut pieces = vec![text.to_string()];
		for step in &self.pre_tokenizers {
			let mut next = Vec::with_capacity(pieces.len());
			for piece in &pieces {
				split(step, piece, &mut next);
			}
			pieces = next;
		}
		for piece in pieces {
			self.merge(&piece, tokens);
		}
	}

	/// A piece's tokens: its bytes' tokens, merged pair by pair, the pair of lowest rank first
	/// (the leftmost of equal ones), until no pair has a merge. As `tokenizers` does it, in
	/// O(n log n) for a piece of n bytes: the pairs in a heap by rank and place, each merge
	/// pushing the two pairs it makes, a pair whose symbols have changed since skipped.
	fn merge(&self, piece: &str, tokens: &mut Vec<TokenId>) {
		let text: String = piece.bytes().map(|byte| self.alphabet[byte as usize]).collect();
		if self.ignore_merges {
			if let Some(token) = self.vocab.get(&text) {
				tokens.push(*token);
				return;
			}
		}
		// Each symbol's token and its neighbours' places (`None` at the ends); a symbol merged
		// into the one on its left is `gone`.
		let mut symbol: Vec<TokenId> = text.chars().map(|c| self.vocab[&c.to_string()]).collect();
		let count = symbol.len();
		let mut next: Vec<Option<usize>> = (1..=count).map(|at| (at < count).then_some(at)).collect();
		let mut previous: Vec<Option<usize>> = (0..count).map(|at| at.checked_sub(1)).collect();
		let mut gone = vec![false; count];
		let mut queue = std::collections::BinaryHeap::new();
		let pair = |left: usize, right: usize, symbol: &[TokenId]| {
			self.merges
				.get(&(symbol[left], symbol[right]))
				.map(|(rank, merged)| std::cmp::Reverse((*rank, left, *merged)))
		};
		queue.extend((1..count).filter_map(|right| pair(right - 1, right, &symbol)));
		while let Some(std::cmp::Reverse((rank, left, merged))) = queue.pop() {
			let Some(right) = next[left] else { continue };
			// Stale: the left symbol was merged away, or either side has changed since.
			if gone[left] || self.merges.get(&(symbol[left], symbol[right])) != Some(&(rank, merged)) {
				continue;
			}
			symbol[left] = merged;
			gone[right] = true;
			next[left] = next[right];
			if let Some(after) = next[right] {
				previous[after] = Some(left);
				queue.extend(pair(left, after, &symbol));
			}
			if let Some(before) = previous[left] {
				queue.extend(pair(before, left, &symbol));
			}
		}
		tokens.extend((0..count).filter(|at| !gone[*at]).map(|at| symbol[at]));
	}

	/// The bytes of `tokens`, special tokens left out; `Err` with the first id not in the
	/// vocabulary. Each token's characters map back to their bytes; a token with a character
	/// outside the byte-level alphabet (an added token's content, say) stands for its UTF-8.
	pub fn decode(&self, tokens: &[TokenId]) -> Result<Vec<u8>, TokenId> {
		let mut bytes = Vec::with_capacity(tokens.len());
		for token in tokens {
			let text = match self.entries.get(token) {
				Some(Entry::Text(text)) | Some(Entry::Added { content: text, special: false }) => text,
				Some(Entry::Added { special: true, .. }) => continue,
				None => return Err(*token),
			};
			let mapped: Option<Vec<u8>> = text.chars().map(|c| self.bytes.get(&c).copied()).collect();
			bytes.extend(mapped.unwrap_or_else(|| text.as_bytes().to_vec()));
		}
		Ok(bytes)
	}

	/// The special added tokens (`<|endoftext|>`…): where a generation stops by default.
	pub fn special_tokens(&self) -> Vec<TokenId> {
		self.entries
			.iter()
			.filter(|(_, entry)| matches!(entry, Entry::Added { special: true, .. }))
			.map(|(id, _)| *id)
			.collect()
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	fn byte_level_json(vocab_extra: &str, merges: &str, added: &str) -> String {
		let alphabet = byte_level_alphabet();
		let vocab: Vec<String> = alphabet
			.iter()
			.enumerate()
			.map(|(byte, c)| format!("{}: {byte}", serde_json::to_string(&c.to_string()).unwrap()))
			.collect();
		format!(
			r#"{{"normalizer": null, "pre_tokenizer": {{"type": "ByteLevel", "add_prefix_space": false}},
			"decoder": {{"type": "ByteLevel"}}, "added_tokens": [{added}],
			"model": {{"type": "BPE", "vocab": {{{}, "<|endoftext|>": 256{vocab_extra}}}, "merges": [{merges}]}}}}"#,
			vocab.join(", ")
		)
	}

	const END: &str = r#"{"id": 256, "content": "<|endoftext|>", "special": true}"#;

	#[test]
	fn byte_level_text_round_trips_and_added_tokens_are_matched_whole() {
		let tokenizer = Tokenizer::from_json(&byte_level_json("", "", END)).unwrap();
		// GPT-2's alphabet puts space (0x20) at 0x120 and 'A' at itself; ids here are bytes.
		assert_eq!(tokenizer.encode("Añ <|endoftext|>!"), [0x41, 0xc3, 0xb1, 0x20, 256, 0x21]);
		assert_eq!(tokenizer.decode(&[0x41, 0xc3, 0xb1, 0x20, 256, 0x21]).unwrap(), "Añ !".as_bytes());
		assert_eq!(tokenizer.decode(&[0x41, 999]), Err(999));
		assert_eq!(tokenizer.special_tokens(), [256]);
	}

	#[test]
	fn merges_apply_lowest_rank_first_within_pieces() {
		// Ranks: "a a" first, then "aa a", then "Ġ a"; GPT-2's split keeps " aaa" one piece.
		let json = byte_level_json(r#", "aa": 257, "aaa": 258, "Ġa": 259"#, r#""a a", "aa a", "Ġ a""#, END);
		let tokenizer = Tokenizer::from_json(&json).unwrap();
		// "aaa": a·a merges (leftmost), then aa·a. " aaa": Ġ·a ranks after a·a, so Ġ aaa stays.
		assert_eq!(tokenizer.encode("aaa"), [258]);
		assert_eq!(tokenizer.encode(" aaa"), [0x20, 258]);
		assert_eq!(tokenizer.encode(" a aaaa"), [259, 0x20, 257, 257]);
		assert_eq!(tokenizer.decode(&[259, 0x20, 257, 257]).unwrap(), b" a aaaa");
	}

	#[test]
	fn a_piece_in_the_vocab_is_one_token_where_merges_are_ignored() {
		// "ab" is in the vocab, but no merge makes it.
		let json = byte_level_json(r#", "ab": 257"#, "", END);
		assert_eq!(Tokenizer::from_json(&json).unwrap().encode("ab"), [0x61, 0x62]);
		let ignoring = json.replace(r#""type": "BPE","#, r#""type": "BPE", "ignore_merges": true,"#);
		assert_eq!(Tokenizer::from_json(&ignoring).unwrap().encode("ab"), [257]);
	}

	#[test]
	fn digits_are_split_as_tokenizers_splits_them() {
		// What tokenizers 0.23.2's Digits gives (`pre_tokenize_str`): any numeric character,
		// not only ASCII digits; a prefix space then goes before each piece.
		let pieces = |step: &PreTokenizer, text: &str| {
			let mut pieces = Vec::new();
			split(step, text, &mut pieces);
			pieces
		};
		let text = "aⅫ ² ٣٤ ５12";
		let one_by_one = pieces(&PreTokenizer::Digits { individual: true }, text);
		assert_eq!(one_by_one, ["a", "Ⅻ", " ", "²", " ", "٣", "٤", " ", "５", "1", "2"]);
		let runs = pieces(&PreTokenizer::Digits { individual: false }, text);
		assert_eq!(runs, ["a", "Ⅻ", " ", "²", " ", "٣٤", " ", "５12"]);
		assert_eq!(pieces(&PreTokenizer::PrefixSpace, "1"), [" 1"]);
	}

	#[test]
	fn white_space_is_split_as_gpt2s_look_ahead_splits_it() {
		// `\s+(?!\S)|\s+`: a run followed by text gives its last character to that text's piece.
		let gpt2 = PreTokenizer::Split(SplitPattern::new(GPT2_PATTERN).unwrap());
		let mut pieces = Vec::new();
		split(&gpt2, "a   b \n c  ", &mut pieces);
		assert_eq!(pieces, ["a", "  ", " b", " \n", " c", "  "]);
	}

	#[test]
	fn tokenizers_this_does_not_read_exactly_are_refused_by_name() {
		let word_piece = Tokenizer::from_json(r#"{"model": {"type": "WordPiece", "vocab": {}}}"#).unwrap_err();
		assert!(word_piece.contains("WordPiece"), "{word_piece}");
		let missing = byte_level_json("", "", END).replace(r#""A": 65, "#, "");
		assert!(Tokenizer::from_json(&missing).unwrap_err().contains("byte 0x41"));
		let clash = Tokenizer::from_json(&byte_level_json("", "", r#"{"id": 65, "content": "<s>"}"#)).unwrap_err();
		assert!(clash.contains("id of a byte"), "{clash}");
		let unmerged = Tokenizer::from_json(&byte_level_json("", r#""a b""#, END)).unwrap_err();
		assert!(unmerged.contains(r#""ab" is not in the vocab"#), "{unmerged}");
		let stripping = END.replace(r#""special": true"#, r#""special": true, "lstrip": true"#);
		let stripping = Tokenizer::from_json(&byte_level_json("", "", &stripping)).unwrap_err();
		assert!(stripping.contains("lstrip"), "{stripping}");
		let normalized =
			byte_level_json("", "", END).replace(r#""normalizer": null"#, r#""normalizer": {"type": "NFKC"}"#);
		assert!(Tokenizer::from_json(&normalized).unwrap_err().contains("NFKC"));
		let merged_split = byte_level_json("", "", END).replace(
			r#"{"type": "ByteLevel", "add_prefix_space": false}"#,
			r#"{"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithPrevious", "invert": false}"#,
		);
		assert!(Tokenizer::from_json(&merged_split).unwrap_err().contains("MergedWithPrevious"));
		let look_ahead = byte_level_json("", "", END).replace(
			r#"{"type": "ByteLevel", "add_prefix_space": false}"#,
			r#"{"type": "Split", "pattern": {"Regex": "a(?=b)"}, "behavior": "Isolated", "invert": false}"#,
		);
		let look_ahead = Tokenizer::from_json(&look_ahead).unwrap_err();
		assert!(look_ahead.contains("look-around"), "{look_ahead}");
		let byte_level = r#"{"type": "ByteLevel", "add_prefix_space": false}"#;
		let without = byte_level_json("", "", END).replace(byte_level, "null");
		assert!(Tokenizer::from_json(&without).unwrap_err().contains("without ByteLevel"));
		let digits_after = r#"{"type": "Sequence", "pretokenizers": [{"type": "ByteLevel"}, {"type": "Digits"}]}"#;
		let digits_after = Tokenizer::from_json(&byte_level_json("", "", END).replace(byte_level, digits_after));
		assert!(digits_after.unwrap_err().contains(r#"pre-tokenizer "Digits" after ByteLevel"#));
	}
}
