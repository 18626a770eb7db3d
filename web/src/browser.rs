//! The page's ties to the browser: the entry points the boot script and the worker call, the
//! download of bytes as a file, local storage, reading a dropped or picked file, and the bundle
//! build handed to the Web Worker (`window.kbundleBuild`, defined by `web/js/boot.js`).

use js_sys::{Array, Function, Promise, Reflect, Uint8Array};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use kbundle_core::bundle::expiry::Expiry;
use yew::prelude::TargetCast;

use crate::build::{BuildRequest, Engine, PreviousZip, build_zip, export_zip, key_plan};
use crate::form::Form;

/// Where the form is kept between visits (without passwords: see [`Form::for_storage`]).
const STORAGE_KEY: &str = "kbundle.form.v1";

/// Mounts the page into `#app`. Called by the boot script once the module is instantiated.
#[wasm_bindgen]
pub fn mount_app() -> Result<(), JsValue> {
    let root = web_sys::window()
        .and_then(|window| window.document())
        .and_then(|document| document.get_element_by_id("app"))
        .ok_or_else(|| JsValue::from_str("the page has no #app element"))?;
    yew::Renderer::<crate::app::App>::with_root(root).render();
    Ok(())
}

/// The previous bundle the worker was handed: empty bytes for none.
fn previous_zip(zip: Vec<u8>, passphrase: String) -> Option<PreviousZip> {
    (!zip.is_empty()).then(|| PreviousZip {
        zip,
        passphrase: (!passphrase.is_empty()).then_some(passphrase),
    })
}

/// Worker: the key plan of a `cluster.yaml`, as JSON (`{"count": 23, "rsaBits": 2048}`); made
/// from a previous bundle (its bytes, empty for none), only what is issued anew needs a key.
#[wasm_bindgen]
pub fn worker_key_plan(
    yaml: &str,
    previous: Vec<u8>,
    previous_passphrase: String,
    issued_at: f64,
) -> Result<String, JsValue> {
    let previous = previous_zip(previous, previous_passphrase);
    // Whole seconds since 1970 fit an f64 exactly.
    let plan = key_plan(yaml, previous.as_ref(), issued_at as i64)
        .map_err(|error| JsValue::from_str(&error))?;
    serde_json::to_string(&plan).map_err(|error| JsValue::from_str(&error.to_string()))
}

/// Worker: builds the zip. `keys` are PKCS#8 DER keys from WebCrypto (an array of Uint8Array);
/// `previous` the bundle the cluster was installed from (empty for none). Returns
/// `{zip: Uint8Array, timeline: "<JSON>"}`.
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)]
pub fn worker_build(
    yaml: String,
    seed: &[u8],
    issued_at: f64,
    passphrase: String,
    keys: Array,
    previous: Vec<u8>,
    previous_passphrase: String,
) -> Result<JsValue, JsValue> {
    let seed: [u8; 32] = seed
        .try_into()
        .map_err(|_| JsValue::from_str("the seed must be 32 bytes"))?;
    let premade_keys = keys
        .iter()
        .map(|key| Uint8Array::new(&key).to_vec())
        .collect();
    let request = BuildRequest {
        yaml,
        seed,
        // Whole seconds since 1970 fit an f64 exactly.
        issued_at: issued_at as i64,
        passphrase: (!passphrase.is_empty()).then_some(passphrase),
        premade_keys,
        previous: previous_zip(previous, previous_passphrase),
    };
    let built = build_zip(&request).map_err(|error| JsValue::from_str(&error))?;
    let timeline = serde_json::to_string(&built.timeline)
        .map_err(|error| JsValue::from_str(&error.to_string()))?;
    let result = js_sys::Object::new();
    Reflect::set(&result, &"zip".into(), &Uint8Array::from(&built.zip[..]))?;
    Reflect::set(&result, &"timeline".into(), &JsValue::from_str(&timeline))?;
    Ok(result.into())
}

/// Worker: exports the bundle it built (`bundle`, opened with `passphrase` when not empty) for
/// `engine` (`ansible`, `cloud-init` within the cloud limit `limit`) under the folder named
/// after `cluster`. Returns `{zip: Uint8Array, summary: string}`.
#[wasm_bindgen]
pub fn worker_export(
    engine: &str,
    limit: &str,
    bundle: &[u8],
    passphrase: String,
    cluster: &str,
) -> Result<JsValue, JsValue> {
    let engine = Engine::named(engine, limit).map_err(|error| JsValue::from_str(&error))?;
    let passphrase = (!passphrase.is_empty()).then_some(passphrase);
    let exported = export_zip(bundle, passphrase.as_deref(), engine, cluster)
        .map_err(|error| JsValue::from_str(&error))?;
    let result = js_sys::Object::new();
    Reflect::set(&result, &"zip".into(), &Uint8Array::from(&exported.zip[..]))?;
    Reflect::set(&result, &"summary".into(), &exported.summary.into())?;
    Ok(result.into())
}

/// Asks the worker for an export of the bundle it built (`window.kbundleExport`): its zip and
/// what it holds, in a sentence.
pub async fn export_in_worker(
    engine: Engine,
    bundle: &[u8],
    passphrase: &str,
    cluster: &str,
) -> Result<(Vec<u8>, String), String> {
    let limit = match engine {
        Engine::CloudInit(limit) => limit.name,
        Engine::Ansible => "",
    };
    let arguments = Array::of5(
        &JsValue::from_str(engine.name()),
        &JsValue::from_str(limit),
        &Uint8Array::from(bundle),
        &JsValue::from_str(passphrase),
        &JsValue::from_str(cluster),
    );
    let result = call_worker("kbundleExport", &arguments).await?;
    let zip = Reflect::get(&result, &JsValue::from_str("zip")).map_err(describe)?;
    let summary = Reflect::get(&result, &JsValue::from_str("summary"))
        .ok()
        .and_then(|value| value.as_string())
        .unwrap_or_default();
    Ok((Uint8Array::new(&zip).to_vec(), summary))
}

/// Calls `window[name]` (a function of `web/js/boot.js` that hands the work to the worker) with
/// `arguments`, and awaits the promise it returns.
async fn call_worker(name: &str, arguments: &Array) -> Result<JsValue, String> {
    let window = web_sys::window().ok_or("no window")?;
    let function: Function = Reflect::get(&window, &JsValue::from_str(name))
        .ok()
        .and_then(|value| value.dyn_into().ok())
        .ok_or_else(|| format!("the worker is not ready ({name} missing)"))?;
    let promise: Promise = function
        .apply(&JsValue::NULL, arguments)
        .map_err(describe)?
        .dyn_into()
        .map_err(describe)?;
    JsFuture::from(promise).await.map_err(describe)
}

/// A finished build.
pub struct Built {
    /// The zip.
    pub zip: Vec<u8>,
    /// Milliseconds from the request to the zip, measured in the worker.
    pub millis: f64,
    /// Its expiry timeline.
    pub timeline: Vec<Expiry>,
}

/// Asks the worker for a bundle; `on_progress` gets a short text per stage.
pub async fn build_in_worker(
    yaml: &str,
    passphrase: &str,
    previous: Option<&PreviousZip>,
    on_progress: impl Fn(String) + 'static,
) -> Result<Built, String> {
    let progress = Closure::<dyn Fn(JsValue)>::new(move |text: JsValue| {
        on_progress(text.as_string().unwrap_or_default());
    });
    let (previous_bytes, previous_passphrase) = match previous {
        Some(previous) => (
            JsValue::from(Uint8Array::from(&previous.zip[..])),
            JsValue::from_str(previous.passphrase.as_deref().unwrap_or_default()),
        ),
        None => (JsValue::NULL, JsValue::from_str("")),
    };
    let arguments = Array::of5(
        &JsValue::from_str(yaml),
        &JsValue::from_str(passphrase),
        &previous_bytes,
        &previous_passphrase,
        progress.as_ref(),
    );
    let result = call_worker("kbundleBuild", &arguments).await?;
    drop(progress);
    let zip = Reflect::get(&result, &JsValue::from_str("zip")).map_err(describe)?;
    let millis = Reflect::get(&result, &JsValue::from_str("millis"))
        .ok()
        .and_then(|value| value.as_f64())
        .unwrap_or_default();
    let timeline = Reflect::get(&result, &JsValue::from_str("timeline"))
        .ok()
        .and_then(|value| value.as_string())
        .ok_or("the worker sent no timeline")?;
    Ok(Built {
        zip: Uint8Array::new(&zip).to_vec(),
        millis,
        timeline: serde_json::from_str(&timeline).map_err(|error| error.to_string())?,
    })
}

/// Saves `bytes` as a download named `name` (a Blob, an object URL and a clicked link).
pub fn download(name: &str, mime: &str, bytes: &[u8]) -> Result<(), String> {
    let document = web_sys::window()
        .and_then(|window| window.document())
        .ok_or("no document")?;
    let parts = Array::of1(&Uint8Array::from(bytes));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options)
        .map_err(describe)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(describe)?;
    let link: web_sys::HtmlAnchorElement = document
        .create_element("a")
        .map_err(describe)?
        .dyn_into()
        .map_err(|_| "not a link".to_owned())?;
    link.set_href(&url);
    link.set_download(name);
    link.set_attribute("hidden", "").map_err(describe)?;
    document
        .body()
        .ok_or("no body")?
        .append_child(&link)
        .map_err(describe)?;
    link.click();
    link.remove();
    // The click has started the download; the URL may go once this task ends.
    let revoke = Closure::once_into_js(move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    });
    if let Some(window) = web_sys::window() {
        let _ = window
            .set_timeout_with_callback_and_timeout_and_arguments_0(revoke.unchecked_ref(), 10_000);
    }
    Ok(())
}

/// The form saved by an earlier visit, if any and readable.
pub fn load_form() -> Option<Form> {
    let storage = web_sys::window()?.local_storage().ok()??;
    let text = storage.get_item(STORAGE_KEY).ok()??;
    serde_json::from_str(&text).ok()
}

/// Keeps the form for the next visit, without passwords.
pub fn save_form(form: &Form) {
    let Some(storage) = web_sys::window().and_then(|w| w.local_storage().ok().flatten()) else {
        return;
    };
    if let Ok(text) = serde_json::to_string(&form.for_storage()) {
        // Storage full or disabled (private mode): the page works without it.
        let _ = storage.set_item(STORAGE_KEY, &text);
    }
}

/// Forgets the saved form.
pub fn clear_saved_form() {
    if let Some(storage) = web_sys::window().and_then(|w| w.local_storage().ok().flatten()) {
        let _ = storage.remove_item(STORAGE_KEY);
    }
}

/// The text of a picked or dropped file, read locally.
pub async fn read_file(file: web_sys::File) -> Result<String, String> {
    let text = JsFuture::from(file.text()).await.map_err(describe)?;
    text.as_string()
        .ok_or_else(|| "the file is not text".into())
}

/// The bytes of a picked or dropped file, read locally.
pub async fn read_file_bytes(file: web_sys::File) -> Result<Vec<u8>, String> {
    let buffer = JsFuture::from(file.array_buffer())
        .await
        .map_err(describe)?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

/// The file an `<input type=file>` change picked; the input is emptied so that picking the
/// same file again is a change too.
fn picked_file(event: &yew::Event) -> Option<web_sys::File> {
    let input: web_sys::HtmlInputElement = event.target_unchecked_into();
    let file = input.files().and_then(|files| files.get(0));
    input.set_value("");
    file
}

/// The file dropped on a drop zone (the browser would otherwise open it).
fn dropped_file(event: &yew::DragEvent) -> Option<web_sys::File> {
    event.prevent_default();
    event
        .data_transfer()
        .and_then(|transfer| transfer.files())
        .and_then(|files| files.get(0))
}

/// The two ways a file reaches `read`: picked with an `<input type=file>` (its `onchange`) or
/// dropped on a drop zone (its `ondrop`).
pub fn file_callbacks(
    read: yew::Callback<web_sys::File>,
) -> (yew::Callback<yew::Event>, yew::Callback<yew::DragEvent>) {
    let on_pick = {
        let read = read.clone();
        yew::Callback::from(move |event: yew::Event| {
            if let Some(file) = picked_file(&event) {
                read.emit(file);
            }
        })
    };
    let on_drop = yew::Callback::from(move |event: yew::DragEvent| {
        if let Some(file) = dropped_file(&event) {
            read.emit(file);
        }
    });
    (on_pick, on_drop)
}

/// Now, in unix seconds (the browser's clock).
pub fn now_unix() -> i64 {
    (js_sys::Date::now() / 1000.0) as i64
}

/// Milliseconds since the page started loading.
pub fn now_millis() -> f64 {
    web_sys::window()
        .and_then(|window| window.performance())
        .map(|performance| performance.now())
        .unwrap_or_default()
}

/// Leaves a figure where the benchmark and the tests read it (`window.kbundleTimings`).
pub fn record_timing(name: &str, value: f64) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let key = JsValue::from_str("kbundleTimings");
    let timings = Reflect::get(&window, &key)
        .ok()
        .filter(|value| value.is_object())
        .unwrap_or_else(|| {
            let object: JsValue = js_sys::Object::new().into();
            let _ = Reflect::set(&window, &key, &object);
            object
        });
    let _ = Reflect::set(
        &timings,
        &JsValue::from_str(name),
        &JsValue::from_f64(value),
    );
}

fn describe(value: JsValue) -> String {
    value
        .as_string()
        .or_else(|| {
            value
                .dyn_ref::<js_sys::Error>()
                .map(|error| String::from(error.message()))
        })
        .unwrap_or_else(|| format!("{value:?}"))
}
