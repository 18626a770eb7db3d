//! kbundle-web: the browser configurator. A form for everything `cluster.yaml` holds, checked by
//! core's validation as the user types, a live network plan with a picture of the address space,
//! and the bundle built in a Web Worker and saved as a download. Nothing leaves the page.
//!
//! - [`form`]: the form's state and its conversion to and from the cluster model.
//! - [`address_map`]: the geometry of the address-space picture.
//! - [`build`]: what the worker runs to make the zip, and opening a bundle dropped on the page.
//! - [`timeline`]: the rows of a bundle's expiry timeline.
//!
//! The page itself (Yew components, worker messages, downloads, storage) exists only in the
//! browser build; the modules above are plain Rust and tested natively.

pub mod address_map;
pub mod build;
pub mod form;
pub mod timeline;

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
pub mod app;
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
pub mod browser;
