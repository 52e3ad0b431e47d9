//! The little HTML the service writes itself (the OAuth callback page, the mock
//! WeChat's and the mock Alipay's consent and error pages): escaping whatever
//! text goes into it, the phone-sized page they share, and their answers.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use url::Url;

/// Hidden form inputs carrying `fields` (names as given, values escaped), one a line.
pub fn hidden_inputs(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(name, value)| format!(r#"<input type="hidden" name="{name}" value="{}">"#, escape_html(value)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A redirect the browser must not cache (it carries a one-time code).
pub fn redirect(target: &Url) -> HttpResponse {
    HttpResponse::Found().insert_header((LOCATION, target.as_str())).insert_header((CACHE_CONTROL, "no-store")).finish()
}

/// An HTML page, not cached.
pub fn html(status: StatusCode, page: String) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((CACHE_CONTROL, "no-store"))
        .body(page)
}

/// A phone-sized page with inline styles only (no external assets), its
/// buttons in the provider's `accent` colour.
pub fn phone_page(title: &str, accent: &str, body: &str) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ margin: 0; font: 16px/1.5 -apple-system, "PingFang SC", "Microsoft YaHei", sans-serif; background: #ededed; color: #191919; }}
main {{ max-width: 28rem; margin: 0 auto; padding: 1.5rem 1rem; box-sizing: border-box; }}
h1 {{ font-size: 1.25rem; margin: 0 0 1rem; }}
.card {{ background: #fff; border-radius: 8px; padding: 1rem; margin-bottom: 1rem; }}
label {{ display: block; padding: 0.6rem 0; border-bottom: 1px solid #eee; word-break: break-all; }}
label:last-child {{ border-bottom: 0; }}
small {{ color: #888; }}
input[type=text] {{ width: 100%; box-sizing: border-box; font-size: 1rem; padding: 0.5rem; margin-top: 0.25rem; }}
button {{ display: block; width: 100%; font-size: 1.05rem; padding: 0.75rem; margin-top: 0.75rem; border: 0; border-radius: 6px; }}
.allow {{ background: {accent}; color: #fff; }}
.deny {{ background: #f2f2f2; color: {accent}; }}
.errcode {{ font-size: 2rem; font-weight: bold; color: #fa5151; margin: 0; }}
</style>
</head>
<body><main>
{body}
</main></body>
</html>
"#
    )
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            _ => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escaping_covers_markup_and_both_quotes() {
        assert_eq!(
            escape_html(r#"<a href="x" title='y'>&</a>"#),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
        assert_eq!(escape_html("小明"), "小明");
        assert_eq!(
            hidden_inputs(&[("a", "1"), ("b", "<\"")]),
            "<input type=\"hidden\" name=\"a\" value=\"1\">\n<input type=\"hidden\" name=\"b\" value=\"&lt;&quot;\">"
        );
    }
}
