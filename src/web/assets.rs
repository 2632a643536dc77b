//! Static files, baked into the binary (copying the binary is the install): an explicit table
//! of `include_bytes!`, served under `/static/`. A unit test checks that every file under
//! `static/` is in the table.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

/// (file name under `static/`, content type, bytes)
const FILES: &[(&str, &str, &[u8])] = &[
    (
        "style.css",
        "text/css; charset=utf-8",
        include_bytes!("../../static/style.css"),
    ),
    (
        "copy.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/copy.js"),
    ),
    (
        "logo.svg",
        "image/svg+xml",
        include_bytes!("../../static/logo.svg"),
    ),
];

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/static/{file}", web::get().to(serve))
        .route("/favicon.ico", web::get().to(favicon));
}

fn file(name: &str) -> Option<HttpResponse> {
    let (_, ct, bytes) = FILES.iter().find(|(n, _, _)| *n == name)?;
    Some(
        HttpResponse::Ok()
            .content_type(*ct)
            // Files change only with the binary; an hour keeps upgrades visible soon.
            .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .body(*bytes),
    )
}

async fn serve(name: web::Path<String>) -> HttpResponse {
    file(&name).unwrap_or_else(|| {
        HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("no such file\n")
    })
}

async fn favicon() -> HttpResponse {
    file("logo.svg").unwrap_or_else(|| HttpResponse::NotFound().finish())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_static_file_is_served() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("static");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        on_disk.sort();
        let mut served: Vec<String> = FILES.iter().map(|(n, _, _)| (*n).to_owned()).collect();
        served.sort();
        assert_eq!(on_disk, served, "static/ and the FILES table differ");
        for (name, _, bytes) in FILES {
            assert!(!bytes.is_empty(), "{name} is empty");
            assert!(file(name).is_some());
        }
    }
}
