//! HTML by hand: one escaping helper and the page frame. Every value that did not come from this
//! crate goes through [`esc`].

use std::fmt::Write as _;

/// Escapes text for an HTML element or a double-quoted attribute.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The page's frame. `who` is the signed-in principal's ARN and `csrf` its session's token (both
/// `None` before sign-in): with them, the navigation and the "Sign out" form.
pub(crate) fn page(title: &str, who: Option<(&str, &str)>, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 2048);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} - Tessera IAM</title><style>{STYLE}</style></head><body>",
        esc(title)
    );
    if let Some((arn, csrf)) = who {
        let _ = write!(
            out,
            "<header><nav aria-label=\"Console\"><a href=\"/console/home\">Dashboard</a> \
             <a href=\"/console/users\">Users</a> \
             <a href=\"/console/groups\">User groups</a> <a href=\"/console/roles\">Roles</a></nav>\
             <span class=\"who\" id=\"identity\">{}</span>\
             <form method=\"post\" action=\"/console/signout\">{}<button type=\"submit\">Sign out</button></form>\
             </header>",
            esc(arn),
            csrf_field(csrf)
        );
    }
    let _ = write!(out, "<main><h1>{}</h1>{body}</main></body></html>", esc(title));
    out
}

/// The hidden CSRF field every POST form carries.
pub(crate) fn csrf_field(csrf: &str) -> String {
    format!("<input type=\"hidden\" name=\"csrf\" value=\"{}\">", esc(csrf))
}

/// The panel a page shows in place of data its caller may not read: AWS's explanation of the
/// denial, and nothing else.
pub(crate) fn denied(explanation: &str) -> String {
    format!(
        "<section class=\"denied\" role=\"alert\" aria-labelledby=\"denied-title\">\
         <h2 id=\"denied-title\">Not authorized</h2><p>{}</p></section>",
        esc(explanation)
    )
}

/// An error message above a form.
pub(crate) fn error(message: &str) -> String {
    format!("<p class=\"error\" role=\"alert\">{}</p>", esc(message))
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#16191f}\
header{display:flex;gap:1rem;align-items:center;flex-wrap:wrap;background:#232f3e;color:#fff;padding:.5rem 1rem}\
header a{color:#fff}header form{margin-left:auto}.who{font-size:.85rem}\
main{padding:1rem;max-width:60rem}label{display:block;margin-top:.6rem}\
input[type=text],input[type=password]{display:block;padding:.3rem;min-width:16rem}\
button{margin-top:.8rem;padding:.4rem .9rem}:focus-visible{outline:3px solid #0972d3;outline-offset:2px}\
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}\
.denied{border:2px solid #d13212;padding:.5rem 1rem;background:#fff4f2}.error{color:#d13212}\
.ok{color:#037f0c}.warn{color:#8d6605}.secret{font-family:monospace;background:#f2f3f3;padding:.2rem}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(esc("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
        let page = page("<t>", Some(("arn\"", "c<")), "");
        assert!(!page.contains("<t>") && !page.contains("arn\"<") && page.contains("value=\"c&lt;\""));
    }
}
