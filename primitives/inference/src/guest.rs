//! The engine guest as chain state: the names both sides agree on.
//!
//! The guest (the wasm module of `primitives/engine-guest`) declares the engine version it
//! implements in a custom section; the chain keeps the guest's bytes under a well-known storage
//! key of its hash, so a node can run any guest the chain names, also one it was not built with.
//!
//! This file is also compiled into the engine's build script (`primitives/engine/build.rs`),
//! so it holds constants only.

/// The engine version this code implements: part of every result hash, so a change of the
/// engine that could change any output bit gets a new version and old and new results never
/// collide. Version 3 charges fuel for the guest's bulk memory operations, its memory growth
/// and the restore of a prepared model's snapshot (see `metering`): outputs are those of
/// version 2, fuel figures are higher. Version 4 limits the guest's call stack in wasm terms
/// (`metering::STACK_LIMIT_SLOTS`), the same on every CPU, where wasmtime's native limit used to
/// decide: outputs are version 3's, fuel figures are higher by the counting of calls. Version 5
/// adds ONNX-ML operators (`TreeEnsembleRegressor`, `Scaler`) and computes `TreeEnsembleClassifier`
/// as onnxruntime does (the guest's `ml` module): models refused before now run, and a tree
/// ensemble classifier's labels and scores may differ from version 4's. Version 6 adds the
/// unified `TreeEnsemble` (ai.onnx.ml 5) and standard operators tract lacks (`Attention`, the
/// losses, `LpPool`, `BitCast`, `CumProd`, `TensorScatter`, `TfIdfVectorizer`: the guest's
/// `standard` module), runs
/// a recurrent layer of `direction = "reverse"` backward (tract ran it forward: its outputs
/// change) and refuses recurrent layers with activations, `clip` or `input_forget` tract
/// ignored, and sends NaN true at a tree's `BRANCH_NEQ` (as onnxruntime; version 5 sent it
/// false); every other output is version 5's. Version 7 holds a model's weights at most twice
/// while preparing it (the file's buffer is decoded without a copy and freed before tract makes
/// its tensors, which take the freed room; the decoded message is dropped before optimising),
/// where version 6 held them four times: a prepared model's memory is about twice its file
/// instead of three to four times, so the fuel of preparing a large model and of restoring it
/// for each run about halves (6–7 a byte of model, from 12–15). Every output is version 6's.
/// Version 8 runs 2-D channels-first f32 max pools (but the 2×2 undilated ones) on the host
/// (`max_pool`): the same bits, less fuel (SqueezeNet's and Inception v1's pools). Version 9
/// hands the host kernel's f32 matrix products to the host whole (`host_kernel::MatMulCall`),
/// where version 8 handed them over a tile at a time: the same bits, another fuel (a product
/// pays its program once and each tile's operations, where each tile paid a program). Version
/// 10 runs 2-D channels-first f32 depthwise convolutions on the host whole (`depthwise`): the
/// same bits, less fuel (ShuffleNet's). Version 11 runs tract's chains of f32 element-wise
/// operations (`OptBinChain`: batch normalisations, ReLUs, residual adds) on the host whole
/// (`bin_chain`): the same bits, another fuel. Version 12 keeps the guest's own memory size
/// ([`ROOM_VERSION`]), so a node runs a model whose runs grow the memory in a memory with the
/// room an earlier run grew into, and keeps its instance: the same bits, with or without the
/// room the same fuel, which is version 11's and 4,096 more a run (one more block of the
/// snapshot), give or take a few units a growth (the stand-in's own instructions). Version 13
/// makes the guest's copies and fills of 128 bytes or fewer with its own loads and stores (its
/// stand-ins for `memory.copy` and `memory.fill`), which the fuel counts as instructions, where
/// version 12 called wasmtime's `memory.copy` and `memory.fill` and charged their bytes: the
/// same bits, another fuel (slightly lower or higher, by model). Version 14 hands tract's eager
/// im2col of a channels-first f32 convolution to the host (`im2col`), which copies every
/// element of the matrix into the panels tract packs: the same bits, less fuel. Version 15
/// flushes subnormal floats ([`FLUSH_SUBNORMALS_VERSION`]): every float instruction of a run, the
/// guest's wasm and the host kernels alike, reads a subnormal operand as a zero of its sign and
/// writes a zero of its sign for a result that would be subnormal (x86-64's DAZ and FTZ; moves,
/// loads, stores and bit operations such as `abs` and `neg` copy bits as before), where version
/// 14 computed IEEE subnormals, which Intel CPUs compute 40–60 times slower than normal numbers:
/// outputs that were or passed through a subnormal's arithmetic change, every other output is
/// version 14's, and fuel moves by a few units where the guest's code branches on such a value.
///
/// The guest declares it in its [`VERSION_SECTION`]; the chain's state names the version of
/// the guest it runs (`models.engineGuest`), and result hashes use that one.
pub const ENGINE_VERSION: u32 = 15;

/// The first engine version that flushes subnormal floats to zero (DAZ and FTZ on x86-64, the
/// only architecture that runs it): no run can make a CPU take its slow path for subnormals,
/// which is many times a run's weight on Intel CPUs.
pub const FLUSH_SUBNORMALS_VERSION: u32 = 15;

/// The wasm import through which a guest of [`FLUSH_SUBNORMALS_VERSION`] or later reads the float
/// mode its wasm runs in: `float_mode() -> u32`, 1 where subnormals are flushed, 0 where they are
/// IEEE. Its start-up check reports it (`veriml_check_host_kernel`'s top bit), and the host
/// refuses a guest that ran in a mode other than its version's. An engine built before version 15
/// does not define it, so it cannot run such a guest at all rather than run it in IEEE mode
/// and split from the nodes that flush.
pub const FLOAT_MODE_IMPORT: &str = "float_mode";

/// The bit of `veriml_check_host_kernel`'s answer that reports the float mode the guest's wasm
/// saw ([`FLOAT_MODE_IMPORT`]); the bits below it count the checks that differed.
pub const CHECK_FLUSHED_BIT: u32 = 1 << 31;

/// The first engine version whose guest keeps its own memory size (its stand-in for
/// `memory.grow`), so that a node may run a model in a memory with room beyond its snapshot
/// without changing a run's fuel or outputs. Earlier guests ask the memory itself.
pub const ROOM_VERSION: u32 = 12;

/// Name of the guest's custom section that holds its engine version (4 bytes, little endian).
pub const VERSION_SECTION: &str = "veriml:engine_version";

/// Prefix of the raw storage key under which the chain keeps a guest's bytes; the key is the
/// prefix followed by the guest's blake2-256 (of the uncompressed wasm). The bytes may be
/// zstd-compressed the way the runtime's own code is (`sp-maybe-compressed-blob`).
pub const GUEST_CODE_PREFIX: &[u8] = b":veriml:engine_guest:";

/// Most bytes a stored guest may decompress to: twice today's guest.
pub const MAX_GUEST_BYTES: usize = 32 * 1024 * 1024;
