//! Empty: the crate exists for its dependencies' features (see its `Cargo.toml`), which make
//! CI's benchmark build reuse what the node build compiled.
