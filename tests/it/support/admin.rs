//! A browser-like HTTP client for the admin pages: keeps cookies, reads CSRF tokens from forms.

use std::collections::BTreeMap;

use awc::http::StatusCode;

use crate::support::TestApp;

pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub set_cookies: Vec<String>,
    pub body: String,
}

impl Page {
    /// The first hidden `csrf` value in the page.
    pub fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .unwrap_or_else(|| panic!("no csrf field in: {}", self.body));
        let rest = &self.body[at + 19..];
        rest[..rest.find('"').unwrap()].to_owned()
    }

    /// The `value` of the input with this id.
    pub fn input(&self, id: &str) -> Option<String> {
        let at = self.body.find(&format!("id=\"{id}\" value=\""))?;
        let rest = &self.body[at + id.len() + 13..];
        Some(html_unescape(&rest[..rest.find('"')?]))
    }
}

fn html_unescape(s: &str) -> String {
    s.replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

pub struct Browser {
    origin: String,
    client: awc::Client,
    pub cookies: BTreeMap<String, String>,
}

impl Browser {
    pub fn new(app: &TestApp) -> Browser {
        Browser::at(app.addr)
    }

    /// A browser for the appliance listening at `addr` (e.g. a `scimgate serve` process).
    pub fn at(addr: std::net::SocketAddr) -> Browser {
        Browser {
            origin: format!("http://127.0.0.1:{}", addr.port()),
            client: awc::Client::builder()
                .disable_redirects()
                .timeout(std::time::Duration::from_secs(60))
                .finish(),
            cookies: BTreeMap::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            // Links printed with the public URL (localhost) go to the same server.
            let p = path.splitn(4, '/').nth(3).unwrap_or_default();
            format!("{}/{p}", self.origin)
        } else {
            format!("{}{path}", self.origin)
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn finish<S>(&mut self, mut res: awc::ClientResponse<S>) -> Page
    where
        S: futures_util::Stream<Item = Result<actix_web::web::Bytes, awc::error::PayloadError>>
            + Unpin,
    {
        let set_cookies: Vec<String> = res
            .headers()
            .get_all("set-cookie")
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        for c in &set_cookies {
            let first = c.split(';').next().unwrap_or_default();
            if let Some((k, v)) = first.split_once('=') {
                if v.is_empty() || c.contains("Max-Age=0") {
                    self.cookies.remove(k);
                } else {
                    self.cookies.insert(k.to_owned(), v.to_owned());
                }
            }
        }
        let body = res.body().limit(16 * 1024 * 1024).await.unwrap();
        Page {
            status: res.status(),
            location: res
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            set_cookies,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let res = self
            .client
            .get(self.url(path))
            .insert_header(("Cookie", self.cookie_header()))
            .send()
            .await
            .unwrap();
        self.finish(res).await
    }

    /// Posts a form as a browser on this site does (Origin and Sec-Fetch-Site set).
    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        self.post_with(
            path,
            form,
            &[
                ("Origin", &self.origin.clone()),
                ("Sec-Fetch-Site", "same-origin"),
            ],
        )
        .await
    }

    pub async fn post_with(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Page {
        let mut req = self
            .client
            .post(self.url(path))
            .insert_header(("Cookie", self.cookie_header()));
        for (k, v) in headers {
            req = req.insert_header((*k, *v));
        }
        let res = req.send_form(&form.to_vec()).await.unwrap();
        self.finish(res).await
    }

    /// Opens the setup link and creates the first administrator; ends signed in.
    pub async fn setup(&mut self, link: &str, user: &str, password: &str) -> Page {
        let form = self.get(link).await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.body);
        let csrf = form.csrf();
        let page = self
            .post(
                link,
                &[
                    ("csrf", &csrf),
                    ("username", user),
                    ("password", password),
                    ("confirm", password),
                ],
            )
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        page
    }

    pub async fn sign_in(&mut self, user: &str, password: &str) -> Page {
        let form = self.get("/admin/login").await;
        let csrf = form.csrf();
        self.post(
            "/admin/login",
            &[("csrf", &csrf), ("username", user), ("password", password)],
        )
        .await
    }

    /// A signed-in browser on a fresh appliance.
    pub async fn admin(app: &TestApp) -> Browser {
        let mut b = Browser::new(app);
        b.setup(
            app.setup_link.as_deref().unwrap(),
            "admin",
            "correct horse battery",
        )
        .await;
        b
    }
}
