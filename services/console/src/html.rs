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

/// Who is signed in, for the page's header.
pub(crate) struct Who<'a> {
    /// The principal's ARN (a role session's `assumed-role/...` ARN after "Switch role").
    pub(crate) arn: &'a str,
    /// The session's CSRF token, for the header's forms.
    pub(crate) csrf: &'a str,
    /// After "Switch role": the display name, its colour and the user to go back to.
    pub(crate) role: Option<(&'a str, &'a str, &'a str)>,
}

/// The colours "Switch role" offers, as AWS's console names them.
pub(crate) const COLOURS: [(&str, &str); 6] = [
    ("red", "#d13212"),
    ("orange", "#ec7211"),
    ("yellow", "#f2c94c"),
    ("green", "#1d8102"),
    ("blue", "#0073bb"),
    ("purple", "#8c4fff"),
];

/// The CSS colour of a "Switch role" colour name (blue when unknown).
pub(crate) fn colour(name: &str) -> &'static str {
    COLOURS.iter().find(|(n, _)| *n == name).map_or("#0073bb", |(_, c)| c)
}

/// The navigation, in AWS's console order.
const NAV: [(&str, &str); 13] = [
    ("/console/home", "Dashboard"),
    ("/console/groups", "User groups"),
    ("/console/users", "Users"),
    ("/console/roles", "Roles"),
    ("/console/policies", "Policies"),
    ("/console/identity-providers", "Identity providers"),
    ("/console/account", "Account settings"),
    ("/console/credential-report", "Credential report"),
    ("/console/access-analyzer", "Access Analyzer"),
    ("/console/simulator", "Policy simulator"),
    ("/console/sessions", "Sessions"),
    ("/console/activity", "Activity"),
    ("/console/switch-role", "Switch role"),
];

/// The page's frame. `who` is the signed-in principal (`None` before sign-in): with it, the
/// navigation, the identity (and role colour) and the "Sign out" form.
pub(crate) fn page(title: &str, who: Option<&Who<'_>>, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 2048);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} - Tessera IAM</title><style>{STYLE}</style></head><body>",
        esc(title)
    );
    if let Some(who) = who {
        out.push_str("<header><nav aria-label=\"Console\">");
        for (href, label) in NAV {
            let _ = write!(out, "<a href=\"{href}\">{label}</a> ");
        }
        out.push_str("</nav>");
        if let Some((display, colour_name, user)) = who.role {
            let _ = write!(
                out,
                "<span class=\"role\" id=\"role-display\" data-colour=\"{}\" style=\"background:{}\">{}</span>\
                 <form method=\"post\" action=\"/console/switch-role/back\">{}<button type=\"submit\">Back to {}</button></form>",
                esc(colour_name),
                colour(colour_name),
                esc(display),
                csrf_field(who.csrf),
                esc(user)
            );
        }
        let _ = write!(
            out,
            "<span class=\"who\" id=\"identity\">{}</span>\
             <form method=\"post\" action=\"/console/signout\">{}<button type=\"submit\">Sign out</button></form>\
             </header>",
            esc(who.arn),
            csrf_field(who.csrf)
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
.role{padding:.2rem .6rem;border-radius:3px;color:#fff;font-weight:bold}\
textarea{display:block;width:100%;min-height:16rem;font-family:monospace}select{display:block;padding:.3rem}\
.finding{border-left:4px solid #8d6605;padding:.2rem .6rem;margin:.3rem 0}.finding.error{border-color:#d13212}\
.ok{color:#037f0c}.warn{color:#8d6605}.secret{font-family:monospace;background:#f2f3f3;padding:.2rem}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(esc("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
        let page = page("<t>", Some(&Who { arn: "arn\"", csrf: "c<", role: None }), "");
        assert!(!page.contains("<t>") && !page.contains("arn\"<") && page.contains("value=\"c&lt;\""));
    }
}
