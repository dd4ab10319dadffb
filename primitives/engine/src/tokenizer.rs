//! A decoder's tokenizer as Hugging Face's `tokenizers` writes it (`tokenizer.json`), for BPE
//! tokenizers of two kinds:
//! - byte-level, GPT-2's family and its descendants (Llama 3, SmolLM, Qwen 2…): merges over
//!   GPT-2's byte-level alphabet, pre-tokenizers `ByteLevel` (with or without GPT-2's split),
//!   `Split` (a regex or a string, matches isolated), `Digits` and `Sequence`s of them ending
//!   with `ByteLevel`, decoder `ByteLevel`;
//! - characters as they are, SentencePiece's BPE as Hugging Face converts it (Llama 2,
//!   Mistral, TinyLlama…): a character the vocabulary lacks is its bytes' tokens `<0xXX>`
//!   (byte fallback) or the unknown token (runs of them fused), pre-tokenizer `Metaspace`
//!   (without split) or none, decoders `Replace`, `ByteFallback`, `Fuse`, `Strip`,
//!   `Metaspace`;
//!
//! with normalizers `NFC`, `Prepend` and `Replace` (of a string), added tokens
//! (`<|endoftext|>`, `<s>`…) and the post-processor `TemplateProcessing`'s special tokens
//! around a prompt. Encoding and decoding give what `tokenizers` gives
//! (`encode(text, add_special_tokens=False)` or `True`, `decode(ids, skip_special_tokens=True)`), checked
//! against it on the test-model stage's tokenizers (`tests/tokenizer.rs`). Anything else (other
//! normalizers, WordPiece, Unigram, added tokens that strip spaces…) is refused by name, not
//! approximated.
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
	/// Spaces replaced by `replacement` (`▁`), which is put before a piece that does not
	/// start with it: every piece (`always`), or the one at the text's start (`first`) or
	/// none (`never`); the piece is not split (`Metaspace` with `split` false).
	Metaspace { replacement: char, prepend: Prepend },
}

/// Where `Metaspace` puts its replacement before a piece.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Prepend {
	Always,
	First,
	Never,
}

impl Prepend {
	fn read(part: &Value) -> Result<Self, String> {
		match part["prepend_scheme"].as_str() {
			Some("always") => Ok(Self::Always),
			Some("first") => Ok(Self::First),
			Some("never") => Ok(Self::Never),
			_ => Err(format!("Metaspace prepend_scheme {}: not read", part["prepend_scheme"])),
		}
	}
}

/// One step of normalization, applied to each stretch of text between added tokens.
#[derive(Clone, Debug)]
enum Normalizer {
	/// Unicode's normalization form C.
	Nfc,
	/// A string put before a stretch that is not empty (SentencePiece's `▁`).
	Prepend(String),
	/// Each occurrence of a string replaced by another.
	Replace { pattern: String, content: String },
}

impl Normalizer {
	fn apply(&self, text: String) -> String {
		match self {
			Self::Nfc => text.nfc().collect(),
			Self::Prepend(_) if text.is_empty() => text,
			Self::Prepend(prefix) => format!("{prefix}{text}"),
			Self::Replace { pattern, content } => text.replace(pattern.as_str(), content),
		}
	}
}

/// The longest string a normalizer or decoder puts in text (`Prepend`, `Replace`): each
/// character of a prompt becomes at most this many bytes, whatever file a model's owner brings
/// (SentencePiece's `▁` is 3 bytes).
const MAX_INSERTED_BYTES: usize = 16;

/// `part[key]`, a string a step puts in text, at most [`MAX_INSERTED_BYTES`] long.
fn inserted(part: &Value, key: &str) -> Result<String, String> {
	let text = part[key].as_str().ok_or_else(|| format!("{} without its {key}", part["type"]))?;
	if text.len() > MAX_INSERTED_BYTES {
		return Err(format!("{} {key} of {} bytes: at most {MAX_INSERTED_BYTES} are read", part["type"], text.len()));
	}
	Ok(text.to_string())
}

/// The steps of a part of `tokenizer.json` (its normalizer, pre-tokenizer, post-processor or
/// decoder), in order: none where it is null, each step of a `Sequence` (its list under
/// `list`, `Sequence`s in it flattened), else the part itself.
fn steps<'a>(part: &'a Value, list: &str) -> Result<Vec<&'a Value>, String> {
	let mut steps = Vec::new();
	let mut pending = vec![part];
	while let Some(part) = pending.pop() {
		match part["type"].as_str() {
			None if part.is_null() => {},
			Some("Sequence") => {
				let inner = part[list].as_array().ok_or_else(|| format!("a Sequence without its {list}"))?;
				pending.extend(inner.iter().rev());
			},
			_ => steps.push(part),
		}
	}
	Ok(steps)
}

/// The normalizer steps of `part` (a `normalizer` object).
fn normalizers(part: &Value) -> Result<Vec<Normalizer>, String> {
	steps(part, "normalizers")?
		.into_iter()
		.map(|step| match step["type"].as_str() {
			Some("NFC") => Ok(Normalizer::Nfc),
			Some("Prepend") => Ok(Normalizer::Prepend(inserted(step, "prepend")?)),
			Some("Replace") => Ok(Normalizer::Replace {
				pattern: string_pattern(step, "Replace normalizer")?,
				content: inserted(step, "content")?,
			}),
			_ => Err(format!("normalizer {}: not read", step["type"])),
		})
		.collect()
}

/// The string a `Replace` step replaces (a regex pattern is refused, and an empty string,
/// found between every two characters).
fn string_pattern(part: &Value, what: &str) -> Result<String, String> {
	match part["pattern"]["String"].as_str() {
		Some("") => Err(format!("{what} pattern \"\": not read")),
		Some(pattern) => Ok(pattern.to_string()),
		None => Err(format!("{what} pattern {}: only a string is read", part["pattern"])),
	}
}

/// The character `Metaspace` writes for a space.
fn replacement(part: &Value) -> Result<char, String> {
	let mut chars = part["replacement"].as_str().unwrap_or_default().chars();
	match (chars.next(), chars.next()) {
		(Some(c), None) => Ok(c),
		_ => Err(format!("Metaspace replacement {}: not one character", part["replacement"])),
	}
}

/// How a piece becomes the symbols BPE merges, and tokens text again.
#[derive(Clone, Debug)]
enum Symbols {
	/// GPT-2's byte-level alphabet: each byte of a piece is a character, each character a
	/// token (the pre-tokenizers end with `ByteLevel`, the decoder is `ByteLevel`).
	ByteLevel {
		/// The character of each byte, and back.
		alphabet: Box<[char; 256]>,
		bytes: HashMap<char, u8>,
		/// Each byte's token.
		byte_tokens: Vec<TokenId>,
	},
	/// Characters as they are (SentencePiece's BPE as Hugging Face converts it: Llama 2's,
	/// Mistral's): a character the vocabulary lacks is its UTF-8 bytes' tokens `<0xXX>`
	/// (`byte_fallback`), else the unknown token, a run of them one (`fuse_unk`).
	Characters { byte_tokens: Option<Vec<TokenId>>, unknown: Option<TokenId>, fuse_unknown: bool },
}

/// One step of decoding tokens that are characters as they are: each works on the list of
/// the tokens' strings, as `tokenizers`' decoders do.
#[derive(Clone, Debug)]
enum DecodeStep {
	/// Each occurrence of a string replaced by another, in each token.
	Replace { pattern: String, content: String },
	/// Runs of byte tokens `<0xXX>` become their UTF-8 text, or one `�` a byte where it is
	/// not UTF-8.
	ByteFallback,
	/// The tokens joined into one.
	Fuse,
	/// Up to `start` of `content` taken off each token's start and `stop` off its end.
	Strip { content: char, start: usize, stop: usize },
	/// `Metaspace`'s decoder: the replacement a space, but in the first token, where every
	/// replacement goes (unless it never prepends).
	Metaspace { replacement: char, drop_first: bool },
}

impl DecodeStep {
	fn read(part: &Value) -> Result<Self, String> {
		let count = |key: &str| part[key].as_u64().and_then(|n| usize::try_from(n).ok());
		Ok(match part["type"].as_str() {
			Some("Replace") => {
				Self::Replace { pattern: string_pattern(part, "Replace decoder")?, content: inserted(part, "content")? }
			},
			Some("ByteFallback") => Self::ByteFallback,
			Some("Fuse") => Self::Fuse,
			Some("Strip") => {
				let mut content = part["content"].as_str().unwrap_or_default().chars();
				match (content.next(), content.next(), count("start"), count("stop")) {
					(Some(content), None, Some(start), Some(stop)) => Self::Strip { content, start, stop },
					_ => return Err(format!("Strip decoder {part}: not read")),
				}
			},
			Some("Metaspace") => {
				Self::Metaspace { replacement: replacement(part)?, drop_first: Prepend::read(part)? != Prepend::Never }
			},
			_ => return Err(format!("decoder {}: not read", part["type"])),
		})
	}

	fn apply(&self, tokens: Vec<String>) -> Vec<String> {
		match self {
			Self::Replace { pattern, content } => tokens.iter().map(|t| t.replace(pattern.as_str(), content)).collect(),
			Self::ByteFallback => {
				let mut out = Vec::with_capacity(tokens.len());
				let mut run = Vec::new();
				let flush = |run: &mut Vec<u8>, out: &mut Vec<String>| {
					if !run.is_empty() {
						match String::from_utf8(std::mem::take(run)) {
							Ok(text) => out.push(text),
							Err(error) => out.extend((0..error.as_bytes().len()).map(|_| "\u{fffd}".to_string())),
						}
					}
				};
				for token in tokens {
					match byte_token(&token) {
						Some(byte) => run.push(byte),
						None => {
							flush(&mut run, &mut out);
							out.push(token);
						},
					}
				}
				flush(&mut run, &mut out);
				out
			},
			Self::Fuse => vec![tokens.concat()],
			Self::Strip { content, start, stop } => tokens
				.into_iter()
				.map(|token| {
					let chars: Vec<char> = token.chars().collect();
					let from = chars.iter().take(*start).take_while(|c| *c == content).count();
					let to = chars.len() - chars[from..].iter().rev().take(*stop).take_while(|c| *c == content).count();
					chars[from..to].iter().collect()
				})
				.collect(),
			Self::Metaspace { replacement, drop_first } => tokens
				.iter()
				.enumerate()
				.map(|(index, token)| {
					token
						.chars()
						.filter_map(|c| match c == *replacement {
							true if index == 0 && *drop_first => None,
							true => Some(' '),
							false => Some(c),
						})
						.collect()
				})
				.collect(),
		}
	}
}

/// The byte of a byte token `<0xXX>` (as SentencePiece writes them), read as `tokenizers`
/// reads them: two hexadecimal digits.
fn byte_token(token: &str) -> Option<u8> {
	let hex = token.strip_prefix("<0x")?.strip_suffix('>')?;
	(hex.len() == 2).then(|| u8::from_str_radix(hex, 16).ok()).flatten()
}

/// A token's entry in the vocabulary or among the added tokens.
#[derive(Clone, Debug)]
enum Entry {
	/// A vocabulary token: its text (in the byte-level alphabet, for byte-level tokenizers).
	Text(String),
	/// An added token's content; special ones are left out of decoded text.
	Added { content: String, special: bool },
}

/// A tokenizer read from `tokenizer.json`.
#[derive(Clone, Debug)]
pub struct Tokenizer {
	/// The vocabulary: a token's text, its id.
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
	/// Normalization of each stretch of text between added tokens, in order.
	normalizers: Vec<Normalizer>,
	/// Pre-tokenization, in order.
	pre_tokenizers: Vec<PreTokenizer>,
	/// What BPE merges: bytes in GPT-2's alphabet, or characters.
	symbols: Symbols,
	/// Decoding of characters' tokens, in order (byte-level tokens decode to their bytes).
	decoder: Vec<DecodeStep>,
	/// The special tokens the post-processor puts before and after a prompt's tokens
	/// (`TemplateProcessing`'s single template: Llama 2's `<s>`, Llama 3's
	/// `<|begin_of_text|>`).
	before: Vec<TokenId>,
	after: Vec<TokenId>,
}

/// The tokens a `post_processor` puts before and after a text's (`ByteLevel`'s only moves
/// offsets: none).
fn post_processor(part: &Value) -> Result<(Vec<TokenId>, Vec<TokenId>), String> {
	let mut around = (Vec::new(), Vec::new());
	for part in steps(part, "processors")? {
		match part["type"].as_str() {
			Some("ByteLevel") => {},
			Some("TemplateProcessing") => {
				let mut seen = false;
				for piece in part["single"].as_array().ok_or("a TemplateProcessing without its single template")? {
					if piece["Sequence"]["id"] == "A" && !seen {
						seen = true;
						continue;
					}
					let name = piece["SpecialToken"]["id"]
						.as_str()
						.ok_or_else(|| format!("TemplateProcessing piece {piece}: not read"))?;
					let ids = part["special_tokens"][name]["ids"]
						.as_array()
						.ok_or_else(|| format!("TemplateProcessing: no ids for {name:?}"))?
						.iter()
						.map(token_id)
						.collect::<Option<Vec<_>>>()
						.ok_or_else(|| format!("TemplateProcessing: the ids of {name:?} are not token ids"))?;
					if seen { &mut around.1 } else { &mut around.0 }.extend(ids);
				}
				if !seen {
					return Err("a TemplateProcessing single template without the text ($A)".into());
				}
			},
			_ => return Err(format!("post-processor {}: not read", part["type"])),
		}
	}
	Ok(around)
}

/// A token id written in `tokenizer.json`.
fn token_id(value: &Value) -> Option<TokenId> {
	value.as_u64().and_then(|id| TokenId::try_from(id).ok())
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
			each(Part::Text(at, &text[at..found.start()]));
			each(Part::Added(self.ids[found.pattern().as_usize()]));
			at = found.end();
		}
		each(Part::Text(at, &text[at..]));
	}
}

/// A part of a text split at its added tokens.
enum Part<'a> {
	/// A stretch between added tokens (may be empty), and where it starts.
	Text(usize, &'a str),
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

/// The pre-tokenizer steps of `tokenizer.json`'s `pre_tokenizer`, and whether they end with
/// `ByteLevel`. `ByteLevel` must be the last of them: it maps each piece's bytes to the
/// byte-level alphabet (which [`Tokenizer::merge`] does last), so a step after it would split
/// mapped text (a space is `Ġ` there): refused.
fn pre_tokenizers(part: &Value) -> Result<(Vec<PreTokenizer>, bool), String> {
	let mut steps = Vec::new();
	let mut byte_level = false;
	for part in self::steps(part, "pretokenizers")? {
		if byte_level {
			return Err(format!("pre-tokenizer {} after ByteLevel: not read", part["type"]));
		}
		match part["type"].as_str() {
			Some("ByteLevel") => {
				byte_level = true;
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
			Some("Metaspace") => {
				if part["split"] != false {
					return Err("Metaspace pre-tokenizer with split: not read".into());
				}
				steps.push(PreTokenizer::Metaspace { replacement: replacement(part)?, prepend: Prepend::read(part)? });
			},
			_ => return Err(format!("pre-tokenizer {}: not read", part["type"])),
		}
	}
	Ok((steps, byte_level))
}

/// `text`'s pieces after `step`, empty ones left out; `at_start` says whether `text` starts
/// where the text encoded starts.
fn split(step: &PreTokenizer, text: &str, at_start: bool, pieces: &mut Vec<String>) {
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
		PreTokenizer::Metaspace { replacement, prepend } => {
			let text = text.replace(' ', &replacement.to_string());
			let put = match prepend {
				Prepend::Always => true,
				Prepend::First => at_start,
				Prepend::Never => false,
			};
			pieces.push(if put && !text.starts_with(*replacement) { format!("{replacement}{text}") } else { text });
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
		if !model["dropout"].is_null()
			|| !model["continuing_subword_prefix"].is_null()
			|| !model["end_of_word_suffix"].is_null()
		{
			return Err("BPE dropout, subword prefixes and suffixes are not read".into());
		}
		let normalizers = normalizers(&root["normalizer"])?;
		let (before, after) = post_processor(&root["post_processor"])?;
		let (pre_tokenizers, byte_level) = pre_tokenizers(&root["pre_tokenizer"])?;
		let decoder = &root["decoder"];
		let decoder = match (byte_level, decoder["type"].as_str()) {
			(true, Some("ByteLevel")) => Vec::new(),
			(true, _) => return Err(format!("decoder {} after a ByteLevel pre-tokenizer: not read", decoder["type"])),
			(false, Some("ByteLevel")) => {
				return Err("decoder ByteLevel without a ByteLevel pre-tokenizer: not read".into())
			},
			// Without a decoder `tokenizers` joins the tokens with spaces.
			(false, None) => return Err(format!("decoder {}: not read", decoder["type"])),
			(false, _) => steps(decoder, "decoders")?.into_iter().map(DecodeStep::read).collect::<Result<_, _>>()?,
		};

		let mut vocab = HashMap::new();
		let mut entries = BTreeMap::new();
		for (text, token) in model["vocab"].as_object().ok_or("the BPE model has no vocab")? {
			let token = token_id(token).ok_or_else(|| format!("vocab entry {text:?}: its id is not a token id"))?;
			if entries.insert(token, Entry::Text(text.clone())).is_some() {
				return Err(format!("token {token} has two entries in the vocab"));
			}
			vocab.insert(text.clone(), token);
		}
		let symbols = if byte_level {
			if model["byte_fallback"] == true {
				return Err("BPE byte fallback with a ByteLevel pre-tokenizer: not read".into());
			}
			let alphabet = byte_level_alphabet();
			let byte_tokens = alphabet
				.iter()
				.enumerate()
				.map(|(byte, character)| {
					vocab
						.get(&character.to_string())
						.copied()
						.ok_or_else(|| format!("the vocab has no token for byte {byte:#04x} ({character:?})"))
				})
				.collect::<Result<Vec<_>, _>>()?;
			let bytes = alphabet.iter().enumerate().map(|(byte, c)| (*c, byte as u8)).collect();
			Symbols::ByteLevel { alphabet: Box::new(alphabet), bytes, byte_tokens }
		} else {
			let byte_tokens = match model["byte_fallback"] == true {
				true => Some(
					(0..=255u8)
						.map(|byte| {
							let token = format!("<{byte:#04X}>").replace("0X", "0x");
							vocab.get(&token).copied().ok_or_else(|| format!("byte fallback: the vocab has no {token}"))
						})
						.collect::<Result<Vec<_>, _>>()?,
				),
				false => None,
			};
			let unknown = match model["unk_token"].as_str() {
				Some(text) => {
					Some(*vocab.get(text).ok_or_else(|| format!("the unknown token {text:?} is not in the vocab"))?)
				},
				None if byte_tokens.is_some() => None,
				// `tokenizers` would leave the character out of the tokens.
				None => return Err("a BPE of characters with neither byte fallback nor an unknown token".into()),
			};
			Symbols::Characters { byte_tokens, unknown, fuse_unknown: model["fuse_unk"] == true }
		};
		let byte_ids: &[TokenId] = match &symbols {
			Symbols::ByteLevel { byte_tokens, .. } => byte_tokens,
			Symbols::Characters { byte_tokens, .. } => byte_tokens.as_deref().unwrap_or_default(),
		};

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
			let (Some(content), Some(token_id)) = (token["content"].as_str(), token_id(&token["id"])) else {
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
		Ok(Self {
			vocab,
			entries,
			merges,
			ignore_merges: model["ignore_merges"] == true,
			added: AddedTokens::new(added)?,
			added_normalized: AddedTokens::new(added_normalized)?,
			normalizers,
			pre_tokenizers,
			symbols,
			decoder,
			before,
			after,
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
			Part::Text(at, stretch) => {
				let normalized = self.normalizers.iter().fold(stretch.to_string(), |text, step| step.apply(text));
				self.added_normalized.split(&normalized, |part| match part {
					Part::Added(token) => tokens.push(token),
					Part::Text(within, stretch) => self.encode_stretch(stretch, at + within == 0, &mut tokens),
				})
			},
		});
		tokens
	}

	/// A prompt's tokens: [`encode`](Self::encode)'s with the special tokens the
	/// post-processor puts around them, as `tokenizers`' `encode(text, add_special_tokens=True)`
	/// (and `transformers`' `tokenizer(text)`) gives them.
	pub fn encode_with_special_tokens(&self, text: &str) -> Vec<TokenId> {
		let mut tokens = self.before.clone();
		tokens.extend(self.encode(text));
		tokens.extend(&self.after);
		tokens
	}

	/// The tokens of a stretch of normalized text without added tokens: pre-tokenized into
	/// pieces, each piece merged. `at_start`: the stretch starts where the text does.
	fn encode_stretch(&self, text: &str, at_start: bool, tokens: &mut Vec<TokenId>) {
		if text.is_empty() {
			return;
		}
		let mut pieces = vec![text.to_string()];
		for step in &self.pre_tokenizers {
			let mut next = Vec::with_capacity(pieces.len());
			for (index, piece) in pieces.iter().enumerate() {
				split(step, piece, at_start && index == 0, &mut next);
			}
			pieces = next;
		}
		for piece in pieces {
			self.merge(&piece, tokens);
		}
	}

	/// A piece's first symbols: its bytes' tokens in the byte-level alphabet, or its
	/// characters' tokens (a character the vocabulary lacks: its bytes' tokens, else the
	/// unknown token, a run of them one where fused), as `tokenizers` makes them.
	fn symbols(&self, piece: &str) -> Vec<TokenId> {
		let (byte_tokens, unknown, fuse_unknown) = match &self.symbols {
			Symbols::ByteLevel { byte_tokens, .. } => {
				return piece.bytes().map(|byte| byte_tokens[byte as usize]).collect()
			},
			Symbols::Characters { byte_tokens, unknown, fuse_unknown } => (byte_tokens, unknown, *fuse_unknown),
		};
		let mut symbols = Vec::with_capacity(piece.len());
		let mut last_unknown = false;
		let mut character = [0u8; 4];
		for c in piece.chars() {
			if let Some(token) = self.vocab.get(c.encode_utf8(&mut character) as &str) {
				symbols.push(*token);
			} else if let Some(byte_tokens) = byte_tokens {
				symbols.extend(c.encode_utf8(&mut character).bytes().map(|byte| byte_tokens[byte as usize]));
			} else if let Some(unknown) = unknown {
				if !(last_unknown && fuse_unknown) {
					symbols.push(*unknown);
				}
				last_unknown = true;
				continue;
			}
			last_unknown = false;
		}
		symbols
	}

	/// A piece's tokens: its [`symbols`](Self::symbols), merged pair by pair, the pair of
	/// lowest rank first (the leftmost of equal ones), until no pair has a merge. As
	/// `tokenizers` does it, in O(n log n) for a piece of n symbols: the pairs in a heap by
	/// rank and place, each merge pushing the two pairs it makes, a pair whose symbols have
	/// changed since skipped.
	fn merge(&self, piece: &str, tokens: &mut Vec<TokenId>) {
		if self.ignore_merges {
			let whole = match &self.symbols {
				Symbols::ByteLevel { alphabet, .. } => {
					self.vocab.get(&piece.bytes().map(|byte| alphabet[byte as usize]).collect::<String>())
				},
				Symbols::Characters { .. } => self.vocab.get(piece),
			};
			if let Some(token) = whole {
				tokens.push(*token);
				return;
			}
		}
		// Each symbol's token and its neighbours' places (`None` at the ends); a symbol merged
		// into the one on its left is `gone`.
		let mut symbol = self.symbols(piece);
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
	/// vocabulary. Byte-level tokens: each token's characters map back to their bytes; a token
	/// with a character outside the byte-level alphabet (an added token's content, say) stands
	/// for its UTF-8. Tokens of characters: the UTF-8 of the text the decoder's steps make of
	/// the tokens' strings, as `tokenizers` runs them.
	pub fn decode(&self, tokens: &[TokenId]) -> Result<Vec<u8>, TokenId> {
		let mut texts = Vec::with_capacity(tokens.len());
		for token in tokens {
			match self.entries.get(token) {
				Some(Entry::Text(text)) | Some(Entry::Added { content: text, special: false }) => texts.push(text),
				Some(Entry::Added { special: true, .. }) => {},
				None => return Err(*token),
			}
		}
		let bytes = match &self.symbols {
			Symbols::ByteLevel { bytes, .. } => texts
				.into_iter()
				.flat_map(|text| {
					let mapped: Option<Vec<u8>> = text.chars().map(|c| bytes.get(&c).copied()).collect();
					mapped.unwrap_or_else(|| text.as_bytes().to_vec())
				})
				.collect(),
			Symbols::Characters { .. } => {
				let texts = texts.into_iter().cloned().collect();
				self.decoder.iter().fold(texts, |texts, step| step.apply(texts)).concat().into_bytes()
			},
		};
		Ok(bytes)
	}

	/// A stream of the text of tokens that arrive one by one (a generation's).
	pub fn stream(&self) -> TextStream<'_> {
		TextStream { tokenizer: self, tokens: Vec::new(), text: Vec::new(), sent: 0 }
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

/// The text of tokens that arrive one by one, as it settles: a token's text alone is not its
/// part of the whole (a character's bytes come in several byte-level tokens or byte tokens
/// `<0xXX>`, and SentencePiece's decoders strip the text's first space, not each token's), so
/// each token's text is what the whole text decoded so far adds, less an end a later token may
/// still change. Each token decodes the text so far again: O(n) a token, for the at most
/// `max_tokens` tokens of a generation.
#[derive(Clone)]
pub struct TextStream<'a> {
	tokenizer: &'a Tokenizer,
	tokens: Vec<TokenId>,
	/// The text of `tokens`, and how much of it was handed out.
	text: Vec<u8>,
	sent: usize,
}

impl TextStream<'_> {
	/// The text `token` settles (may be empty); `Err` with a token not in the vocabulary,
	/// which is left out.
	pub fn push(&mut self, token: TokenId) -> Result<Vec<u8>, TokenId> {
		self.tokens.push(token);
		match self.tokenizer.decode(&self.tokens) {
			Ok(text) => self.text = text,
			Err(unknown) => {
				self.tokens.pop();
				return Err(unknown);
			},
		}
		let settled = settled_len(&self.text).max(self.sent);
		let new = self.text.get(self.sent..settled).unwrap_or_default().to_vec();
		self.sent = settled;
		Ok(new)
	}

	/// The rest of the text, once the last token has arrived.
	pub fn finish(self) -> Vec<u8> {
		self.text.get(self.sent..).unwrap_or_default().to_vec()
	}
}

/// How much of decoded text no later token changes: all but an incomplete UTF-8 character at
/// its end (byte-level tokens) or replacement characters there (a run of byte tokens a later
/// one may complete).
fn settled_len(text: &[u8]) -> usize {
	const REPLACEMENT: &[u8] = "\u{fffd}".as_bytes();
	let mut end = text.len();
	while text[..end].ends_with(REPLACEMENT) {
		end -= REPLACEMENT.len();
	}
	// The last character's first byte, within the last three, and the bytes it needs.
	for back in 1..=end.min(3) {
		let byte = text[end - back];
		if byte & 0xc0 != 0x80 {
			let needs = match byte {
				0xc0..=0xdf => 2,
				0xe0..=0xef => 3,
				0xf0..=0xf7 => 4,
				_ => 1,
			};
			return if needs > back { end - back } else { end };
		}
	}
	end
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
			split(step, text, true, &mut pieces);
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
		split(&gpt2, "a   b \n c  ", true, &mut pieces);
		assert_eq!(pieces, ["a", "  ", " b", " \n", " c", "  "]);
	}

	#[test]
	fn decoder_steps_do_what_tokenizers_0_23_2_does() {
		// Each expectation is what `tokenizers.decoders` 0.23.2 gives for these tokens.
		let strings = |tokens: &[&str]| tokens.iter().map(|t| t.to_string()).collect::<Vec<_>>();
		let bytes = strings(&["<0xE6>", "<0x97>", "a", "<0xE6>", "<0x97>", "<0xA5>", "<0x+A>", "<0xe6>"]);
		// A run of byte tokens that is no UTF-8 is one replacement character a byte.
		assert_eq!(
			DecodeStep::ByteFallback.apply(bytes).concat(),
			"\u{fffd}\u{fffd}a\u{fffd}\u{fffd}\u{fffd}\u{fffd}\u{fffd}"
		);
		let strip = DecodeStep::Strip { content: ' ', start: 2, stop: 1 };
		assert_eq!(strip.apply(strings(&["   ab  ", " c"])).concat(), " ab c");
		let metaspace = |drop_first| DecodeStep::Metaspace { replacement: '\u{2581}', drop_first };
		assert_eq!(metaspace(true).apply(strings(&["\u{2581}a\u{2581}b", "\u{2581}c"])).concat(), "ab c");
		assert_eq!(metaspace(false).apply(strings(&["\u{2581}a\u{2581}b", "\u{2581}c"])).concat(), " a b c");
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
		assert!(Tokenizer::from_json(&without)
			.unwrap_err()
			.contains("decoder ByteLevel without a ByteLevel pre-tokenizer"));
		let digits_after = r#"{"type": "Sequence", "pretokenizers": [{"type": "ByteLevel"}, {"type": "Digits"}]}"#;
		let digits_after = Tokenizer::from_json(&byte_level_json("", "", END).replace(byte_level, digits_after));
		assert!(digits_after.unwrap_err().contains(r#"pre-tokenizer "Digits" after ByteLevel"#));
		// Characters as they are: SentencePiece's BPE.
		let characters = |model: &str, pre_tokenizer: &str, decoder: &str| {
			Tokenizer::from_json(&format!(
				r#"{{"normalizer": null, "pre_tokenizer": {pre_tokenizer}, "decoder": {decoder}, "added_tokens": [],
				"model": {{"type": "BPE", "vocab": {{"<unk>": 0, "a": 1}}, "merges": [], {model}}}}}"#
			))
			.unwrap_err()
		};
		let fuse = r#"{"type": "Fuse"}"#;
		assert!(characters(r#""byte_fallback": true"#, "null", fuse).contains("the vocab has no <0x00>"));
		assert!(characters(r#""unk_token": null"#, "null", fuse).contains("neither byte fallback nor an unknown token"));
		assert!(
			characters(r#""unk_token": "?""#, "null", fuse).contains(r#"the unknown token "?" is not in the vocab"#)
		);
		let split = r#"{"type": "Metaspace", "replacement": "_", "prepend_scheme": "always", "split": true}"#;
		assert!(characters(r#""unk_token": "<unk>""#, split, fuse).contains("Metaspace pre-tokenizer with split"));
		let regex = r#"{"type": "Replace", "pattern": {"Regex": " +"}, "content": " "}"#;
		assert!(characters(r#""unk_token": "<unk>""#, "null", regex).contains("only a string is read"));
		let empty = r#"{"type": "Replace", "pattern": {"String": ""}, "content": " "}"#;
		assert!(characters(r#""unk_token": "<unk>""#, "null", empty).contains(r#"pattern "": not read"#));
		// A normalizer or decoder that puts long strings in text would make a prompt of n
		// characters one of n times their length.
		let long = format!(r#"{{"type": "Replace", "pattern": {{"String": " "}}, "content": "{}"}}"#, "x".repeat(17));
		let long = characters(r#""unk_token": "<unk>""#, "null", &long);
		assert!(long.contains(r#""Replace" content of 17 bytes: at most 16 are read"#), "{long}");
		let prepend = format!(r#"{{"type": "Prepend", "prepend": "{}"}}"#, "x".repeat(17));
		let prepend = Tokenizer::from_json(
			&byte_level_json("", "", END).replace(r#""normalizer": null"#, &format!(r#""normalizer": {prepend}"#)),
		);
		assert!(prepend.unwrap_err().contains("at most 16"));
		// Without a decoder, `tokenizers` joins tokens with spaces: not read.
		assert!(characters(r#""unk_token": "<unk>""#, "null", "null").contains("decoder null: not read"));
		let byte_level_decoder = r#"{"type": "ByteLevel"}"#;
		let mismatch = characters(r#""unk_token": "<unk>""#, "null", byte_level_decoder);
		assert!(mismatch.contains("decoder ByteLevel without a ByteLevel pre-tokenizer"), "{mismatch}");
		let roberta = byte_level_json("", "", END)
			.replace(r#""normalizer": null"#, r#""normalizer": null, "post_processor": {"type": "RobertaProcessing"}"#);
		assert!(Tokenizer::from_json(&roberta).unwrap_err().contains("post-processor \"RobertaProcessing\""));
		let no_text = r#"{"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<|endoftext|>"}}],
			"special_tokens": {"<|endoftext|>": {"ids": [256]}}}"#;
		let no_text = byte_level_json("", "", END)
			.replace(r#""normalizer": null"#, &format!(r#""normalizer": null, "post_processor": {no_text}"#));
		assert!(Tokenizer::from_json(&no_text).unwrap_err().contains("without the text ($A)"));
		let fallback =
			byte_level_json("", "", END).replace(r#""type": "BPE","#, r#""type": "BPE", "byte_fallback": true,"#);
		assert!(Tokenizer::from_json(&fallback).unwrap_err().contains("byte fallback with a ByteLevel"));
	}
}
