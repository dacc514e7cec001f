//! The front end's static files (the wasm, its JavaScript loader, the
//! stylesheet, the icon), served from memory under names that carry a hash
//! of their content, so a browser keeps each for a year and asks again only
//! when a new build changes it.
//!
//! Not `ServeDir`: an `immutable` name is a promise that its bytes never
//! change. The files are read once and the name is the hash of exactly the
//! bytes served, so a site directory rebuilt under a running server can't
//! put new bytes behind an old name. A precompressed copy (`.br`, `.gz`,
//! written by `cargo leptos build --release --precompress`) is used only
//! after it decompresses to the file it claims to be; without one (a debug
//! build) the file goes out as it is.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use app::AssetUrls;
use axum::body::{Body, Bytes};
use axum::response::{IntoResponse, Response};
use http::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, HeaderMap, IF_NONE_MATCH, VARY,
};
use http::{HeaderValue, Method, StatusCode};
use sha2::{Digest, Sha256};

/// A year: the longest lifetime caches honour.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Names without a hash (`/favicon.svg` asked for directly): kept, but
/// checked with the server before each use.
const REVALIDATE: &str = "no-cache";

/// Marks our responses so on-the-fly compression leaves them alone: they
/// are either compressed already or deliberately raw.
#[derive(Clone, Copy, Debug)]
pub struct AssetResponse;

pub struct Assets {
    root: PathBuf,
    pkg_dir: String,
    /// Development: a front end rebuilt by `cargo leptos watch` is picked up
    /// on the next request instead of at the next restart.
    follow_changes: bool,
    current: RwLock<Arc<Snapshot>>,
}

struct Snapshot {
    by_path: HashMap<String, Entry>,
    urls: AssetUrls,
    /// Every file read, with its size and time, to notice a rebuild.
    stamp: Vec<(PathBuf, u64, Option<SystemTime>)>,
    /// What is missing from the front end, if anything.
    missing: Vec<String>,
}

#[derive(Clone)]
struct Entry {
    file: Arc<File>,
    cache_control: &'static str,
}

struct File {
    content_type: HeaderValue,
    /// Hex digest of the raw bytes: the ETag, and the name's hash.
    digest: String,
    raw: Bytes,
    br: Option<Bytes>,
    gzip: Option<Bytes>,
}

impl Assets {
    /// Reads the site directory cargo-leptos writes. A missing front end is
    /// not an error here: the caller decides (pages work without it).
    pub fn load(root: impl Into<PathBuf>, pkg_dir: &str, follow_changes: bool) -> Self {
        let root = root.into();
        let pkg_dir = pkg_dir.trim_matches('/').to_owned();
        let snapshot = Snapshot::read(&root, &pkg_dir);
        Self { root, pkg_dir, follow_changes, current: RwLock::new(Arc::new(snapshot)) }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The front-end files that are not there (empty once built).
    pub fn missing(&self) -> Vec<String> {
        self.snapshot().missing.clone()
    }

    /// Whether every file has its brotli and gzip copies (a release build).
    pub fn precompressed(&self) -> bool {
        let snapshot = self.snapshot();
        !snapshot.by_path.is_empty() && snapshot.by_path.values().all(|e| e.file.br.is_some() && e.file.gzip.is_some())
    }

    pub fn urls(&self) -> AssetUrls {
        self.snapshot().urls.clone()
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        let current = self.current.read().unwrap_or_else(|e| e.into_inner()).clone();
        if !self.follow_changes || stamp(&self.root) == current.stamp {
            return current;
        }
        let fresh = Arc::new(Snapshot::read(&self.root, &self.pkg_dir));
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = fresh.clone();
        fresh
    }

    /// The response for a GET or HEAD of one of our files, or `None` when
    /// the path is not one (the caller renders its 404 page).
    pub fn respond(&self, method: &Method, path: &str, headers: &HeaderMap) -> Option<Response> {
        if method != Method::GET && method != Method::HEAD {
            return None;
        }
        let entry = self.snapshot().by_path.get(path)?.clone();
        Some(entry.respond(headers))
    }
}

impl Entry {
    fn respond(&self, headers: &HeaderMap) -> Response {
        let file = &self.file;
        let (encoding, body) = match preferred_encoding(headers, file.br.is_some(), file.gzip.is_some()) {
            Encoding::Br => (Some("br"), file.br.clone()),
            Encoding::Gzip => (Some("gzip"), file.gzip.clone()),
            Encoding::Identity => (None, None),
        };
        let body = body.unwrap_or_else(|| file.raw.clone());
        // One ETag per representation: a cache must not answer a gzip
        // request with the brotli bytes it validated.
        let etag = format!("\"{}{}\"", file.digest, encoding.map(|e| format!("-{e}")).unwrap_or_default());
        let not_modified =
            headers.get_all(IF_NONE_MATCH).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(
                |tag| {
                    let tag = tag.trim();
                    tag == "*" || tag.trim_start_matches("W/") == etag
                },
            );
        let mut res = if not_modified {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            let mut res = Response::new(Body::from(body));
            res.headers_mut().insert(CONTENT_TYPE, file.content_type.clone());
            if let Some(encoding) = encoding {
                res.headers_mut().insert(CONTENT_ENCODING, HeaderValue::from_static(encoding));
            }
            res
        };
        let h = res.headers_mut();
        h.insert(CACHE_CONTROL, HeaderValue::from_static(self.cache_control));
        // Every one of our files may be asked for with any encoding.
        h.insert(VARY, HeaderValue::from_static("accept-encoding"));
        if let Ok(etag) = HeaderValue::from_str(&etag) {
            h.insert(ETAG, etag);
        }
        res.extensions_mut().insert(AssetResponse);
        res
    }
}

impl Snapshot {
    fn read(root: &Path, pkg_dir: &str) -> Self {
        let stamp = stamp(root);
        let mut by_path = HashMap::new();
        for (path, ..) in &stamp {
            let Ok(relative) = path.strip_prefix(root) else { continue };
            let Some(relative) = relative.to_str().map(|r| r.replace('\\', "/")) else { continue };
            if relative.ends_with(".br") || relative.ends_with(".gz") {
                continue;
            }
            match File::read(path) {
                Ok(file) => {
                    by_path.insert(format!("/{relative}"), Entry { file: Arc::new(file), cache_control: REVALIDATE });
                }
                Err(e) => tracing::warn!(path = %path.display(), "cannot read a front-end file: {e}"),
            }
        }
        let mut missing = Vec::new();
        let mut urls = AssetUrls {
            script: format!("/{pkg_dir}/{}.js", app::OUTPUT_NAME),
            wasm: format!("/{pkg_dir}/{}.wasm", app::OUTPUT_NAME),
            stylesheet: String::new(),
            icon: String::new(),
        };

        // The loader and the wasm are built together and change together:
        // one hash of both names the pair.
        let js = by_path.get(&urls.script).cloned();
        let wasm = by_path.get(&urls.wasm).cloned();
        match (js, wasm) {
            (Some(js), Some(wasm)) => {
                let stem = format!("{}.{}", app::OUTPUT_NAME, short(&hex_digest(&[&js.file.raw, &wasm.file.raw])));
                urls.script = format!("/{pkg_dir}/{stem}.js");
                urls.wasm = format!("/{pkg_dir}/{stem}.wasm");
                by_path.insert(urls.script.clone(), js.immutable());
                by_path.insert(urls.wasm.clone(), wasm.immutable());
            }
            (js, wasm) => {
                missing.extend(js.is_none().then(|| urls.script.trim_start_matches('/').to_owned()));
                missing.extend(wasm.is_none().then(|| urls.wasm.trim_start_matches('/').to_owned()));
            }
        }
        // Under `cargo leptos watch` the page keeps the stylesheet's plain
        // name: the live-reload script swaps a changed stylesheet in by that
        // name (the same test Leptos's AutoReload makes).
        let watching = std::env::var_os("LEPTOS_WATCH").is_some();
        for (plain, url) in [
            (format!("/{pkg_dir}/{}.css", app::OUTPUT_NAME), &mut urls.stylesheet),
            ("/favicon.svg".to_owned(), &mut urls.icon),
        ] {
            match by_path.get(&plain).cloned() {
                Some(_) if watching && plain.ends_with(".css") => *url = plain,
                Some(entry) => {
                    let (stem, extension) = plain.rsplit_once('.').unwrap_or((&plain, ""));
                    let hashed = format!("{stem}.{}.{extension}", short(&entry.file.digest));
                    by_path.insert(hashed.clone(), entry.immutable());
                    *url = hashed;
                }
                None => {
                    missing.push(plain.trim_start_matches('/').to_owned());
                    *url = plain;
                }
            }
        }
        Self { by_path, urls, stamp, missing }
    }
}

impl Entry {
    fn immutable(&self) -> Self {
        Self { file: self.file.clone(), cache_control: IMMUTABLE }
    }
}

impl File {
    fn read(path: &Path) -> std::io::Result<Self> {
        let raw = Bytes::from(std::fs::read(path)?);
        let copy = |extension: &str, decode: fn(&[u8]) -> std::io::Result<Vec<u8>>| -> Option<Bytes> {
            let mut name = path.as_os_str().to_owned();
            name.push(extension);
            let compressed = std::fs::read(PathBuf::from(name)).ok()?;
            match decode(&compressed) {
                Ok(decoded) if decoded == raw => Some(Bytes::from(compressed)),
                _ => {
                    tracing::warn!(path = %path.display(), extension, "ignoring a compressed copy that does not match its file");
                    None
                }
            }
        };
        let br = copy(".br", |data| {
            let mut out = Vec::new();
            brotli::Decompressor::new(data, 4096).read_to_end(&mut out)?;
            Ok(out)
        });
        let gzip = copy(".gz", |data| {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(data).read_to_end(&mut out)?;
            Ok(out)
        });
        Ok(Self {
            content_type: HeaderValue::from_static(content_type(path)),
            digest: hex_digest(&[&raw]),
            raw,
            br,
            gzip,
        })
    }
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "js" | "mjs" => "text/javascript; charset=utf-8",
        // Required for WebAssembly.instantiateStreaming.
        "wasm" => "application/wasm",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "ico" => "image/x-icon",
        "png" => "image/png",
        "json" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        "html" => "text/html; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn hex_digest(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        // Length first, so ("ab", "c") and ("a", "bc") differ.
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hex::encode(hasher.finalize())
}

/// 64 bits of the digest: ample to tell builds apart, short in a URL.
fn short(digest: &str) -> &str {
    &digest[..16]
}

/// Every regular file under the site root, sorted, with size and time.
/// Symbolic links are followed (a site assembled from links is a site),
/// to a bounded depth so a loop ends.
fn stamp(root: &Path) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
    const MAX_DEPTH: usize = 16;
    let mut files = Vec::new();
    let mut dirs = vec![(root.to_path_buf(), 0)];
    while let Some((dir, depth)) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let Ok(meta) = std::fs::metadata(entry.path()) else { continue };
            if meta.is_dir() && depth < MAX_DEPTH {
                dirs.push((entry.path(), depth + 1));
            } else if meta.is_file() {
                files.push((entry.path(), meta.len(), meta.modified().ok()));
            }
        }
    }
    files.sort();
    files
}

#[derive(Debug, PartialEq, Eq)]
enum Encoding {
    Br,
    Gzip,
    Identity,
}

/// The best encoding we have that the request accepts (RFC 9110 §12.5.3):
/// `q=0` refuses a coding, `*` stands for any not named, and of equal
/// preference brotli wins (smaller).
fn preferred_encoding(headers: &HeaderMap, have_br: bool, have_gzip: bool) -> Encoding {
    let mut q_br = None;
    let mut q_gzip = None;
    let mut q_any = None;
    for item in headers.get_all(ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')) {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q=").or_else(|| p.trim().strip_prefix("Q=")))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        match coding.as_str() {
            "br" => q_br = Some(q),
            "gzip" | "x-gzip" => q_gzip = Some(q),
            "*" => q_any = Some(q),
            _ => {}
        }
    }
    let br = if have_br { q_br.or(q_any).unwrap_or(0.0) } else { 0.0 };
    let gzip = if have_gzip { q_gzip.or(q_any).unwrap_or(0.0) } else { 0.0 };
    if br > 0.0 && br >= gzip {
        Encoding::Br
    } else if gzip > 0.0 {
        Encoding::Gzip
    } else {
        Encoding::Identity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT_ENCODING, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn the_encoding_follows_accept_encoding() {
        use Encoding::*;
        let cases = [
            ("gzip, deflate, br, zstd", Br),
            ("gzip", Gzip),
            ("br;q=0, gzip", Gzip),
            ("br;q=0.5, gzip;q=0.8", Gzip),
            ("BR", Br),
            ("*", Br),
            ("*;q=0", Identity),
            ("identity", Identity),
            ("gzip;q=0, *", Br),
            ("", Identity),
        ];
        for (value, expected) in cases {
            assert_eq!(preferred_encoding(&accept(value), true, true), expected, "{value:?}");
        }
        assert_eq!(preferred_encoding(&HeaderMap::new(), true, true), Identity, "no header");
        assert_eq!(preferred_encoding(&accept("br"), false, true), Identity, "no brotli copy");
        assert_eq!(preferred_encoding(&accept("br, gzip"), false, true), Gzip, "no brotli copy");
    }

    #[test]
    fn a_digest_separates_its_parts() {
        assert_ne!(hex_digest(&[b"ab", b"c"]), hex_digest(&[b"a", b"bc"]));
        assert_eq!(hex_digest(&[b"x"]), hex_digest(&[b"x"]));
    }
}
